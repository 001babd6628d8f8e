"""`SaliencyConfig.streamed`: a streaming method runs in chunks, each a partial map."""

from __future__ import annotations

import pytest

from thulium_desktop.io.bundled import bundled_path
from thulium_desktop.io.images import load_image
from thulium_desktop.models import load_model
from thulium_desktop.xai.config import STREAM_CHUNKS, SaliencyConfig
from thulium_desktop.xai.methods import REGISTRY
from thulium_desktop.xai.saliency import SaliencyGenerator


@pytest.mark.parametrize(("method", "count", "batch"), [("integrated", 50, 7), ("smoothgrad", 25, 4),
                                                        ("vargrad", 3, 1), ("integrated", 8, 1)])
def test_a_streaming_method_is_cut_into_about_stream_chunks(method, count, batch):
    streams_over = REGISTRY[method].streams_over
    config = SaliencyConfig(method=method, **{streams_over: count}).streamed()
    assert config.batch_size == batch
    assert -(-count // batch) <= STREAM_CHUNKS


def test_a_fixed_batch_size_and_a_one_pass_method_are_kept_as_they_are():
    fixed = SaliencyConfig(method="integrated", batch_size=50)
    assert fixed.streamed() is fixed
    gradient = SaliencyConfig(method="gradient")
    assert gradient.streamed() is gradient
    assert SaliencyConfig(method="smoothgrad", num_samples=10).streamed(chunks=2).batch_size == 5
    with pytest.raises(ValueError, match="chunks must be a positive integer"):
        SaliencyConfig(method="smoothgrad").streamed(chunks=0)


def test_a_streamed_explanation_reports_a_partial_map_per_chunk_but_the_last():
    partial = []
    config = SaliencyConfig(method="integrated", num_steps=16, tolerance=0.0).streamed(chunks=4)  # fixed steps
    SaliencyGenerator(load_model("ctc-reader"), config).explain(
        load_image(bundled_path("samples", "hello.png")), on_partial=lambda maps, done, total: partial.append(done))
    assert partial == [4, 8, 12]
