"""A model's SHA-256, streamed: a file's is `sha256sum`'s; a folder's changes with any
file's bytes or name."""

from __future__ import annotations

import hashlib
from pathlib import Path

from thulium_desktop.io import fingerprint
from thulium_desktop.io.fingerprint import sha256_of

MODELS = Path(__file__).resolve().parents[2] / "resources" / "models"


def test_a_files_digest_is_its_bytes_sha256_read_in_chunks(monkeypatch):
    weights = MODELS / "ctc-reader.safetensors"
    monkeypatch.setattr(fingerprint, "CHUNK_BYTES", 4096)  # many chunks, as for a large model
    assert sha256_of(weights) == hashlib.sha256(weights.read_bytes()).hexdigest()


def test_a_folders_digest_changes_with_a_files_bytes_or_name(tmp_path):
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "sub" / "weights.bin").write_bytes(b"\x00\x01")
    first = sha256_of(folder)
    assert sha256_of(folder) == first
    (folder / "sub" / "weights.bin").write_bytes(b"\x00\x02")
    changed = sha256_of(folder)
    (folder / "sub" / "weights.bin").rename(folder / "sub" / "other.bin")
    assert len({first, changed, sha256_of(folder)}) == 3
