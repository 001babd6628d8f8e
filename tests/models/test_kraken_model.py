"""kraken's own model files read as `kraken.rpred` reads them (needs the `[kraken]` extra;
without kraken only the install message is tested)."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from thulium_desktop.models.errors import ModelLoadError
from thulium_desktop.models.kraken_model import open_kraken_model

DATA = Path(__file__).resolve().parents[1] / "data" / "kraken"
TRAINED = DATA / "tiny-latin.mlmodel"


def _make_lines():
    """tests/data/kraken/make_lines.py: the generator the trained model learnt from."""
    spec = importlib.util.spec_from_file_location("make_lines", DATA / "make_lines.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def kraken():
    return pytest.importorskip("kraken")


@pytest.fixture(scope="module")
def lines(tmp_path_factory) -> list[tuple[Path, str]]:
    """Synthetic lines the trained model never saw (another seed), with their truths."""
    folder = tmp_path_factory.mktemp("kraken-lines")
    _make_lines().write_lines(folder, 6, seed=2026)
    return [(p, p.with_suffix("").with_suffix(".gt.txt").read_text(encoding="utf-8").strip())
            for p in sorted(folder.glob("*.png"))]


def rpred_text(network: nn.Module, path: Path) -> str:
    """What `kraken.rpred` reads on the whole image as one line box."""
    from kraken.containers import BBoxLine, Segmentation
    from kraken.lib.models import TorchSeqRecognizer
    from kraken.rpred import rpred
    from PIL import Image

    image = Image.open(path)
    segmentation = Segmentation(type="bbox", imagename=str(path), text_direction="horizontal-lr",
                                script_detection=False,
                                lines=[BBoxLine(id="line", bbox=(0, 0, image.width, image.height))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kraken warns that the model has no segmentation type
        return next(rpred(TorchSeqRecognizer(network), image, segmentation)).prediction


def our_reading(recognizer, path: Path):
    return recognizer.read(recognizer.prepare(cv2.imread(str(path), cv2.IMREAD_UNCHANGED)).tensor)


def small_network(codec_chars: str | dict, seed: int = 0):
    """An untrained VGSL line network built with kraken's own API."""
    from kraken.lib.codec import PytorchCodec
    from kraken.lib.vgsl import TorchVGSLModel

    torch.manual_seed(seed)
    codec = PytorchCodec(codec_chars)
    return TorchVGSLModel(vgsl=f"[1,48,0,1 Cr3,3,16 Mp2,2 S1(1x0)1,3 Lbx32 O1c{codec.max_label + 1}]",
                          codec=codec.c2l, model_type=["recognition"])


# -- without kraken --------------------------------------------------------------------
def test_a_kraken_file_without_kraken_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "kraken.models", None)  # importing it raises ImportError
    with pytest.raises(ModelLoadError) as caught:
        open_kraken_model(TRAINED)
    message = str(caught.value)
    assert "\n" not in message
    assert "pip install 'thulium-desktop[kraken]'" in message
    assert TRAINED.name in message


# -- kraken's formats, parity with rpred ---------------------------------------------------
@pytest.mark.parametrize("suffix", [".mlmodel", ".safetensors"])
def test_both_kraken_formats_read_as_rpred_reads(kraken, lines, tmp_path, suffix):
    from kraken.models import write_models

    network = small_network("abcdehlmnorstu ")
    path = write_models([network], tmp_path / f"small{suffix}")
    recognizer = open_kraken_model(path)
    for image, _ in lines:
        assert our_reading(recognizer, image).text == rpred_text(recognizer.network, image)


def test_the_trained_model_reads_real_text_as_rpred_does(kraken, lines):
    recognizer = open_kraken_model(TRAINED)
    readings = [our_reading(recognizer, image).text for image, _ in lines]
    assert readings == [rpred_text(recognizer.network, image) for image, _ in lines]
    assert all(readings)
    assert sum(r == truth for r, (_, truth) in zip(readings, lines)) >= len(lines) // 2


def test_a_file_kraken_cannot_read_is_one_line(kraken, tmp_path):
    bad = tmp_path / "broken.mlmodel"
    bad.write_bytes(b"not a protobuf at all")
    with pytest.raises(ModelLoadError, match="broken.mlmodel") as caught:
        open_kraken_model(bad)
    assert "\n" not in str(caught.value)


# -- the codec and the direction (planned outputs through kraken's own network object) ------
class PlannedLabels(nn.Module):
    """Stands in for kraken's layer stack: spreads a planned label sequence over the frames
    (one per 4 columns), as logits kraken's softmax and greedy decoder read unambiguously."""

    def __init__(self, labels: list[int], classes: int) -> None:
        super().__init__()
        self.labels, self.classes = labels, classes
        self.scale = nn.Parameter(torch.tensor(8.0))

    def forward(self, x, seq_lens=None):
        frames = x.shape[-1] // 4
        plan = torch.tensor([self.labels[f * len(self.labels) // frames] for f in range(frames)])
        logits = nn.functional.one_hot(plan, self.classes).float() * self.scale
        logits = logits + 0 * x.mean()  # keeps the graph to the input
        return logits.T[None, :, None, :].expand(x.shape[0], -1, -1, -1), seq_lens


def planned(network, labels: list[int]):
    network.nn = PlannedLabels(labels, network.codec.max_label + 1)
    return network


def test_codec_entries_are_tokens_both_ways(kraken, lines):
    # label 1 stands for two characters, labels 3 then 4 for one character together
    network = planned(small_network({"ch": [1], "a": [2], "é": [3, 4]}), [0, 1, 0, 2, 0, 3, 4, 0, 2, 0])
    recognizer = open_kraken_model_of(network)
    image, _ = lines[0]
    reading = our_reading(recognizer, image)
    assert reading.tokens == ("ch", "a", "é", "a")
    assert reading.text == rpred_text(network, image)
    x = recognizer.prepare(cv2.imread(str(image))).tensor
    scores = recognizer.token_scores(x, reading, score="logit")[0]
    # every frame of a token's labels adds the planned logit: "é" counts both its labels' runs
    frames = torch.tensor([stop - start for start, stop in reading.spans], dtype=scores.dtype)
    torch.testing.assert_close(scores, 8.0 * frames)


def test_a_right_to_left_line_reads_in_logical_order(kraken, lines):
    # display order, left to right: tav, shin, alef (the word "אשת" written right to left)
    network = planned(small_network("אשת"), [0, 3, 0, 2, 0, 1, 0])
    recognizer = open_kraken_model_of(network)
    image, _ = lines[0]
    reading = our_reading(recognizer, image)
    assert reading.text == rpred_text(network, image) == "אשת"
    assert reading.extra["right_to_left"] is True
    starts = [span[0] for span in reading.spans]
    assert starts == sorted(starts, reverse=True)  # the first character is the rightmost


def open_kraken_model_of(network):
    """A recognizer over a network object (what `open_kraken_model` builds from a file)."""
    from thulium_desktop.models.kraken_model import KrakenRecognizer

    return KrakenRecognizer(network, name="planned")


# -- explanations ------------------------------------------------------------------------
def test_gradient_maps_of_the_trained_model_cover_the_image(kraken, lines):
    from thulium_desktop.xai.saliency import SaliencyGenerator

    recognizer = open_kraken_model(TRAINED)
    image = cv2.imread(str(lines[0][0]), cv2.IMREAD_GRAYSCALE)
    explanation = SaliencyGenerator(recognizer).explain(image, "gradient")
    maps = np.asarray(explanation.maps)
    assert maps.shape[1:] == image.shape
    assert np.isfinite(maps).all() and np.abs(maps).max() > 0
    assert len(maps) == len(explanation.tokens) > 0


def test_maps_go_back_to_the_image_columns_they_came_from(kraken, lines):
    recognizer = open_kraken_model(TRAINED)
    image = cv2.imread(str(lines[0][0]), cv2.IMREAD_GRAYSCALE)
    prepared = recognizer.prepare(image)
    height, width = image.shape
    left_half = np.zeros((height, width), np.float32)
    left_half[:, : width // 2] = 1
    on_model = prepared.from_image(left_half)
    _, left, _, content_width = prepared.content
    assert prepared.tensor[..., :left].min() == 1  # paper is near 1, as the engine takes it
    columns = on_model.amax(dim=0)
    middle = left + content_width // 2
    assert columns[:left].max() == 0 and columns[left + content_width:].max() == 0  # kraken's padding
    assert columns[left + 1: middle - 1].min() > 0.99 and columns[middle + 1:].max() == 0
    back = prepared.to_image(on_model)
    assert back.shape == (height, width)
    assert back[height // 2, 1: width // 2 - 1].min() > 0.99 and back[:, width // 2 + 1:].max() == 0


def test_a_kraken_model_file_opens_through_the_one_door_or_says_what_to_install():
    """`.mlmodel` is a model format of the app and the CLI: opened by kraken's loader
    where kraken is installed, else refused in one line naming the install."""
    from thulium_desktop.models import ModelLoadError, open_described

    path = Path(__file__).resolve().parents[1] / "data" / "kraken" / "tiny-latin.mlmodel"
    try:
        import kraken  # noqa: F401
    except ImportError:
        with pytest.raises(ModelLoadError, match=r"pip install 'thulium-desktop\[kraken\]'"):
            open_described(str(path))
        return
    from thulium_desktop.models.kraken_model import KrakenRecognizer

    assert isinstance(open_described(str(path)).recognizer, KrakenRecognizer)
