"""One method registry for both faces: a registered method appears in the CLI, the app's
method panel and the engine, and the CLI and the app compute the same maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QRadioButton

from thulium_desktop import cli
from thulium_desktop.app.launch import build_parser
from thulium_desktop.app.method_panel import MethodPanel
from thulium_desktop.app.worker import default_engine, job_config
from thulium_desktop.io.images import load_image
from thulium_desktop.models import open_described
from thulium_desktop.xai.methods import BUILT_IN, REGISTRY, Method, compare_methods, register, unregister
from thulium_desktop.xai.saliency import Attribution, Run, SaliencyGenerator
from thulium_desktop.xai.spec import MethodSpec

HELLO = Path(__file__).resolve().parents[2] / "resources" / "samples" / "hello.png"


def constant_map(run: Run) -> Attribution:
    """The dummy method's compute function: every target's map is the same constant."""
    k = run.targets.weights.shape[0]
    return Attribution(torch.full((k, *run.x.shape[1:]), 0.5, dtype=run.x.dtype), run.scores(run.x)[0])


@pytest.fixture
def dummy():
    """A method the engine does not have, registered for the test and forgotten after it:
    one record and one compute function are all a new method needs."""
    method = Method("dummy", "Dummy", "A constant map per character.", ("num_samples", "normalize"))
    register(method, constant_map)
    yield method
    unregister(method.name)


def test_a_registered_method_reaches_the_cli_the_panel_and_the_engine(dummy, qtbot, capsys, tmp_path,
                                                                       recognizer, word_image):
    assert cli.main(["explain", "--help"]) == 0
    assert ",gradcam,dummy,all}" in capsys.readouterr().out
    assert build_parser().parse_args(["--method", "dummy"]).method == "dummy"

    panel = MethodPanel()
    qtbot.addWidget(panel)
    assert "Dummy" in [button.text() for button in panel.findChildren(QRadioButton)]
    panel.set_method("dummy")
    assert panel.method == "dummy"
    assert panel.num_samples.isVisibleTo(panel) and not panel.num_steps.isVisibleTo(panel)
    assert "dummy" not in compare_methods()

    exp = SaliencyGenerator(recognizer).explain(word_image, method="dummy")
    assert exp.maps.shape == (len(exp.reading), *word_image.shape[:2]) and not exp.signed
    np.testing.assert_array_equal(exp.maps, 1.0)  # normalized to its peak
    assert exp.params["num_samples"] == 25

    out = tmp_path / "out"
    assert cli.main(["explain", str(HELLO), "--method", "dummy", "--format", "npz", "--out", str(out),
                     "--quiet", "--device", "cpu"]) == 0
    with np.load(out / "hello.npz") as npz:
        np.testing.assert_array_equal(npz["dummy"], 1.0)


@pytest.fixture(scope="module")
def app_engine() -> SaliencyGenerator:
    """The engine as the app's worker builds it, over the model the app opens by default."""
    return default_engine(open_described(None).recognizer)


@pytest.mark.parametrize("method", [m.name for m in BUILT_IN])
def test_the_cli_writes_the_maps_the_app_computes(method, app_engine, tmp_path):
    """Default parameters on both faces: `explain --method M` against the app's request
    for M (its spec, through the worker's own config, which streams in chunks)."""
    out = tmp_path / "out"
    assert cli.main(["explain", str(HELLO), "--method", method, "--format", "npz", "--out", str(out),
                     "--quiet", "--device", "cpu"]) == 0
    config = job_config(app_engine.config, MethodSpec.build(method, {}))
    app = app_engine.explain(load_image(HELLO), config=config)
    with np.load(out / "hello.npz") as npz:
        cli_maps = npz[method]
    # The faces may sum a streaming method's copies in other chunks (the worker's are
    # smaller, for partial maps) and take another, equally exact backward (vmap or a
    # loop, `vjp.py`): each of the `copies` additions rounds once (float32 eps relative
    # to the maps' peak, 1 after normalization), plus a few roundings for the backward.
    streams_over = REGISTRY[method].streams_over
    copies = getattr(config, streams_over) if streams_over else 1
    np.testing.assert_allclose(cli_maps, app.maps, rtol=0, atol=(copies + 4) * np.finfo(np.float32).eps)
