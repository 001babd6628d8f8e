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
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

try:
    import fcntl
except ImportError:  # Windows: stale temporaries are told apart by age alone
    fcntl = None  # type: ignore[assignment]

_MODES = ("w", "wb")

#: The names `atomic_write` gives its temporaries: `.<target>.<mkstemp's 8 characters>.tmp`.
_TEMPORARY = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")
#: A temporary this old with no writer holding its lock was left by a killed run.
STALE_AFTER_S = 60.0


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
    _lock(fd)  # released by the kernel when the process dies, so a cleaner can tell
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


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporaries that killed runs (SIGKILL, power loss) left in `folder`.

    Only `atomic_write`'s own names are considered, and only those older than
    `STALE_AFTER_S` whose lock no live writer holds: a concurrent run writing into
    the same folder keeps its temporaries. Returns what was removed.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if _TEMPORARY.match(entry.name) and entry.is_file(follow_symlinks=False) and _abandoned(entry.path):
            _remove_quietly(entry.path)
            removed.append(Path(entry.path))
    return removed


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Atomically write `obj` as indented UTF-8 JSON; numpy scalars and arrays become lists.

    The document is serialised completely before the file is opened, so an object
    that cannot be encoded never even creates a temporary file. A file name that is
    not valid UTF-8 reaches Python as lone surrogates (`os.fsdecode`); they are
    written as JSON `\\udcXX` escapes, so the record is valid JSON and `json.load`
    plus `os.fsencode` give back the exact bytes of the name.
    """
    text = json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default) + "\n"
    write_bytes(path, text.encode("utf-8", errors="backslashreplace"))


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


def _lock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _abandoned(name: str) -> bool:
    """True when no writer holds `name`'s lock and it is older than `STALE_AFTER_S`
    (the age closes the gap between a writer's `mkstemp` and its lock)."""
    try:
        if time.time() - os.stat(name, follow_symlinks=False).st_mtime < STALE_AFTER_S:
            return False
        if fcntl is None:
            return True
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _remove_quietly(name: str) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass
