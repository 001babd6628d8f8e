"""Headless commands over the same engine as the app: `explain`, `models`, `read`.

`main(argv)` returns the exit code instead of exiting, so tests (and scripts)
can call it in-process: 0 all fine, 1 some inputs failed, 2 usage error, 130
interrupted by Ctrl+C. Problems with inputs or options are one-line messages,
never tracebacks.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from thulium_desktop.cli.errors import INTERRUPTED, USAGE, UsageError
from thulium_desktop.cli.parser import build_parser

COMMANDS = ("explain", "models", "read")


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
    from thulium_desktop.cli.explain import run_explain
    from thulium_desktop.cli.listing import run_models, run_read

    run = {"explain": run_explain, "models": run_models, "read": run_read}[args.command]
    try:
        return run(args)
    except UsageError as exc:
        print(f"thulium-desktop {args.command}: error: {exc}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:  # before or after a batch loop (e.g. while the model loads)
        print(f"thulium-desktop {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
