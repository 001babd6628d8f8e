"""The desktop app (PySide6 + pyqtgraph): views over the engine, which runs on a worker thread."""
