"""Which model file made a record: its SHA-256, read in chunks.

A record that names a model only by its name cannot tell two trainings apart; the
digest of its weights can, and anyone can check it with `sha256sum`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: Bytes read at a time: a multi-gigabyte model never sits in memory whole.
CHUNK_BYTES = 2**20


def sha256_of(path: str | os.PathLike) -> str:
    """The hex SHA-256 of a file's bytes; of a folder (a Hugging Face model), of each
    regular file's path relative to it and bytes, in path order, so that renaming or
    changing any file changes it."""
    root = Path(path)
    digest = hashlib.sha256()
    if not root.is_dir():
        _update(digest, root)
        return digest.hexdigest()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        _update(digest, file)
    return digest.hexdigest()


def _update(digest: hashlib._Hash, file: Path) -> None:
    with open(file, "rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
