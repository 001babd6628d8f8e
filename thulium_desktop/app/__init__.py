"""The desktop app (PySide6 + pyqtgraph): views over the engine, which runs on a worker thread.

`main` is imported on first use, not with the package: its plain-Python modules (the
view model, the jobs) are imported by tests and tools that neither need nor pay for Qt.
"""

from __future__ import annotations

from typing import Any

__all__ = ["main"]


def __getattr__(name: str) -> Any:
    if name == "main":
        from thulium_desktop.app.launch import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
