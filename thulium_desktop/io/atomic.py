"""Atomic file writing: an output file is either the complete new version or untouched.

Batch runs are interrupted (Ctrl+C, a cluster's time limit, a full disk) and a
half-written PNG or JSON that looks finished is worse than none. Every output is
therefore written to a temporary file in the destination folder (same file
system, so the final rename is atomic) and moved over the target with
`os.replace` only once it has been written and flushed to disk.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

_MODES = ("w", "wb")


def _process_umask() -> int:
    """The umask, read once at import: `os.umask` can only be read by setting it, which
    would race with threads creating files if it were done on every write."""
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


_UMASK = _process_umask()


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", encoding: str = "utf-8") -> Iterator[IO]:
    """Yield a file object whose content replaces `path` when the block ends without error.

    If the block raises, the temporary file is removed and `path` keeps whatever it
    held before (or stays absent). The new file gets the permissions a plain
    `open()` would give it (or the existing file's), not the 0600 of a temp file.
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, _permissions_for(target))
        os.replace(tmp_name, target)
    except BaseException:
        _remove_quietly(tmp_name)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Atomically write `data` to `path`."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Atomically write `text` (UTF-8) to `path`."""
    with atomic_write(path, "w") as handle:
        handle.write(text)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Atomically write `obj` as indented UTF-8 JSON; numpy scalars and arrays become lists.

    The document is serialised completely before the file is opened, so an object
    that cannot be encoded never even creates a temporary file.
    """
    text = json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default) + "\n"
    write_text(path, text)


def write_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Atomically write a compressed `.npz`; the name is used exactly as given.

    (`np.savez_compressed` on a path appends `.npz` to names that lack it; writing
    through a file object keeps the caller's name.)
    """
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    write_bytes(path, buffer.getvalue())


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _permissions_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_UMASK


def _remove_quietly(name: str) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass
