"""Model ▸ Read with the folder's generation settings (issue 22): offered for a TrOCR
folder only; checked, the open image is read as `model.generate` reads it with the
folder's settings, unchecked greedily again, each reading with maps of its own."""

from __future__ import annotations

import pytest
import torch
from gui_helpers import WAIT_MS

pytest.importorskip("transformers", reason="the TrOCR recognizer needs the optional 'hf' extra")

from tiny_trocr import save_tiny_trocr  # noqa: E402

from thulium_desktop.models.trocr import open_trocr  # noqa: E402

#: As fine-tuned checkpoints ship them (as in tests/models/test_trocr_decoding.py).
BEAMS = {"num_beams": 4, "no_repeat_ngram_size": 3, "max_length": 13}


@pytest.fixture(scope="module")
def trocr_folder(tmp_path_factory):
    return save_tiny_trocr(tmp_path_factory.mktemp("menu") / "tiny-trocr", generation=BEAMS)


def generated_ids(folder, image) -> tuple[int, ...]:
    """What the folder's own pipeline reads: `generate` with its generation config."""
    recognizer = open_trocr(folder)
    model = recognizer.module.model
    with torch.no_grad():
        ids = model.generate(pixel_values=recognizer.prepare(image).tensor, generation_config=model.generation_config)
    return tuple(ids[0, 1:].tolist())


def greedy_ids(folder, image) -> tuple[int, ...]:
    recognizer = open_trocr(folder)
    return recognizer.read(recognizer.prepare(image).tensor).extra["token_ids"]


def shown_ids(window) -> tuple[int, ...]:
    return window.view_model.reading.reading.extra["token_ids"]


def toggle_and_settle(qtbot, window, on: bool) -> None:
    """Check or uncheck the action as a user does, and wait for the new reading's maps."""
    action = window.model_flow.folder_decoding_action
    assert action.isChecked() != on
    with qtbot.waitSignal(window.client.models.ready, timeout=WAIT_MS):
        action.trigger()
    view_model = window.view_model
    qtbot.waitUntil(lambda: view_model.reading is not None and view_model.maps_for(view_model.view_spec())[0]
                    is not None, timeout=WAIT_MS)


def test_the_folder_decoding_reads_as_generate_and_back(qtbot, window, trocr_folder, word_image):
    action = window.model_flow.folder_decoding_action
    assert not action.isEnabled()  # the tiny CRNN reads one way only
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.model_flow.open(trocr_folder)
    assert window.client.models.name == "tiny-trocr" and action.isEnabled() and not action.isChecked()
    greedy, generated = greedy_ids(trocr_folder, word_image), generated_ids(trocr_folder, word_image)
    assert greedy != generated  # the settings change the reading: the toggle is visible
    assert shown_ids(window) == greedy

    toggle_and_settle(qtbot, window, True)
    assert window.client.models.name == "tiny-trocr (folder decoding)" and action.isChecked()
    assert shown_ids(window) == generated
    assert window.view_model.reading.reading.extra["decoding"].startswith("the folder's generation settings: ")
    assert "tiny-trocr (folder decoding)" in window.status.model.text()

    toggle_and_settle(qtbot, window, False)
    assert window.client.models.name == "tiny-trocr" and not action.isChecked()
    assert shown_ids(window) == greedy


def test_the_action_is_offered_only_while_a_trocr_folder_is_in_use(qtbot, window, trocr_folder):
    action = window.model_flow.folder_decoding_action
    window.model_flow.fill_menu()
    assert action in window.model_flow.menu.actions()
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.model_flow.open(trocr_folder)
    toggle_and_settle(qtbot, window, True)
    bundled = next(a for a in window.model_flow.menu.actions() if a.data() == "ctc-reader")
    with qtbot.waitSignal(window.client.models.ready, timeout=WAIT_MS):
        bundled.trigger()
    assert window.client.models.name == "ctc-reader"
    assert not action.isEnabled() and not action.isChecked()
