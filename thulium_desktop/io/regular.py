"""Opening only regular files, so that no read of a user's file can block forever.

Reading a named pipe (FIFO) waits until something writes to it, which for a pipe left
in a folder of images is never; sockets and devices are no better. A file is therefore
opened without blocking and checked with `fstat` on the open descriptor (no window
between the check and the open for the file to be swapped), and anything but a regular
file is refused, saying what it is.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

#: Open without waiting for a pipe's writer and without making a terminal ours.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


class NotRegularFile(OSError):
    """`path` exists but is a folder, a pipe, a socket or a device; `str()` says which."""

    def __init__(self, path: str | os.PathLike, mode: int) -> None:
        super().__init__(describe_irregular(mode))
        self.path = os.fspath(path)
        self.is_folder = stat.S_ISDIR(mode)


def describe_irregular(mode: int) -> str:
    """What a non-regular file is, as a reason a user understands (from its `st_mode`)."""
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    kinds = [
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ]
    kind = next((name for test, name in kinds if test(mode)), "not a plain file")
    return f"not a regular file: it is {kind}"


def irregular_reason(path: str | os.PathLike) -> str | None:
    """Why `path` (links followed) cannot be opened as a regular file, or None when it can.

    For listing folders without opening anything: a pipe named like an image is
    reported, not opened.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()
    return None if stat.S_ISREG(mode) else describe_irregular(mode)


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """`path` opened for binary reading if it is a regular file (links followed).

    Raises `NotRegularFile` for anything else, and the usual `OSError`s
    (`FileNotFoundError`, `PermissionError`, ...) when it cannot be opened at all.
    """
    fd = os.open(path, _OPEN_FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, mode)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")
