"""How the window presents what a job left unfinished: a cancelled partial map (faded,
badged, said so in the details line) and an image file that could not be read (a blank
page with the reason over it).

Apart from the window because these are the screen's only "not a real result" states,
and each must never be taken for a finished map or for the previous image.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QLabel, QWidget

from thulium_desktop.app.canvas import ImageCanvas
from thulium_desktop.app.compare_view import CompareView
from thulium_desktop.app.details import view_details
from thulium_desktop.app.view_model import ViewModel
from thulium_desktop.xai.methods import REGISTRY
from thulium_desktop.xai.spec import MethodSpec

#: How much a cancelled partial map is faded, beside its badge, to look unfinished.
CANCELLED_DIMMING = 0.45
#: Shown in place of an image file that could not be read (a blank page, the reason over it).
UNREADABLE_PAGE = np.full((64, 512), 236, np.uint8)


def cancelled_text(done: int, total: int) -> str:
    return f"cancelled at {done} of {total}"


def cancelled_badge(canvas: QWidget) -> QLabel:
    """The hidden badge that marks a cancelled partial map on `canvas`."""
    badge = QLabel(canvas)
    badge.setStyleSheet("QLabel { background: rgba(20, 20, 20, 210); color: #ffd27a; border: 1px solid #d9a441;"
                        " border-radius: 4px; padding: 3px 8px; font-weight: bold; }")
    badge.hide()
    return badge


def show_unreadable(canvas: ImageCanvas, compare_view: CompareView, view_model: ViewModel) -> None:
    """A blank page in place of the file that could not be read, saying why over it."""
    canvas.set_image(UNREADABLE_PAGE)
    canvas.view.show_note(f"Cannot read {view_model.path.name}:\n{view_model.failure}")
    compare_view.set_image(UNREADABLE_PAGE)


class CancelledMaps:
    """The progress at which each still-partial map's job was cancelled, and its marks
    on screen: the badge on the canvas, the dimming, the details line."""

    def __init__(self, canvas: QWidget, view_model: ViewModel) -> None:
        self.badge = cancelled_badge(canvas)
        self.view_model = view_model
        self._at: dict[MethodSpec, tuple[int, int]] = {}

    def mark(self) -> tuple[int, int] | None:
        """Keep the partial maps' progress as cancelled; the shown map's, if partial."""
        self._at = dict(self.view_model.progress)
        return self._at.get(self.view_model.view_spec())

    def forget(self) -> bool:
        """The maps refine again; whether any was marked (so the screen must be redrawn)."""
        marked = bool(self._at)
        self._at.clear()
        return marked

    def progress(self) -> tuple[int, int] | None:
        """(done, total) when the single view shows a partial map whose job was cancelled."""
        spec = self.view_model.view_spec()
        if self.view_model.compare or spec not in self.view_model.progress:
            return None
        return self._at.get(spec)

    def details_text(self) -> str:
        """The details line; a cancelled partial map says so instead of "refining…"."""
        progress = self.progress()
        if progress is None:
            return view_details(self.view_model)
        label = REGISTRY[self.view_model.view_spec().method].label
        return (f"<b>{label}</b>: {cancelled_text(*progress)}, the map shown is partial "
                "(select the character again to finish it)")

    def show_badge(self, progress: tuple[int, int] | None) -> None:
        """A badge on the canvas, so that a dimmed partial map is never taken for a final one."""
        if progress is None:
            self.badge.hide()
            return
        self.badge.setText(f"Cancelled — partial map ({progress[0]} of {progress[1]})")
        self.badge.adjustSize()
        self.badge.move(12, 10)
        self.badge.show()
        self.badge.raise_()
