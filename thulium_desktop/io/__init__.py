"""Image decoding and file writing that fail with clear messages and never corrupt data."""

from thulium_desktop.io.images import (
    IMAGE_SUFFIXES,
    ImageLoadError,
    load_image,
    to_unit_gray,
)

__all__ = ["IMAGE_SUFFIXES", "ImageLoadError", "load_image", "to_unit_gray"]
