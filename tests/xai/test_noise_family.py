"""The SmoothGrad family computed together: one set of noisy copies, one pass per chunk,
the same maps as each method alone; and a line's selected character computed first."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from thulium_desktop.io.bundled import bundled_path
from thulium_desktop.io.images import load_image
from thulium_desktop.models import load_model
from thulium_desktop.xai.saliency import NOISE_FAMILY, MapNote, SaliencyConfig, SaliencyGenerator

#: Three chunks of three noisy copies; no folded copy, so hooks on the model see every pass.
NOISY = SaliencyConfig(num_samples=9, batch_size=3, fold_batchnorm=False, seed=7)


@pytest.fixture(scope="module")
def reader():
    return load_model("ctc-reader")


@pytest.fixture(scope="module")
def line() -> np.ndarray:
    return load_image(bundled_path("samples", "recognition.png"))


@pytest.fixture(autouse=True)
def quiet_notes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MapNote)
        yield


class Passes:
    """Counts the forward and backward passes through a module (its own hooks, removed after)."""

    def __init__(self, module) -> None:
        self.forward = self.backward = 0
        self._hooks = [module.register_forward_pre_hook(self._forward),
                       module.register_full_backward_hook(self._backward)]

    def _forward(self, *_) -> None:
        self.forward += 1

    def _backward(self, *_) -> None:
        self.backward += 1

    def remove(self) -> None:
        for hook in self._hooks:
            hook.remove()


@pytest.mark.parametrize("tokens", ["all", [3, 0]])
def test_shared_maps_equal_each_method_alone_with_the_same_noise(reader, line, tokens):
    generator = SaliencyGenerator(reader, NOISY)
    shared = generator.explain_noise_family(line, tokens=tokens)
    assert list(shared) == list(NOISE_FAMILY)
    for method, exp in shared.items():
        alone = generator.explain(line, method=method, tokens=tokens)
        assert exp.method == method and exp.params == alone.params and exp.signed == alone.signed
        assert exp.tokens == alone.tokens and exp.token_indices == alone.token_indices
        np.testing.assert_allclose(exp.maps, alone.maps, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(exp.scores, alone.scores, rtol=1e-6)
    # the three maps really differ: each is derived from the moments its own way
    assert not np.allclose(shared["smoothgrad"].maps, shared["vargrad"].maps)


def test_another_seed_changes_the_shared_maps(reader, line):
    generator = SaliencyGenerator(reader, NOISY)
    seven = generator.explain_noise_family(line, ["vargrad"])["vargrad"]
    eight = generator.explain_noise_family(line, ["vargrad"], config=SaliencyConfig(
        num_samples=9, batch_size=3, fold_batchnorm=False, seed=8))["vargrad"]
    assert not np.allclose(seven.maps, eight.maps)


def test_the_shared_family_makes_one_pass_set_instead_of_three(reader, line):
    generator = SaliencyGenerator(reader, NOISY)
    passes = Passes(reader.module)
    try:
        chunks_alone: list[tuple[int, int]] = []
        for method in NOISE_FAMILY:
            generator.explain(line, method=method, tokens=[2], on_progress=lambda *p: chunks_alone.append(p))
        alone = (passes.forward, passes.backward)
        passes.forward = passes.backward = 0
        chunks_shared: list[tuple[int, int]] = []
        generator.explain_noise_family(line, tokens=[2], on_progress=lambda *p: chunks_shared.append(p))
        shared = (passes.forward, passes.backward)
    finally:
        passes.remove()
    # per method: a forward to read, one per chunk, one to score the image; a backward per chunk
    assert alone == (3 * (1 + 3 + 1), 3 * 3)
    assert shared == (1 + 3 + 1, 3)
    assert chunks_shared == [(1, 3), (2, 3), (3, 3)]
    assert chunks_alone == chunks_shared * 3


def test_only_the_family_is_computed_together(reader, line):
    with pytest.raises(ValueError, match="explain_noise_family computes smoothgrad"):
        SaliencyGenerator(reader).explain_noise_family(line, ["smoothgrad", "integrated"])


@pytest.mark.parametrize("method", ["gradient", "integrated", "smoothgrad"])
def test_selected_first_gives_the_maps_of_all_at_once_with_the_selected_one_first(reader, line, method):
    config = SaliencyConfig(method=method, num_steps=8, num_samples=6, batch_size=3, tolerance=0.0)
    generator = SaliencyGenerator(reader, config)
    whole = generator.explain(line, tokens="all")
    first_posted: list[np.ndarray] = []
    refining: list[tuple[int, int]] = []
    ordered = generator.explain_selected_first(
        line, 4, on_first=lambda maps, done, total: first_posted.append(maps.copy()),
        on_partial=lambda maps, done, total: refining.append((done, total)))
    assert len(first_posted) == 1
    missing = np.isnan(first_posted[0]).all(axis=(1, 2))
    assert not missing[4] and missing.sum() == len(whole.tokens) - 1, "only the selected map is posted first"
    np.testing.assert_allclose(first_posted[0][4], whole.maps[4], rtol=1e-4, atol=1e-5)
    assert ordered.tokens == whole.tokens and ordered.token_indices == whole.token_indices
    np.testing.assert_allclose(ordered.maps, whole.maps, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ordered.scores, whole.scores, rtol=1e-5)
    if method == "integrated":
        np.testing.assert_allclose(ordered.deltas, whole.deltas, rtol=1e-3, atol=1e-4)
        assert list(ordered.steps) == list(whole.steps)
    if refining:  # streamed: the selected map's chunks, then the others' counted on from there
        dones = [done for done, _ in refining]
        assert dones == sorted(dones) and refining[-1][0] < refining[-1][1]


def test_selected_first_refuses_a_character_not_read(reader, line):
    generator = SaliencyGenerator(reader)
    count = len(generator.read(line))
    with pytest.raises(ValueError, match=f"token index {count} is out of range"):
        generator.explain_selected_first(line, count, on_first=lambda *_: None)
