"""The Qt desktop application (the only layer that imports Qt)."""
