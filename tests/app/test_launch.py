"""Starting the app from the command line, including the scripted screenshot mode."""

from __future__ import annotations

import time

import cv2
import pytest
from PySide6.QtCore import QSettings

from thulium_desktop import app as app_package
from thulium_desktop.app import launch
from thulium_desktop.app.launch import build_parser, run_app


@pytest.fixture
def user_settings(tmp_path, monkeypatch):
    """Keep QSettings() away from the real user's configuration."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "config"))
    return tmp_path / "config"


def test_screenshot_mode_waits_for_the_map_saves_the_window_and_exits_0(
    qapp, tmp_path, user_settings, models, word_image
):
    image_path = tmp_path / "word.png"
    cv2.imwrite(str(image_path), word_image)
    out = tmp_path / "shot.png"
    args = build_parser().parse_args([str(image_path), "--method", "gradient", "--token", "2",
                                      "--screenshot", str(out)])
    assert run_app(args, models) == 0
    shot = cv2.imread(str(out))
    assert shot is not None and shot.shape[0] > 300 and shot.shape[1] > 600
    assert shot.std() > 10  # a real window, not a blank grab
    saved = QSettings()
    assert saved.value("method") == "gradient"
    # launchers match the window to resources/desktop/thulium-desktop.desktop by this name
    assert qapp.desktopFileName() == "thulium-desktop" and not qapp.windowIcon().isNull()


def test_the_screenshot_timeout_dies_with_its_window(
    qapp, qtbot, tmp_path, user_settings, models, word_image, monkeypatch, capsys
):
    """The timeout must not fire after a screenshot succeeded: it did, into the deleted
    window, in whatever test ran next."""
    monkeypatch.setattr(launch, "SCREENSHOT_TIMEOUT_S", 3)
    image_path = tmp_path / "word.png"
    cv2.imwrite(str(image_path), word_image)
    args = build_parser().parse_args([str(image_path), "--screenshot", str(tmp_path / "shot.png")])
    started = time.monotonic()
    if run_app(args, models) != 0:
        pytest.skip("this machine took longer than the shortened timeout to draw the map")
    qtbot.wait(int((3.5 - (time.monotonic() - started)) * 1000) + 1)
    assert "timed out" not in capsys.readouterr().err


def test_screenshot_mode_exits_1_when_there_is_no_readable_image(qapp, tmp_path, user_settings, models, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    for paths in ([str(bad)], []):
        args = build_parser().parse_args([*paths, "--screenshot", str(tmp_path / "shot.png")])
        assert run_app(args, models) == 1
        assert not (tmp_path / "shot.png").exists()
    assert "bad.png" in capsys.readouterr().err


def test_the_parser_knows_every_method_and_rejects_others():
    assert build_parser().parse_args(["--method", "smoothgrad_sq"]).method == "smoothgrad_sq"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--method", "lime"])
    assert build_parser().parse_args(["a.png", "b"]).paths == ["a.png", "b"]


def test_main_opens_the_samples_on_the_named_model_when_no_path_is_given(
    qapp, tmp_path, user_settings, models, word_image, monkeypatch
):
    samples = tmp_path / "samples"
    samples.mkdir()
    cv2.imwrite(str(samples / "first.png"), word_image)
    asked: list[str | None] = []
    monkeypatch.setattr(launch, "SAMPLES_DIR", samples)
    monkeypatch.setattr("thulium_desktop.models.user_models.load_model", lambda name=None: asked.append(name) or models())
    out = tmp_path / "shot.png"
    assert app_package.main(["--model", "some-reader", "--screenshot", str(out)]) == 0
    assert asked == ["some-reader"]
    assert cv2.imread(str(out)) is not None
    assert QSettings().value("files/recent") in (str((samples / "first.png").resolve()),
                                                 [str((samples / "first.png").resolve())])
