"""Thulium Desktop: see why a handwriting-recognition model reads what it reads."""

__version__ = "0.1.0"
