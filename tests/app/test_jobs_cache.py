"""Job images' keys and the result cache, without Qt."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from thulium_desktop.app.jobs import ResultCache, image_key, report_bytes


def test_image_key_follows_content_not_identity():
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert image_key(a) == image_key(a.copy())
    assert image_key(a) != image_key(a.T.copy())
    assert image_key(a) != image_key(a.astype(np.uint16))
    b = a.copy()
    b[0, 0] = 99
    assert image_key(a) != image_key(b)


def fake_explanation(nbytes: int) -> SimpleNamespace:
    return SimpleNamespace(maps=np.zeros(nbytes // 4, np.float32))


def test_cache_is_bounded_by_bytes_and_evicts_least_recently_used():
    cache = ResultCache(max_bytes=1000)
    for key in "abc":
        cache.put((key,), fake_explanation(400))
    assert len(cache) == 2 and cache.get(("a",)) is None
    assert cache.get(("b",)) is not None  # b is now the most recent
    cache.put(("d",), fake_explanation(400))
    assert cache.get(("c",)) is None and cache.get(("b",)) is not None
    assert cache.nbytes == 800
    cache.put(("huge",), fake_explanation(4000))
    assert cache.get(("huge",)) is None and cache.nbytes == 800
    cache.clear()
    assert len(cache) == 0 and cache.nbytes == 0


def test_trust_reports_are_sized_by_their_curves_and_correlations():
    curves = SimpleNamespace(scores=np.zeros((3, 21)), random_scores=np.zeros((3, 21)))
    sanity = SimpleNamespace(correlations=np.zeros((15, 3)))
    light = SimpleNamespace(diagnostics=[None] * 3, deletion=None, insertion=None, sanity=None)
    full = SimpleNamespace(diagnostics=[None] * 3, deletion=curves, insertion=curves, sanity=sanity)
    assert report_bytes(full) - report_bytes(light) == 4 * 3 * 21 * 8 + 15 * 3 * 8
    cache = ResultCache(max_bytes=2 * report_bytes(full), size_of=report_bytes)
    for key in "abc":
        cache.put((key,), full)
    assert len(cache) == 2 and cache.get(("a",)) is None and cache.nbytes == 2 * report_bytes(full)
