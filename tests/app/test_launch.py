"""Starting the app from the command line, including the scripted screenshot mode."""

from __future__ import annotations

import time

import cv2
import pytest
from PySide6.QtCore import QSettings

from thulium_desktop import app as app_package
from thulium_desktop.app import launch
from thulium_desktop.app import worker as worker_module
from thulium_desktop.app.launch import build_parser, run_app
from thulium_desktop.app.window import MainWindow
from thulium_desktop.xai.methods import REGISTRY
from thulium_desktop.xai.trust import trust_report


@pytest.fixture
def user_settings(tmp_path, monkeypatch):
    """Keep QSettings() and the engine's verdict cache away from the real user's."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "config"


@pytest.fixture
def at_grab(monkeypatch):
    """What the window showed when screenshot mode grabbed it."""
    seen: dict = {}
    grab = MainWindow.grab

    def noting(window, *args):
        seen.update(method=window.panel.method, report=window.trust.report,
                    trust_busy=window.client.trust.busy, trust_shown=window.trust.isVisible())
        return grab(window, *args)

    monkeypatch.setattr(MainWindow, "grab", noting)
    return seen


def _screenshot_args(tmp_path, word_image, *extra: str):
    image_path = tmp_path / "word.png"
    cv2.imwrite(str(image_path), word_image)
    return build_parser().parse_args([str(image_path), "--screenshot", str(tmp_path / "shot.png"), *extra])


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
    # launchers match the window to resources/desktop/thulium-desktop.desktop by this name
    assert qapp.desktopFileName() == "thulium-desktop" and not qapp.windowIcon().isNull()


def test_a_screenshot_ignores_and_keeps_the_saved_settings_unless_asked(
    qapp, tmp_path, user_settings, models, word_image, at_grab
):
    """A documentation script gets the same window whatever the user did last."""
    saved = QSettings()
    saved.setValue("method", "smoothgrad")
    saved.sync()
    assert run_app(_screenshot_args(tmp_path, word_image), models) == 0
    assert at_grab["method"] == next(iter(REGISTRY))  # the default, not the saved one
    assert QSettings().value("method") == "smoothgrad"  # nor written over
    assert run_app(_screenshot_args(tmp_path, word_image, "--with-settings", "--method", "gradient"), models) == 0
    assert QSettings().value("method") == "gradient"
    assert run_app(_screenshot_args(tmp_path, word_image, "--with-settings"), models) == 0
    assert at_grab["method"] == "gradient"


def test_a_screenshot_waits_for_the_trust_panels_measures(
    qapp, tmp_path, user_settings, models, word_image, at_grab, monkeypatch
):
    """The diagnostics come after the map; slowed here, the shot still shows them."""
    def slow_trust_report(*args, **kwargs):
        time.sleep(0.5)
        return trust_report(*args, **kwargs)

    monkeypatch.setattr(worker_module, "trust_report", slow_trust_report)
    assert run_app(_screenshot_args(tmp_path, word_image, "--method", "gradient"), models) == 0
    assert at_grab["trust_shown"] and at_grab["report"] is not None and not at_grab["trust_busy"]


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
    assert app_package.main(["--model", "some-reader", "--screenshot", str(out), "--with-settings"]) == 0
    assert asked == ["some-reader"]
    assert cv2.imread(str(out)) is not None
    assert QSettings().value("files/recent") in (str((samples / "first.png").resolve()),
                                                 [str((samples / "first.png").resolve())])
