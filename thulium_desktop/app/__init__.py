"""The desktop app (PySide6 + pyqtgraph): views over the engine, which runs on a worker thread."""

from thulium_desktop.app.launch import main

__all__ = ["main"]
