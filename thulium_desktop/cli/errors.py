"""Exit codes and the one exception that means "the command line itself is wrong"."""

from __future__ import annotations

#: Every input was processed.
OK = 0
#: The run finished but some inputs failed (each reported with its path and reason).
SOME_FAILED = 1
#: The command line cannot be carried out (bad option, unknown model, nothing to do).
USAGE = 2
#: Stopped by Ctrl+C after the current image (the shell's convention, 128 + SIGINT).
INTERRUPTED = 130


class UsageError(Exception):
    """A problem with the command as a whole; printed without a traceback, exit code 2."""
