"""The GradCAM layer chooser on a bundled model: the layers GradCAM can use, each with
its output shape and the head it feeds, the default first, every layer by name after a
separator; picking one recomputes with it."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from gui_helpers import WAIT_MS, open_settled, sample_copy

from thulium_desktop.app.layer_choices import layer_choices
from thulium_desktop.models import load_model
from thulium_desktop.models.layers import cam_layers, layer_names
from thulium_desktop.xai.spec import MethodSpec


@pytest.fixture
def models():
    """The window reads with the bundled ctc-reader (overrides the tiny CRNN)."""
    return partial(load_model, "ctc-reader")


def _entries(combo) -> list[tuple[str, object]]:
    return [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())]


def test_the_chooser_lists_the_feature_maps_with_their_shapes_default_first(qtbot, make_window, tmp_path):
    window = make_window()
    open_settled(qtbot, window, [sample_copy(tmp_path, "hello.png")])
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel._buttons["gradcam"].click()
    reader = load_model("ctc-reader")
    candidates = cam_layers(reader.module, reader.height)
    default = reader.default_cam()
    entries = _entries(window.panel.layer)

    shape = "×".join(map(str, default.shape[1:]))
    assert entries[0] == (f"default: {default.name} — {shape} (before the BiLSTM)", None)
    others = [c for c in candidates if c.name != default.name]
    assert len(others) >= 3
    for (text, data), layer in zip(entries[1 : 1 + len(others)], others, strict=True):
        assert data == layer.name and text.startswith(f"{layer.name} — {'×'.join(map(str, layer.shape[1:]))}")
    separator = 1 + len(others)
    assert entries[separator] == ("", None)
    assert [data for _, data in entries[separator + 1 :]] == layer_names(reader.module)  # for experts

    default_map = window.canvas.view.map.copy()
    with qtbot.waitSignal(window.settled, timeout=WAIT_MS):
        window.panel.layer.setCurrentIndex(1)
    spec = MethodSpec.build("gradcam", {"layer": others[0].name})
    assert window.view_model.results[spec].params["layer"] == others[0].name
    assert not np.allclose(window.canvas.view.map, default_map)


def test_a_reader_whose_forward_needs_its_decoder_is_probed_through_a_reading():
    """The attention reader's module cannot run on an image alone: its GradCAM layer's
    shape comes from a reading of a blank line, and its decoder is named as the head."""
    choices, default = layer_choices(load_model("attention-reader"))
    assert default == "encoder.features"
    (shaped,) = [c for c in choices if c.shape is not None]
    assert shaped.name == "encoder.features" and shaped.shape[2] == 4
    assert shaped.label == f"encoder.features — {shaped.shape[1]}×4×{shaped.shape[3]} ({shaped.note})"
    assert shaped.note.startswith("before the ")
