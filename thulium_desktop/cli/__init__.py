"""Headless commands over the same engine as the app: `explain`, `models`, `read`,
and `install-desktop-entry` (the app in Linux launchers).

`main(argv)` returns the exit code instead of exiting, so tests (and scripts)
can call it in-process: 0 all fine, 1 some inputs failed, 2 usage error, 130
interrupted by Ctrl+C. Problems with inputs or options are one-line messages,
never tracebacks.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from thulium_desktop.cli.errors import INTERRUPTED, USAGE, UsageError
from thulium_desktop.cli.parser import build_parser

#: Each command's runner as (module, function), imported only when that command runs,
#: so what one command imports (explain pulls in the whole engine) never stops another.
_RUNNERS = {
    "explain": ("thulium_desktop.cli.explain", "run_explain"),
    "models": ("thulium_desktop.cli.listing", "run_models"),
    "read": ("thulium_desktop.cli.listing", "run_read"),
    "install-desktop-entry": ("thulium_desktop.cli.desktop_entry", "run_install_desktop_entry"),
}
COMMANDS = tuple(_RUNNERS)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command line (without the program name); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage message (or --help)
        return exc.code if isinstance(exc.code, int) else USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return USAGE
    module, function = _RUNNERS[args.command]
    run = getattr(importlib.import_module(module), function)
    try:
        return run(args)
    except UsageError as exc:
        print(f"thulium-desktop {args.command}: error: {exc}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:  # before or after a batch loop (e.g. while the model loads)
        print(f"thulium-desktop {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
