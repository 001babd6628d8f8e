"""Export from the window: the dialog, the names it suggests, and the figure written
once every map it needs is computed.

Its own object because an export outlives the click that asked for it: the plan waits
in the view model while the maps are computed, and the window hands it back here when
all is settled.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:
    from thulium_desktop.app.figure_export import ExportPlan
    from thulium_desktop.app.window import MainWindow


class ExportFlow(QObject):
    """File ▸ Export… for the window. `exported` carries the paths written."""

    exported = Signal(list)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window

    def export_dialog(self) -> None:
        """Ctrl+E: ask what to export, then export it (computing missing maps first)."""
        window, settings = self.window, self.window.settings
        window.take_choices()
        if window.view_model.image is None or window.view_model.reading is None:
            window.message.show_error("Open an image and wait for its reading before exporting.")
            return
        kind = "compare" if window.view_model.compare else str(settings.value("export/kind", "view"))
        from thulium_desktop.app.export_dialog import ExportDialog  # matplotlib: ~0.5 s, not at launch

        dialog = ExportDialog(self.export_names(), str(settings.value("export/format", "png")), kind, window)
        if dialog.exec() == ExportDialog.DialogCode.Accepted:
            plan = dialog.plan()
            settings.setValue("export/dir", str(plan.path.parent))
            settings.setValue("export/format", plan.path.suffix.lstrip("."))
            settings.setValue("export/kind", plan.kind)
            self.export(plan)

    def export_names(self) -> dict[str, Path]:
        """The file Export suggests for each figure kind (without extension), named after
        what that figure draws (the view's also after its character, so that it never
        takes the grid's name), in `export_folder`."""
        from thulium_desktop.app.export_dialog import export_folder, view_suffix  # matplotlib, as above
        from thulium_desktop.app.figure_export import FIGURE_KINDS, suggested_name

        window = self.window
        current = window.browser.files.current
        folder = export_folder(window.settings.value("export/dir"), current)
        stem = current.stem if current else "explanation"
        names = {kind: suggested_name(stem, kind, window.view_model.export_specs(kind)) for kind in FIGURE_KINDS}
        names["view"] += view_suffix(window.view_model.export_index("view"))
        return {kind: folder / name for kind, name in names.items()}

    def export(self, plan: ExportPlan) -> None:
        """Export now if every map the figure needs is computed, else once it is."""
        window = self.window
        window.take_choices()
        window.view_model.pending_export = plan
        if window.view_model.export_results(plan.kind) is None:
            window.status.showMessage("Computing the maps to export…")
        window.request()

    def finish(self, plan: ExportPlan) -> None:
        """Write the figure the settled maps make, or say why it cannot be."""
        window, view_model, display = self.window, self.window.view_model, self.window.display
        explanations = view_model.export_results(plan.kind)
        if explanations is None:
            window.message.show_error(f"Export to {plan.path} stopped: its maps were not computed.")
            return
        from thulium_desktop.app.figure_export import ExportContent, write_export  # matplotlib, as above

        content = ExportContent(
            view_model.image,
            explanations,
            view_model.export_index(plan.kind),
            (display.cmap(False), display.cmap(True)),
            str(window.browser.files.current or ""),
            display.alpha,
        )
        try:
            written = write_export(plan, content)
        except (OSError, ValueError) as exc:
            window.message.show_error(f"Export to {plan.path} failed: {exc}")
            return
        window.status.showMessage("Exported " + ", ".join(p.name for p in written), 8000)
        self.exported.emit(written)
