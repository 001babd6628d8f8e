"""Helpers for tests of hostile model files: a copy of a bundled model to mutate, and a
ceiling on the memory a block may take, so "nothing big is allocated" is a test that fails."""

from __future__ import annotations

import json
import re
import resource
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from thulium_desktop.models.registry import MODELS_DIR

GiB = 2**30


def bundled_copy(folder: Path, model: str = "attention-reader") -> tuple[Path, Path, dict]:
    """`folder/<model>.safetensors`, its json, and the json's content to mutate."""
    weights, card = folder / f"{model}.safetensors", folder / f"{model}.json"
    shutil.copy(MODELS_DIR / weights.name, weights)
    shutil.copy(MODELS_DIR / card.name, card)
    return weights, card, json.loads(card.read_text(encoding="utf-8"))


def write_json(path: Path, data: dict, change: Callable[[dict], None] | None = None) -> Path:
    """`data`, changed in place by `change`, written to `path`."""
    if change is not None:
        change(data)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _address_space() -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmSize:\s+(\d+) kB", status).group(1)) * 1024


@contextmanager
def memory_ceiling(extra: int = GiB) -> Iterator[None]:
    """Within the block the process may map at most `extra` more bytes: a larger
    allocation fails (torch raises RuntimeError, Python MemoryError) instead of taking
    the machine's memory. Linux only (RLIMIT_AS and /proc)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    ceiling = _address_space() + extra
    resource.setrlimit(resource.RLIMIT_AS, (ceiling if hard == resource.RLIM_INFINITY else min(ceiling, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
