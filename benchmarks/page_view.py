"""The page view's frame time while panning and zooming a 4000x6000 scan (issue 22).

    python benchmarks/page_view.py [--lines 60] [--steps 120] [--pg-autodownsample]

Runs offscreen at 1280x800. Builds a synthetic 4000x6000 grey scan with `--lines`
text lines and their polygons (100 vertices each, coloured by random CERs), then
times `app.processEvents()` after each `setRange` step, which repaints the view:
panning at 1:1 over the page, panning the whole page zoomed out, and zooming from
the whole page to 1:1 and back. Prints the median, 95th percentile and maximum frame
time of each, and how many times the scan was painted (every step must repaint it,
or the numbers measure nothing). `--pg-autodownsample` draws the scan instead as one
pyqtgraph `ImageItem(autoDownsample=True)` of the full scan, the baseline the page
view's pyramid replaced.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from thulium_desktop.app.document_tree import Document  # noqa: E402
from thulium_desktop.app.files import ImageStats  # noqa: E402
from thulium_desktop.app.page_view import PageView  # noqa: E402
from thulium_desktop.io.corpus import CorpusItem  # noqa: E402
from thulium_desktop.io.documents import PageLine  # noqa: E402
from thulium_desktop.io.layout import Line, PageLayout  # noqa: E402

WIDTH, HEIGHT = 4000, 6000
SIZE = (1280, 800)


def synthetic_page(lines: int) -> tuple[np.ndarray, Document]:
    """A grey scan with `lines` lines of cursive text, and its layout: each line a
    polygon of 100 vertices following a wavy band around the text."""
    scan = np.full((HEIGHT, WIDTH), 228, np.uint8)
    pitch = (HEIGHT - 400) // lines
    polygons = []
    for i in range(lines):
        top = 200 + i * pitch
        cv2.putText(scan, f"line {i} the quick brown fox jumps over the lazy dog", (150, top + pitch // 2),
                    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 3.0, 40, 5, cv2.LINE_AA)
        xs = np.linspace(120, WIDTH - 120, 50)
        wave = 12 * np.sin(xs / 90.0 + i)
        upper = [(float(x), float(top + 10 + w)) for x, w in zip(xs, wave)]
        lower = [(float(x), float(top + pitch - 10 + w)) for x, w in zip(xs[::-1], wave[::-1])]
        polygons.append(tuple(upper + lower))
    layout = PageLayout(Path("bench.xml"), "PAGE-XML", "bench.png", (float(WIDTH), float(HEIGHT)),
                        tuple(Line(f"l{i}", polygon, truth="x") for i, polygon in enumerate(polygons)))
    items = tuple(CorpusItem(Path("bench.png"), f"bench/{line.id}", PageLine(layout, line)) for line in layout.lines)
    return scan, Document(Path("bench.png"), layout, items)


def timed_steps(app: QApplication, view: PageView, ranges: list[tuple[tuple[float, float], tuple[float, float]]],
                painted: list[int]) -> tuple[list[float], int]:
    """Frame times (ms) of showing each (x range, y range), and the scan's paints."""
    times = []
    before = painted[0]
    for x_range, y_range in ranges:
        view.view.setRange(xRange=x_range, yRange=y_range, padding=0)
        start = time.perf_counter()
        app.processEvents()
        times.append((time.perf_counter() - start) * 1000.0)
    return times, painted[0] - before


def scenarios(view: PageView, steps: int) -> dict[str, list]:
    """The view ranges of each scenario, from the view box's own aspect."""
    box = view.view.sceneBoundingRect()
    aspect = box.height() / box.width()
    one = box.width()  # image pixels across the view at 1:1
    pan_1to1 = [((x, x + one), (y, y + one * aspect))
                for x, y in zip(np.linspace(0, WIDTH - one, steps), np.linspace(0, HEIGHT - one * aspect, steps))]
    whole_h = HEIGHT * 1.02
    whole_w = whole_h / aspect
    pan_whole = [((x, x + whole_w), (y, y + whole_h))
                 for x, y in zip(np.linspace(-whole_w / 4, WIDTH - whole_w * 0.75, steps),
                                 np.linspace(-HEIGHT / 8, HEIGHT / 8, steps))]
    spans = np.geomspace(whole_w, one, steps // 2)
    zoom = [((WIDTH / 2 - s / 2, WIDTH / 2 + s / 2), (HEIGHT / 2 - s * aspect / 2, HEIGHT / 2 + s * aspect / 2))
            for s in np.concatenate([spans, spans[::-1]])]
    return {"pan at 1:1": pan_1to1, "pan, whole page in view": pan_whole, "zoom whole page <-> 1:1": zoom}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=60)
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--pg-autodownsample", action="store_true")
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication([])
    scan, document = synthetic_page(args.lines)
    view = PageView()
    view.resize(*SIZE)
    view.show()
    view.show_page(document, scan)
    rng = np.random.default_rng(0)
    view.show_stats({item: ImageStats(float(rng.uniform(0, 1.2)), float(rng.uniform(0, 1))) for item in document.lines})
    view.show_line_map("l3", rng.random((64, 1200)).astype(np.float32))
    scan_item = view.scan
    if args.pg_autodownsample:
        view.scan.hide()
        scan_item = pg.ImageItem(scan, levels=(0, 255), autoDownsample=True)
        view.view.addItem(scan_item)
    painted = [0]
    paint = scan_item.paint

    def counted_paint(*a):
        painted[0] += 1
        return paint(*a)

    scan_item.paint = counted_paint
    for _ in range(5):  # settle the first layout and paint
        app.processEvents()
    print(f"scan {WIDTH}x{HEIGHT}, {args.lines} line polygons, view {SIZE[0]}x{SIZE[1]}, "
          f"scan drawn by {'pyqtgraph autoDownsample' if args.pg_autodownsample else 'the page view pyramid'}, "
          f"{len(view.outlines)} outline items")
    for name, ranges in scenarios(view, args.steps).items():
        times, paints = timed_steps(app, view, ranges, painted)
        ordered = sorted(times)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(f"{name:28s} {len(times)} steps, {paints} scan paints: median {statistics.median(times):6.1f} ms, "
              f"p95 {p95:6.1f} ms, max {max(times):6.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
