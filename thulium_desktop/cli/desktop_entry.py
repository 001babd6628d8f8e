"""`thulium-desktop install-desktop-entry [--user]`: put the app in Linux launchers.

Freedesktop launchers (GNOME, KDE, XFCE, ...) list the `.desktop` files found under
`<data dir>/applications` and take icons by name from `<data dir>/icons/hicolor`.
The bundled entry says `Exec=thulium-desktop`, which only works when the console
script is on the launcher's PATH; a virtualenv's `bin/` rarely is. The installed
copy therefore names this very interpreter's script (or interpreter) by absolute
path, so the menu item starts the installation that wrote it.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from thulium_desktop.cli.errors import OK, UsageError
from thulium_desktop.io.atomic import write_bytes
from thulium_desktop.io.bundled import APP_ID, bundled_path

#: Where `--user` is not given: the administrator's tree, searched by every launcher
#: (XDG_DATA_DIRS defaults to /usr/local/share:/usr/share) and left alone by apt/dnf.
SYSTEM_DATA_DIR = Path("/usr/local/share")
#: The bundled file name -> where it goes, relative to the data dir; written in this order.
TARGETS = {
    f"{APP_ID}.svg": Path("icons/hicolor/scalable/apps") / f"{APP_ID}.svg",
    f"{APP_ID}.png": Path("icons/hicolor/256x256/apps") / f"{APP_ID}.png",
    f"{APP_ID}.desktop": Path("applications") / f"{APP_ID}.desktop",
}
#: Characters that oblige an Exec argument to be quoted (desktop entry spec, "The Exec key").
_RESERVED = re.compile(r"""[\s"'\\><~|&;$*?#()`]""")
_TOOL_TIMEOUT_S = 60


def run_install_desktop_entry(args: argparse.Namespace) -> int:
    """Write the icons, then the entry (so it never names a missing icon), printing
    each path; then refresh the launcher caches."""
    data_dir = user_data_dir() if args.user else SYSTEM_DATA_DIR
    command = launch_command()
    for name, relative in TARGETS.items():
        target = data_dir / relative
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_bytes(target, _content(name, command))
        except OSError as exc:
            hint = "" if args.user else "; to install for your user only, add --user"
            raise UsageError(f"cannot write {target}: {exc.strerror or exc}{hint}") from exc
        print(f"wrote {target}")
    print(f"the menu entry runs: {shlex.join(command)}")
    _refresh_caches(data_dir)
    return OK


def user_data_dir() -> Path:
    """`$XDG_DATA_HOME`, or `~/.local/share` where it is unset, empty or relative
    (the base-directory spec says a relative value is invalid and must be ignored)."""
    value = os.environ.get("XDG_DATA_HOME", "")
    return Path(value) if os.path.isabs(value) else Path.home() / ".local" / "share"


def launch_command() -> list[str]:
    """How a launcher starts this installation: the console script beside the
    interpreter if pip put one there, else the interpreter with `-m thulium_desktop`.

    The interpreter path is made absolute but not resolved: a virtualenv's `python`
    is a symlink, and only the link (not its target) runs inside the virtualenv.
    """
    python = Path(sys.executable).absolute()
    script = python.parent / APP_ID
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [str(python), "-m", "thulium_desktop"]


def installed_entry(command: list[str]) -> str:
    """The bundled entry with TryExec and Exec pointing at `command` (files still via %F)."""
    text = bundled_path("desktop", f"{APP_ID}.desktop").read_text(encoding="utf-8")
    lines = {
        "TryExec=": _escape_string(command[0]),
        "Exec=": _escape_string(" ".join(_quote_exec_argument(a) for a in command) + " %F"),
    }
    return "".join(_replace_key(line, lines) for line in text.splitlines(keepends=True))


def _replace_key(line: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        if line.startswith(key):
            return f"{key}{value}\n"
    return line


def _quote_exec_argument(argument: str) -> str:
    """One Exec argument: double-quoted (with " ` $ \\ escaped) when it holds a reserved
    character, and every % doubled so a path is never read as a field code."""
    if _RESERVED.search(argument):
        argument = '"' + re.sub(r'(["`$\\])', r"\\\1", argument) + '"'
    return argument.replace("%", "%%")


def _escape_string(value: str) -> str:
    """The spec's escapes for a value of type string, applied before the Exec quoting
    is read back, so a quoted backslash ends up as four in the file."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def _content(name: str, command: list[str]) -> bytes:
    """The bytes to install for a bundled file: icons as shipped, the entry rewritten."""
    if name.endswith(".desktop"):
        return installed_entry(command).encode("utf-8")
    return bundled_path("desktop", name).read_bytes()


def _refresh_caches(data_dir: Path) -> None:
    """Tell launchers about the new entry and icon, where the tools exist.

    update-desktop-database rebuilds the MimeType -> application index ("Open with").
    gtk-update-icon-cache runs only on a cache that already exists: a new cache is
    trusted as complete, so creating one would hide icons other programs add later
    without refreshing it; without a cache, GTK scans the folders itself.
    """
    hicolor = data_dir / "icons" / "hicolor"
    _run_quietly(["update-desktop-database", "--quiet", str(data_dir / "applications")])
    if (hicolor / "icon-theme.cache").is_file():
        _run_quietly(["gtk-update-icon-cache", "--quiet", "--force", "--ignore-theme-index", str(hicolor)])


def _run_quietly(command: list[str]) -> None:
    """Best effort: a missing or failing helper only costs a note; the files are in place."""
    if shutil.which(command[0]) is None:
        return
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=_TOOL_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"note: {command[0]} did not run ({exc}); the launcher may need a log-in to notice", file=sys.stderr)
        return
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
        print(f"note: {command[0]} failed ({reason}); the launcher may need a log-in to notice", file=sys.stderr)
