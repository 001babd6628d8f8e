"""A model warmed up on load (`xai.warm.warm_up`, issue 24) does its one-off work before the
user's first click: the first explanation of a line then runs the model as a steady one
does, and gives the same maps. (How much time that saves is `benchmarks/first_call.py`'s
business: no timings here.)"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from thulium_desktop.io import load_image
from thulium_desktop.io.bundled import bundled_path
from thulium_desktop.models import load_model
from thulium_desktop.xai.saliency import Cancelled, MapNote, SaliencyGenerator
from thulium_desktop.xai.warm import WARM_METHODS, warm_up


@pytest.fixture(scope="module")
def line():
    """Not the probe line (hello.png): a line of another width the warm-up never saw."""
    return load_image(bundled_path("samples", "question.png"))


def _forwards_of_gradient(engine: SaliencyGenerator, image: np.ndarray) -> int:
    """How many times explaining every character's gradient runs the model's network."""
    calls = []
    handle = engine.model.module.register_forward_hook(lambda *_: calls.append(1))
    try:
        engine.explain(image, method="gradient", tokens="all")
    finally:
        handle.remove()
    return len(calls)


def test_a_warmed_models_first_call_runs_the_network_once(line):
    """Cold, the first call also checks the batched head against the plain pass (one more
    forward, and its backward); warmed on the probe line, that check is done, and the first
    call reads and scores the user's line in one forward."""
    cold = SaliencyGenerator(load_model("ctc-reader"))
    assert _forwards_of_gradient(cold, line) == 2
    warmed = SaliencyGenerator(load_model("ctc-reader"))
    done = warm_up(warmed)
    assert done is not None and done.methods == WARM_METHODS and done.characters == len("hello")
    assert _forwards_of_gradient(warmed, line) == 1


def test_a_warm_up_changes_no_map(line):
    warmed = SaliencyGenerator(load_model("ctc-reader"))
    warm_up(warmed)
    for method in ("gradient", "integrated"):
        expected = SaliencyGenerator(load_model("ctc-reader")).explain(line, method=method, tokens="all")
        got = warmed.explain(line, method=method, tokens="all")
        assert got.reading.text == expected.reading.text
        np.testing.assert_allclose(got.maps, expected.maps, rtol=1e-5, atol=1e-6)


def test_a_model_that_cannot_explain_the_probe_is_still_loaded_and_explains(line, caplog):
    """A probe the engine refuses (a strip far wider than any line) is no error: the
    warm-up says it did nothing, logs why, and the model explains as before."""
    engine = SaliencyGenerator(load_model("ctc-reader"))
    strip = np.full((1, 500), 255, np.uint8)
    with caplog.at_level("INFO", logger="thulium_desktop.xai.warm"):
        assert warm_up(engine, image=strip) is None
    assert "no warm-up for ctc-reader: ValueError" in caplog.text
    assert engine.explain(line, method="gradient", tokens="all").maps.shape[0] == len(engine.read(line))


def test_a_cancelled_warm_up_stops_as_an_explanation_does():
    """The app cancels a load; its warm-up must stop with it, not be swallowed."""
    engine = SaliencyGenerator(load_model("ctc-reader"))
    with pytest.raises(Cancelled):
        warm_up(engine, cancel=lambda: True)


def test_notes_on_the_probes_maps_are_not_issued_but_the_users_are(line):
    """The ctc-reader's GradCAM layer feeds its BiLSTM, so every GradCAM map of it carries
    a note: not the probe's (nobody asked for it), yet the user's line's, after it."""
    engine = SaliencyGenerator(load_model("ctc-reader"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert warm_up(engine, methods=("gradcam",)) is not None
        assert not [w for w in caught if w.category is MapNote]
        notes = engine.explain(line, method="gradcam", tokens="all").notes
    assert notes and [str(w.message) for w in caught if w.category is MapNote] == list(notes)
