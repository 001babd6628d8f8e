"""Rendering: colormaps, overlays and figures (numpy, OpenCV and matplotlib; never Qt)."""
