"""File-system faults that tests running as root cannot provoke for real."""

from __future__ import annotations

import os
from pathlib import Path


def refuse_listing(monkeypatch, folder_name: str) -> None:
    """`os.scandir` of any folder named `folder_name` raises PermissionError, as an
    unreadable folder does for a user (root reads every folder, so it is simulated)."""
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path).name == folder_name:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
