"""Export from the window: the dialog, the names it suggests, and the figure written
once every map it needs is computed; the open page's layout with its readings is
`app/layout_export.py`'s (`ExportFlow.layout`).

Its own object because an export outlives the click that asked for it: the plan waits
in the view model while the maps are computed, and the window hands it back here when
all is settled.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from thulium_desktop.app.document_tree import Document
from thulium_desktop.app.layout_export import LayoutExport
from thulium_desktop.io.corpus import CorpusItem, page_image
from thulium_desktop.io.documents import fit_to_image
from thulium_desktop.io.line_images import cut_line, line_to_page
from thulium_desktop.render.colormaps import colorbar_label
from thulium_desktop.render.overlay import fit_map
from thulium_desktop.render.page_figure import LineMark, page_caption
from thulium_desktop.xai.methods import REGISTRY

if TYPE_CHECKING:
    from thulium_desktop.app.figure_export import ExportPlan, PageContent
    from thulium_desktop.app.window import MainWindow
    from thulium_desktop.xai.saliency import Explanation


class ExportFlow(QObject):
    """File ▸ Export… for the window. `exported` carries the paths written."""

    exported = Signal(list)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.layout = LayoutExport(window, self.open_page_line)  # File ▸ Export page layout…

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
        image, stem = export_subject(window.browser.files.current)
        folder = export_folder(window.settings.value("export/dir"), image)
        kinds = [kind for kind in FIGURE_KINDS if kind != "page" or self.open_page_line() is not None]
        names = {kind: suggested_name(stem, kind, window.view_model.export_specs(kind)) for kind in kinds}
        names["view"] += view_suffix(window.view_model.export_index("view"))
        if "page" in names:
            document = window.review.page_view.document
            names["page"] = suggested_name(document.image.stem, "page", window.view_model.export_specs("page"))
        return {kind: folder / name for kind, name in names.items()}

    def open_page_line(self) -> CorpusItem | None:
        """The line open in the canvas when it is a line of the page the page view shows
        (the page figure's subject); None for an image taken whole."""
        key, page = self.window.view_model.path, self.window.review.page_view
        if isinstance(key, CorpusItem) and page.document is not None and key in page.document.lines:
            return key
        return None

    def page_content(self, explanations: Mapping[str, Explanation]) -> PageContent | None:
        """The open line's page as the page figure draws it: the scan, its lines fitted to
        the scan as the page view fits them, their marks as the page view colours them,
        and the map on screen placed inside the open line's polygon."""
        from thulium_desktop.app.figure_export import PageContent  # matplotlib, as above

        key = self.open_page_line()
        if key is None:
            return None
        window, page = self.window, self.window.review.page_view
        document = page.document
        scan = page_image(key).image
        fitted, _ = fit_to_image(document.layout, document.image, (scan.shape[1], scan.shape[0]))
        marks = {line.id: page.mark_of(line.id) for line in fitted.lines}
        spec = window.view_model.view_spec()
        values, signed = window.view_model.maps_for(spec)
        page_map = None
        if values is not None:
            cut = cut_line(scan, next(line for line in fitted.lines if line.id == key.line.line.id))
            page_map = line_to_page(fit_map(values, cut.mask.shape), cut, scan.shape)
        label = colorbar_label(REGISTRY[spec.method], signed, bool(dict(spec.params).get("normalize", False)))
        model = next(iter(explanations.values())).model
        caption = page_caption(model, marked_page_cer(document, marks), len([m for m in marks.values() if m]),
                               len(fitted.lines), REGISTRY[spec.method].label)
        return PageContent(scan, fitted.lines, marks, page_map, signed, label, caption)

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
        if plan.kind == "page" and self.open_page_line() is None:
            window.message.show_error(f"Export to {plan.path} stopped: the open image is not a line of a page.")
            return
        from thulium_desktop.app.figure_export import ExportContent, write_export  # matplotlib, as above

        content = ExportContent(
            view_model.image,
            explanations,
            view_model.export_index(plan.kind),
            (display.cmap(False), display.cmap(True)),
            export_source(window.browser.files.current),
            display.alpha,
            self.page_content(explanations) if plan.kind == "page" else None,
        )
        try:
            written = write_export(plan, content)
        except (OSError, ValueError) as exc:
            window.message.show_error(f"Export to {plan.path} failed: {exc}")
            return
        window.status.showMessage("Exported " + ", ".join(p.name for p in written), 8000)
        self.exported.emit(written)


def export_subject(current: Path | CorpusItem | None) -> tuple[Path | None, str]:
    """The image file an export is of and the stem its files are named after: a page's
    line is named as the CLI names its outputs (`<page>.<line id>`) beside its page."""
    if isinstance(current, CorpusItem):
        return current.path, Path(current.name).name
    return current, current.stem if current else "explanation"


def export_source(current: Path | CorpusItem | None) -> str:
    """How the parameters file names what was explained (`page.png#l1` for a line)."""
    if isinstance(current, CorpusItem):
        return current.label
    return str(current or "")


def marked_page_cer(document: Document, marks: Mapping[str, LineMark | None]) -> float | None:
    """The page's CER from its lines' marks, as `document_tree.page_stats` weighs it
    (each measured line's CER by its truth's length); None where no line has one. A
    mark's CER is clipped at 100%, as the outlines' scale clips it."""
    measured = [(len(item.line.line.truth or ""), marks[item.line.line.id])
                for item in document.lines if item.line.line.id in marks]
    measured = [(n, mark.value) for n, mark in measured if mark is not None and mark.is_cer and n]
    chars = sum(n for n, _ in measured)
    return sum(n * cer for n, cer in measured) / chars if chars else None
