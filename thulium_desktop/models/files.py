"""Model files as bytes, before any loader sees them: only regular files are opened,
text is read with a size limit, and a file's real type comes from its first bytes.

A named pipe blocks whoever opens it until a writer appears, so only regular files are
opened (`io.regular`), and a path handed to another library is checked first. A file's
name can lie (a PNG renamed `.pth`), so the loaders ask `sniff` what it really is and
refuse with that, instead of handing an image to an unpickler and reporting whatever
it trips over.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

from thulium_desktop.io.regular import irregular_reason, open_regular
from thulium_desktop.models.errors import ModelLoadError, first_line

#: The largest json description read (the bundled ones are about 30 KB).
MAX_JSON_BYTES = 16 * 1024 * 1024
#: The largest safetensors header accepted (the format's own readers stop at 100 MB).
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024

#: Leading bytes of the file types a model file is most often confused with.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a zip archive"),
    (b"PK\x05\x06", "an empty zip archive"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"BM", "a BMP image"),
    (b"%PDF", "a PDF document"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (a Keras model?)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x7fELF", "a compiled program"),
)
ZIP = "a zip archive"
PICKLE = "a pickle"
SAFETENSORS = "a safetensors file"


def regular_file(path: str | os.PathLike) -> Path:
    """`path` if it is a regular file (or a link to one), for a library that opens it
    itself; otherwise `ModelLoadError`, without opening it (a FIFO would block the
    open forever, a device never ends)."""
    reason = irregular_reason(path)
    if reason is not None:
        raise ModelLoadError(path, reason)
    return Path(path)


def read_head(path: str | os.PathLike, size: int = 16) -> bytes:
    """At most `size` bytes from the start of a regular file, opened without blocking."""
    try:
        with open_regular(path) as f:
            return f.read(size)
    except OSError as exc:  # NotRegularFile says what the file is; the others why it is unreadable
        raise ModelLoadError(path, exc.strerror.lower() if exc.strerror else str(exc)) from None


def sniff(path: str | os.PathLike) -> str:
    """What the file really is, from its first bytes: `ZIP` (PyTorch's format and
    TorchScript), `PICKLE` (older PyTorch files), `SAFETENSORS`, a known other type
    ("a PNG image"), "an empty file", or "" when the bytes say nothing."""
    head = read_head(path, 16)
    if not head:
        return "an empty file"
    if _is_safetensors(head):  # first: its leading length can look like two magic bytes
        return SAFETENSORS
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return PICKLE
    return ""


def _is_safetensors(head: bytes) -> bool:
    """A little-endian header length in range, then the header's json object."""
    if len(head) < 9 or head[8:9] != b"{":
        return False
    (header_size,) = struct.unpack("<Q", head[:8])
    return 2 <= header_size <= MAX_SAFETENSORS_HEADER


def read_json(path: str | os.PathLike, what: str = "json description") -> object:
    """A json file's value, read only if it is a regular file of at most `MAX_JSON_BYTES`;
    anything unreadable (bad syntax, a number too long, nesting too deep) is one
    `ModelLoadError` line."""
    data = read_head(path, MAX_JSON_BYTES + 1)
    if len(data) > MAX_JSON_BYTES:
        raise ModelLoadError(path, f"the {what} is larger than {MAX_JSON_BYTES:,} bytes")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelLoadError(path, f"not a readable {what}: {first_line(exc)}") from None
