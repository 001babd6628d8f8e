"""Shared fixtures: real rendered word images and small CTC models."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hypothesis import settings

# No wall-clock limits in tests: these machines are shared and noisy, so Hypothesis's
# default 200 ms deadline per example fails under load without any bug.
settings.register_profile("thulium", deadline=None)
settings.load_profile("thulium")

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# One intra-op thread: on the 2-core CI machine more threads than cores make OpenMP
# spin-wait against the Qt event loop and each other (measured: 8x slower under load).
torch.set_num_threads(1)
sys.path.insert(0, str(Path(__file__).parent))

from tiny_models import ALPHABET, tiny_crnn  # noqa: E402
from word_images import render_word  # noqa: E402

from thulium_desktop.models import CTCRecognizer  # noqa: E402


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own `XDG_CACHE_HOME`: the app and the CLI keep the engine's
    strategy verdicts there (`xai.fastest.remembered_verdicts`), never in the real
    `~/.cache` of whoever runs the tests, and no test sees another's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def word_image() -> np.ndarray:
    return render_word("minimum")


@pytest.fixture
def recognizer() -> CTCRecognizer:
    """A small ReLU CRNN (random, seeded) that reads 14 characters in `word_image`."""
    return CTCRecognizer(tiny_crnn(seed=3), ALPHABET, 32, name="tiny-crnn")


@pytest.fixture
def recognizer64() -> CTCRecognizer:
    """A small smooth (GELU) CRNN in float64 that reads 12 characters: for checks at 1e-5
    and tighter, where ReLU kinks would slow the convergence of path integrals."""
    return CTCRecognizer(tiny_crnn(seed=5, smooth=True).double(), ALPHABET, 32, name="tiny-crnn-f64")
