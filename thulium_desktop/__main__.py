"""`thulium-desktop` / `python -m thulium_desktop`: a headless command, or the desktop app.

A first argument naming a command (explain, models, read) or asking for help
runs the CLI; anything else (nothing, or image paths to open) starts the app.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from thulium_desktop import __version__
from thulium_desktop.cli import COMMANDS

_HELP = ("-h", "--help")
_VERSION = ("-V", "--version")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in _VERSION:
        print(f"thulium-desktop {__version__}")
        return 0
    if args and (args[0] in COMMANDS or args[0] in _HELP):
        from thulium_desktop.cli import main as cli_main

        return cli_main(args)
    return _start_app(args)


def _start_app(args: list[str]) -> int:
    """The GUI, imported only now: the headless commands must work without Qt, so an app
    that cannot be imported (Qt or its system libraries missing) is one line, not a
    traceback."""
    try:
        from thulium_desktop.app import main as start
    except ImportError as exc:
        print(
            f"thulium-desktop: cannot start the app ({exc}); "
            f"use a command: {', '.join(COMMANDS)} (see --help)",
            file=sys.stderr,
        )
        return 2
    return start(args)


if __name__ == "__main__":
    sys.exit(main())
