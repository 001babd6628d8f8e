"""The enriched layout of each page a command reads: a copy of its PAGE-XML or ALTO with
every line's reading, words and glyphs (`io.page_writer`), or a fresh PAGE-XML for a page
segmented by kraken (no XML to copy), written beside the other outputs as
`<page>.page.xml` or `<page>.alto.xml` (`<page>`: the name the page's line outputs start
with, `<page>/<line id>.*`), and, when a figure format is asked, the page figure
`<page>.page.<png|svg|pdf>` (`render.page_figure`): the scan with each line outlined by
its CER and every explained line's map inside its polygon.

`read` and `explain` meet a page's lines one after the other (`io.corpus` lists them
together, in the layout's order). `DocumentOutputs` keeps each page's read lines and
writes its layout as soon as the last one is in; `finish()` writes the pages that some
line never reached (a line that failed, a run interrupted), with the lines they have.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from thulium_desktop.io.corpus import CorpusItem
from thulium_desktop.io.documents import PageLine, cut_page_line, fit_to_image
from thulium_desktop.io.images import read_image
from thulium_desktop.io.layout import PageLayout
from thulium_desktop.io.line_images import line_to_page
from thulium_desktop.io.page_writer import LineReading, document_output_name, placed_line_reading, write_page_layout
from thulium_desktop.models.protocol import Reading, Recognizer
from thulium_desktop.render import page_caption, save_figure
from thulium_desktop.render.page_figure import LineMark, line_mark, page_figure
from thulium_desktop.xai.ground_truth import character_error_rate
from thulium_desktop.xai.glyph_boxes import reading_glyph_boxes
from thulium_desktop.xai.saliency import Explanation


#: The method whose maps glyph boxes come from when a run made several: the one whose
#: boxes `benchmarks/glyph_boxes.py` measures against the true character boxes.
BOX_METHOD = "gradient"


@dataclass(frozen=True)
class ReadLine:
    """One line of a page as a command read it, and its explanation when it explained
    every character (else the glyph boxes come from the recognizer's attention)."""

    line: PageLine
    reading: Reading
    explanation: Explanation | None = None


@dataclass
class _Page:
    image_path: Path
    name: str
    lines: list[ReadLine] = field(default_factory=list)


def write_document_output(layout: PageLayout, image_path: Path, lines: list[ReadLine], recognizer: Recognizer,
                          out_dir: Path, page_name: str) -> Path:
    """Write the enriched copy of `layout` (the page scan at `image_path`) with `lines`
    into `out_dir` as `document_output_name(page_name, layout)`, or a fresh PAGE-XML
    when the layout is kraken's segmentation; its path."""
    page = read_image(image_path).image
    readings = {read.line.line.id: _line_reading(page, image_path, read, recognizer) for read in lines}
    target = out_dir / document_output_name(page_name, layout)
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_page_layout(layout, readings, target)


def _line_reading(page: np.ndarray, image_path: Path, read: ReadLine, recognizer: Recognizer) -> LineReading:
    """The line's glyphs with their boxes in the layout's coordinates: found on the line
    cut as the command cut it, then placed on the page (`placed_line_reading`, as the
    app's layout export places them)."""
    cut, _ = cut_page_line(page, image_path, read.line)
    boxes = reading_glyph_boxes(recognizer, cut.image, read.reading, read.explanation)
    return placed_line_reading(read.reading.tokens, read.reading.confidences, boxes, cut, read.line.layout,
                               page.shape)


def write_page_figures(layout: PageLayout, image_path: Path, lines: list[ReadLine], out_dir: Path,
                       page_name: str, formats: tuple[str, ...], dpi: int) -> list[Path]:
    """The page figure of `lines` in each of `formats`, as `<page>.page.<fmt>`: outlines by
    each line's CER (else its lowest confidence), and the explained lines' maps (each the
    strongest of its characters' maps) placed on the page inside their polygons."""
    page = read_image(image_path).image
    fitted, _ = fit_to_image(layout, image_path, (page.shape[1], page.shape[0]))
    marks: dict[str, LineMark | None] = {}
    page_map = np.full(page.shape[:2], np.nan, np.float32)
    for read in lines:
        truth = read.line.line.truth
        cer = character_error_rate(read.reading.text, truth) if truth else None
        marks[read.line.line.id] = line_mark(cer, min(read.reading.confidences, default=None))
        if read.explanation is not None:
            cut, _ = cut_page_line(page, image_path, read.line)
            placed = line_to_page(np.abs(read.explanation.maps).max(axis=0), cut, page.shape)
            page_map = np.where(np.isnan(placed), page_map, placed)
    truths = [(read.reading.text, read.line.line.truth) for read in lines if read.line.line.truth]
    page_cer = (sum(character_error_rate(r, t) * len(t) for r, t in truths) / sum(len(t) for _, t in truths)
                if truths else None)
    explained = [read.explanation for read in lines if read.explanation is not None]
    caption = page_caption(explained[0].model if explained else "", page_cer, len(lines), len(fitted.lines),
                           explained[0].method if explained else None)
    fig = page_figure(page, fitted.lines, marks, page_map if explained else None,
                      value_label="strongest |map| of the line's characters", caption=caption, dpi=dpi)
    return [save_figure(fig, out_dir / f"{page_name}.page.{fmt}", dpi=dpi) for fmt in formats]


class DocumentOutputs:
    """The enriched layouts of the pages whose lines a command reads, into `out_dir`,
    and their page figures in `figure_formats` (none: no figure)."""

    def __init__(self, recognizer: Recognizer, out_dir: Path, figure_formats: tuple[str, ...] = (),
                 dpi: int = 300) -> None:
        self.recognizer = recognizer
        self.out_dir = out_dir
        self.figure_formats = figure_formats
        self.dpi = dpi
        self.pages: dict[PageLayout, _Page] = {}

    def add(self, item: CorpusItem, reading: Reading,
            explanations: Mapping[str, Explanation] | None = None) -> Path | None:
        """Keep `item`'s reading and the explanation its glyph boxes come from (of
        `explanations` by method: `BOX_METHOD`'s, else the first); write its page's
        layout once all its lines are in, and return the path written (else None). An
        image taken whole is passed over."""
        if item.line is None:
            return None
        explanations = explanations or {}
        explanation = explanations.get(BOX_METHOD) or next(iter(explanations.values()), None)
        layout = item.line.layout
        page = self.pages.setdefault(layout, _Page(item.path, item.name.rpartition("/")[0] or item.path.stem))
        page.lines.append(ReadLine(item.line, reading, explanation))
        return self._write(layout) if len(page.lines) == len(layout.lines) else None

    def finish(self) -> list[Path]:
        """Write the pages not written yet, with the lines they have; the paths written."""
        return [self._write(layout) for layout in list(self.pages)]

    def _write(self, layout: PageLayout) -> Path:
        page = self.pages.pop(layout)
        if self.figure_formats:
            write_page_figures(layout, page.image_path, page.lines, self.out_dir, page.name, self.figure_formats,
                               self.dpi)
        return write_document_output(layout, page.image_path, page.lines, self.recognizer, self.out_dir, page.name)
