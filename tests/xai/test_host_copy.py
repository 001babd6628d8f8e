"""`HostCopier`: partial maps reach the host through a pinned buffer, one report late on
CUDA, as numpy arrays of their own, and the engine's partial path never waits on the
device (issue 25). CUDA is stood in for on CPU by `RecordingTransfers`, which logs
what the copier asks of it; tests/xai/test_cuda.py runs the real thing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thulium_desktop.io.bundled import bundled_path
from thulium_desktop.io.images import load_image
from thulium_desktop.models import load_model
from thulium_desktop.xai import host_copy
from thulium_desktop.xai.host_copy import HostCopier, MapBlocks
from thulium_desktop.xai.saliency import Run, SaliencyConfig, SaliencyGenerator


class RecordedEvent:
    def __init__(self, log: list, number: int) -> None:
        self.log, self.number = log, number

    def synchronize(self) -> None:
        self.log.append(("wait", self.number))


class RecordingTransfers:
    """CUDA's part of the copies, on CPU: plain memory for the pinned buffer, and events
    that log when they are recorded and waited for."""

    def __init__(self, log: list) -> None:
        self.log = log
        self.buffers = 0
        self.events = 0

    def pinned(self, shape: tuple[int, ...]) -> torch.Tensor:
        self.buffers += 1
        return torch.empty(shape, dtype=torch.float32)

    def recorded_event(self) -> RecordedEvent:
        self.events += 1
        self.log.append(("record", self.events))
        return RecordedEvent(self.log, self.events)


def in_blocks(maps: torch.Tensor, rows: int = 2) -> MapBlocks:
    return MapBlocks(tuple(maps.shape), ((s, maps[s : s + rows]) for s in range(0, len(maps), rows)))


def stacks(count: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [torch.rand(5, 3, 4, generator=generator) for _ in range(count)]


@pytest.fixture
def cuda(monkeypatch) -> RecordingTransfers:
    """A stand-in CUDA for every device, logging the copier's calls (and any synchronise)."""
    transfers = RecordingTransfers([])
    monkeypatch.setattr(host_copy, "device_transfers", lambda device: transfers)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a, **k: transfers.log.append(("synchronize",)))
    return transfers


def test_on_the_cpu_each_map_is_handed_over_at_once_as_its_own_array():
    delivered = []
    copier = HostCopier(torch.device("cpu"), lambda maps, done: delivered.append((maps, done)))
    first, second = stacks(2)
    copier.hand_over(in_blocks(first), 1)
    assert len(delivered) == 1
    copier.hand_over(in_blocks(second), 2)
    assert [done for _, done in delivered] == [1, 2]
    for (maps, _), source in zip(delivered, (first, second)):
        assert type(maps) is np.ndarray and maps.dtype == np.float32
        np.testing.assert_array_equal(maps, source.numpy())
    np.testing.assert_array_equal(copier.now(in_blocks(first)), first.numpy())


def test_with_cuda_a_map_is_handed_over_at_the_next_report_once_its_copy_has_landed(cuda):
    log = cuda.log
    delivered = []
    copier = HostCopier(torch.device("cpu"), lambda maps, done: (log.append(("deliver", done)), delivered.append(maps)))
    maps = stacks(4)
    for done, stack in enumerate(maps[:3], start=1):
        copier.hand_over(in_blocks(stack), done)
    final = copier.now(in_blocks(maps[3]))
    assert log == [("record", 1),
                   ("wait", 1), ("record", 2), ("deliver", 1),
                   ("wait", 2), ("record", 3), ("deliver", 2),
                   ("record", 4), ("wait", 4)]  # the third is superseded by the result
    assert cuda.buffers == 1  # one pinned buffer, reused
    for got, source in zip(delivered, maps):  # each still intact: copied out, never a view of the buffer
        assert type(got) is np.ndarray
        np.testing.assert_array_equal(got, source.numpy())
    np.testing.assert_array_equal(final, maps[3].numpy())


def test_with_cuda_a_larger_map_gets_a_larger_buffer(cuda):
    copier = HostCopier(torch.device("cpu"), lambda maps: None)
    small, large = torch.ones(2, 3, 4), torch.rand(6, 3, 4)
    copier.hand_over(in_blocks(small))
    np.testing.assert_array_equal(copier.now(in_blocks(large)), large.numpy())
    np.testing.assert_array_equal(copier.now(in_blocks(small)), small.numpy())
    assert cuda.buffers == 2


@pytest.fixture(scope="module")
def hello() -> np.ndarray:
    return load_image(bundled_path("samples", "hello.png"))


#: Four chunks of two noisy copies each: three partial maps on the plain path.
STREAMED = SaliencyConfig(method="smoothgrad", num_samples=8, batch_size=2)


def streamed(image: np.ndarray, log: list | None = None):
    """A streamed explanation and its partial maps `(maps, done)`, logging each chunk and
    each hand-over in `log`."""
    partials = []

    def on_partial(maps, done, total):
        partials.append((maps, done))
        if log is not None:
            log.append(("partial", done))

    def on_progress(done, total):
        if log is not None:
            log.append(("chunk", done))

    exp = SaliencyGenerator(load_model("ctc-reader"), STREAMED).explain(image, on_partial=on_partial,
                                                                         on_progress=on_progress)
    return exp, partials


def test_the_engine_hands_over_the_plain_paths_partial_maps_one_chunk_late(hello, cuda):
    with pytest.MonkeyPatch.context() as plain_path:
        plain_path.setattr(host_copy, "device_transfers", lambda device: None)
        expected, expected_partials = streamed(hello)
    assert [done for _, done in expected_partials] == [2, 4, 6]
    exp, partials = streamed(hello, cuda.log)
    assert [done for _, done in partials] == [2, 4]  # the last is superseded by the result
    for (maps, _), (plain, _) in zip(partials, expected_partials):
        assert type(maps) is np.ndarray  # the GUI thread never gets a tensor
        np.testing.assert_array_equal(maps, plain)
    np.testing.assert_array_equal(exp.maps, expected.maps)
    assert cuda.buffers == 1


def test_the_engines_partial_path_never_waits_on_the_device(hello, cuda, monkeypatch):
    """Each wait for a partial map's copy comes after the next chunk's passes were
    queued, and nothing else in `Run.report` reads a tensor back to the host (each such
    read is a CUDA synchronise)."""
    log = cuda.log
    reporting = [False]
    report = Run.report

    def watched_report(*args):
        reporting[0] = True
        try:
            report(*args)
        finally:
            reporting[0] = False

    def watched(name):
        read_back = getattr(torch.Tensor, name)

        def read(*args, **kwargs):
            if reporting[0]:
                log.append(("read back", name))
            return read_back(*args, **kwargs)
        return read

    monkeypatch.setattr(Run, "report", watched_report)
    for name in ("cpu", "item", "tolist", "__bool__", "__float__", "__int__"):
        monkeypatch.setattr(torch.Tensor, name, watched(name))
    streamed(hello, log)
    assert log == [("chunk", 1), ("record", 1),
                   ("chunk", 2), ("wait", 1), ("record", 2), ("partial", 2),
                   ("chunk", 3), ("wait", 2), ("record", 3), ("partial", 4),
                   ("chunk", 4), ("record", 4), ("wait", 4)]


@pytest.mark.parametrize("device_transfers", [lambda device: None, lambda device: RecordingTransfers([])],
                         ids=["plain", "cuda"])
def test_non_finite_gradients_are_refused_before_any_partial_map_is_handed_over(hello, monkeypatch, device_transfers):
    """The check runs on the host copy (on the device it would be a synchronise): on
    CUDA one report later, but still before the GUI sees anything."""
    monkeypatch.setattr(host_copy, "device_transfers", device_transfers)
    model = load_model("ctc-reader")
    reading = SaliencyGenerator(model).read(hello)
    with torch.no_grad():
        model.module.classify.weight.fill_(float("inf"))  # every score's gradient infinite
    partials = []
    with pytest.raises(FloatingPointError, match="non-finite gradients"):
        SaliencyGenerator(model, STREAMED).explain(hello, reading=reading,
                                                  on_partial=lambda maps, done, total: partials.append(done))
    assert partials == []


def test_a_finished_runs_copier_and_its_buffer_are_freed_without_the_cyclic_collector(hello, cuda, monkeypatch):
    """The copier holds no reference back to its run: a run, and on CUDA its pinned
    buffer of up to hundreds of MB, is freed as soon as the explanation is made, not
    whenever the cyclic collector next runs (in the app, rarely: page-locked memory
    piled up)."""
    import gc
    import weakref

    copiers = []
    made = HostCopier.__init__

    def kept(self, *args, **kwargs):
        made(self, *args, **kwargs)
        copiers.append(weakref.ref(self))

    monkeypatch.setattr(HostCopier, "__init__", kept)
    gc.disable()
    try:
        streamed(hello, cuda.log)
        assert copiers and all(ref() is None for ref in copiers)
    finally:
        gc.enable()
