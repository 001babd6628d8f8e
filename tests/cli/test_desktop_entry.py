"""`install-desktop-entry`: the bundled menu entry and icons, and installing them where
freedesktop launchers look, pointing at this installation."""

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import pytest

from thulium_desktop import cli
from thulium_desktop.cli import desktop_entry
from thulium_desktop.io.bundled import bundled_path

ENTRY = Path("applications/thulium-desktop.desktop")
SVG = Path("icons/hicolor/scalable/apps/thulium-desktop.svg")
PNG = Path("icons/hicolor/256x256/apps/thulium-desktop.png")
PNG_SIZE = 256
STRING_ESCAPES = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


@pytest.fixture
def data_home(tmp_path, monkeypatch) -> Path:
    """An empty `$XDG_DATA_HOME`, so `--user` installs into the test's folder."""
    home = tmp_path / "share"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home


@pytest.fixture
def quoted_python(tmp_path, monkeypatch) -> Path:
    """`sys.executable` as a link to this interpreter in a folder whose name holds the
    characters an Exec line must quote or escape (space, $, parentheses, %)."""
    python = tmp_path / "my env $HOME (100%)" / "python"
    python.parent.mkdir()
    python.symlink_to(sys.executable)
    monkeypatch.setattr(sys, "executable", str(python))
    return python


def entry_values(path: Path) -> dict[str, str]:
    """The [Desktop Entry] group as key -> raw value."""
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "[Desktop Entry]"
    return dict(line.split("=", 1) for line in lines[1:] if line and not line.startswith("#"))


def exec_argv(value: str) -> list[str]:
    """What a launcher runs for an Exec value with no files to open, read by the spec
    (not by shlex, whose double quotes keep the backslash of \\$): the string escapes
    undone, then the quoting, then the field codes (%F dropped, %% -> %)."""
    text = re.sub(r"\\([sntr\\])", lambda m: STRING_ESCAPES[m[1]], value)
    args = [
        re.sub(r"\\(.)", r"\1", quoted) if quoted else bare
        for quoted, bare in re.findall(r'"((?:[^"\\]|\\.)*)"|(\S+)', text)
    ]
    return [arg.replace("%%", "%") for arg in args if arg != "%F"]


def validate(path: Path) -> subprocess.CompletedProcess:
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.skip("desktop-file-validate not installed (apt-get install desktop-file-utils)")
    return subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)


def test_user_install_puts_entry_and_icons_where_launchers_look(data_home, capsys):
    assert cli.main(["install-desktop-entry", "--user"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == [f"wrote {data_home / SVG}", f"wrote {data_home / PNG}", f"wrote {data_home / ENTRY}"]
    assert out[3].startswith("the menu entry runs: /")
    assert (data_home / SVG).read_bytes() == bundled_path("desktop", "thulium-desktop.svg").read_bytes()
    assert (data_home / PNG).read_bytes() == bundled_path("desktop", "thulium-desktop.png").read_bytes()
    assert entry_values(data_home / ENTRY)["Icon"] == "thulium-desktop"


def test_installed_entry_starts_this_installation(data_home):
    assert cli.main(["install-desktop-entry", "--user"]) == 0
    values = entry_values(data_home / ENTRY)
    argv = exec_argv(values["Exec"])
    assert values["Exec"].endswith(" %F")  # files chosen in a file manager reach the app
    assert Path(argv[0]).is_absolute() and os.access(argv[0], os.X_OK)
    assert values["TryExec"] == argv[0]
    assert argv in ([str(Path(sys.executable).parent / "thulium-desktop")], [sys.executable, "-m", "thulium_desktop"])


def test_exec_quotes_an_interpreter_path_with_reserved_characters(quoted_python, data_home):
    """A virtualenv without the console script, in a folder whose name needs quoting:
    the Exec line still runs exactly that interpreter on the package."""
    assert cli.main(["install-desktop-entry", "--user"]) == 0
    argv = exec_argv(entry_values(data_home / ENTRY)["Exec"])
    assert argv == [str(quoted_python), "-m", "thulium_desktop"]
    ran = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0 and "install-desktop-entry" in ran.stdout, ran.stderr


@pytest.mark.parametrize("interpreter", ["this one", "in a folder that needs quoting"])
def test_bundled_and_installed_entries_pass_desktop_file_validate(interpreter, data_home, request):
    if interpreter != "this one":
        request.getfixturevalue("quoted_python")
    assert cli.main(["install-desktop-entry", "--user"]) == 0
    for path in (bundled_path("desktop", "thulium-desktop.desktop"), data_home / ENTRY):
        result = validate(path)
        assert (result.returncode, result.stdout + result.stderr) == (0, ""), path


def test_bundled_png_is_a_256_pixel_rgba_image():
    png = cv2.imread(str(bundled_path("desktop", "thulium-desktop.png")), cv2.IMREAD_UNCHANGED)
    assert png is not None and png.shape == (PNG_SIZE, PNG_SIZE, 4)
    assert png[0, 0, 3] == 0 and png[PNG_SIZE // 2, PNG_SIZE // 2, 3] == 255  # transparent corners, opaque tile


def test_bundled_png_is_the_svg_rendered(qapp):
    """The PNG is drawn from the SVG (QSvgRenderer, 256x256, antialiased); re-render it
    after editing the SVG, or launchers that take the PNG show the old icon."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    svg = bundled_path("desktop", "thulium-desktop.svg")
    assert ET.parse(svg).getroot().get("viewBox") == f"0 0 {PNG_SIZE} {PNG_SIZE}"
    renderer = QSvgRenderer(str(svg))
    assert renderer.isValid()
    image = QImage(PNG_SIZE, PNG_SIZE, QImage.Format.Format_RGBA8888_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    rendered = np.frombuffer(image.constBits(), np.uint8).reshape(PNG_SIZE, PNG_SIZE, 4)
    png = cv2.imread(str(bundled_path("desktop", "thulium-desktop.png")), cv2.IMREAD_UNCHANGED)
    png = cv2.cvtColor(png, cv2.COLOR_BGRA2RGBA)
    assert np.abs(rendered.astype(int) - png).mean() < 1.0


def test_running_twice_leaves_the_same_files(data_home, capsys):
    assert cli.main(["install-desktop-entry", "--user"]) == 0
    first = {p: p.read_bytes() for p in data_home.rglob("thulium-desktop.*")}
    assert cli.main(["install-desktop-entry", "--user"]) == 0
    assert {p: p.read_bytes() for p in data_home.rglob("thulium-desktop.*")} == first
    assert not list(data_home.rglob("*.tmp"))
    assert capsys.readouterr().err == ""


def test_xdg_data_home_unset_or_relative_means_local_share(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    for value in (None, "relative/share"):
        if value is None:
            monkeypatch.delenv("XDG_DATA_HOME", raising=False)
        else:
            monkeypatch.setenv("XDG_DATA_HOME", value)
        assert desktop_entry.user_data_dir() == tmp_path / ".local" / "share"
    assert cli.main(["install-desktop-entry", "--user"]) == 0
    assert (tmp_path / ".local" / "share" / ENTRY).is_file()


def test_unwritable_user_folder_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker / "share"))
    assert cli.main(["install-desktop-entry", "--user"]) == 2
    err = capsys.readouterr().err
    target = blocker / "share" / SVG
    assert err == f"thulium-desktop install-desktop-entry: error: cannot write {target}: Not a directory\n"


def test_unwritable_system_folder_suggests_user(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(desktop_entry, "SYSTEM_DATA_DIR", blocker / "share")
    assert cli.main(["install-desktop-entry"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.rstrip().endswith("; to install for your user only, add --user")


@pytest.mark.parametrize("helpers", ["missing", "failing"])
def test_cache_helpers_are_best_effort(helpers, tmp_path, data_home, monkeypatch, capsys):
    """update-desktop-database and gtk-update-icon-cache refresh launchers' caches; a
    system without them, or where they fail, still gets its files and exit code 0."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if helpers == "failing":
        for name in ("update-desktop-database", "gtk-update-icon-cache"):
            (bin_dir / name).write_text("#!/bin/sh\necho 'broken helper' >&2\nexit 3\n")
            (bin_dir / name).chmod(0o755)
        (data_home / "icons" / "hicolor").mkdir(parents=True)
        (data_home / "icons" / "hicolor" / "icon-theme.cache").write_bytes(b"")  # refreshed only if present
    monkeypatch.setenv("PATH", str(bin_dir))
    assert cli.main(["install-desktop-entry", "--user"]) == 0
    assert (data_home / ENTRY).is_file()
    err = capsys.readouterr().err
    if helpers == "failing":
        assert err.splitlines() == [
            "note: update-desktop-database failed (broken helper); the launcher may need a log-in to notice",
            "note: gtk-update-icon-cache failed (broken helper); the launcher may need a log-in to notice",
        ]
    else:
        assert err == ""


def test_help_lists_the_command(capsys):
    assert cli.main(["--help"]) == 0
    assert "install-desktop-entry" in capsys.readouterr().out
