"""The page view: a scan with its lines' polygons coloured by CER (or confidence), a
click on a line announcing it, and a line's map drawn back inside its polygon (issue 22)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from page_builder import write_image
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from test_document_tree import composed, measured, pages, reader  # noqa: F401 (fixtures)

from thulium_desktop.app.document_tree import Document, list_documents
from thulium_desktop.app.error_review import image_stats
from thulium_desktop.app.files import ImageStats
from thulium_desktop.app.page_view import STEPS, PageView, step_colour, step_of
from thulium_desktop.io.corpus import CorpusItem, load_item
from thulium_desktop.io.documents import PageLine
from thulium_desktop.io.images import read_image
from thulium_desktop.io.layout import Line, PageLayout
from thulium_desktop.io.truths import Truth


@pytest.fixture
def document(pages) -> Document:
    (found,) = list_documents([pages / "page" / "scan.xml"]).entries
    return found


@pytest.fixture
def view(qtbot, document) -> PageView:
    shown = PageView()
    qtbot.addWidget(shown)
    shown.resize(1280, 800)
    shown.show_page(document, read_image(document.image).image)
    shown.show()
    qtbot.waitExposed(shown)
    return shown


def ink_point(composed, line_id: str, in_box_of: str | None = None) -> QPointF:  # noqa: F811 (the fixture's value)
    """A pixel of the line's own ink (inside its polygon and no other's); with `in_box_of`,
    one inside that other line's bounding box, where only the polygons tell them apart."""
    ink = composed.line(line_id).ink.copy()
    if in_box_of is not None:
        polygon = np.asarray(composed.line(in_box_of).polygon)
        box = np.zeros_like(ink)
        box[polygon[:, 1].min():polygon[:, 1].max() + 1, polygon[:, 0].min():polygon[:, 0].max() + 1] = True
        ink &= box
    ys, xs = np.nonzero(ink)
    return QPointF(xs[len(xs) // 2] + 0.5, ys[len(ys) // 2] + 0.5)


def on_screen(view: PageView, point: QPointF) -> QPoint:
    """Where page point `point` is drawn, in the page view's widget pixels."""
    scene = view.view.mapViewToScene(point)
    return view.graphics.mapTo(view, view.graphics.mapFromScene(scene))


def test_each_line_is_outlined_in_the_colour_of_its_cer(qtbot, view, document, composed, reader):  # noqa: F811
    stats = measured(document.lines, reader)
    view.show_stats(stats)
    qtbot.wait(50)
    shot = view.grab().toImage()
    for item in document.lines:
        line_id, cer = item.line.line.id, stats[item].cer
        key = (step_of(min(cer, 1.0)), True)
        point = ink_point(composed, line_id)
        assert [k for k, outline in view.outlines.items() if outline.path().contains(point)] == [key]
        assert view.outlines[key].pen().color() == step_colour(key[0])
        assert view.outlines[key].pen().style() == Qt.PenStyle.SolidLine
        assert _drawn_near(shot, on_screen(view, _first_vertex(item)), step_colour(key[0]))
    assert {key[0] for key, outline in view.outlines.items() if not outline.path().isEmpty()} == {0, 2}  # 0%, 9%; 27%


def test_a_line_without_truth_is_coloured_by_its_lowest_confidence_dashed(view, document, reader):  # noqa: F811
    item = document.lines[2]
    reading = reader.read(reader.prepare(load_item(item).image).tensor)
    stats = image_stats(reading, Truth())
    view.show_stats({item: stats})
    mark = view.mark_of("l3")
    assert not mark.is_cer and mark.value == pytest.approx(1.0 - stats.min_confidence)
    outline = view.outlines[(step_of(mark.value), False)]
    assert outline.pen().style() == Qt.PenStyle.DashLine
    assert view.mark_of("l1") is None  # not read: grey dotted
    assert view.outlines[None].pen().style() == Qt.PenStyle.DotLine


def test_clicking_a_line_announces_its_corpus_item(qtbot, view, document, composed):  # noqa: F811
    with qtbot.waitSignal(view.lineChosen) as chosen:
        qtbot.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton,
                         pos=view.graphics.mapFromScene(view.view.mapViewToScene(ink_point(composed, "l3", "l2"))))
    assert chosen.args[0] == document.line("l3")  # an ascender of l3 in l2's box: the polygon decides
    assert view.selected_id == "l3" and not view.selected.path().isEmpty()
    with qtbot.assertNotEmitted(view.lineChosen):  # the paper's corner holds no line
        qtbot.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton,
                         pos=view.graphics.mapFromScene(view.view.mapViewToScene(QPointF(3, 3))))


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_a_line_map_lands_inside_its_polygon_in_page_coordinates(qtbot, pages, composed, scale):  # noqa: F811
    """Also on a scan that is a half-size copy of the page the layout describes."""
    write_image(composed, pages / "scan.png", scale=scale)
    (document,) = list_documents([pages / "page" / "scan.xml"]).entries
    view = PageView()
    qtbot.addWidget(view)
    page = read_image(document.image).image
    notes = view.show_page(document, page)
    assert bool(notes) == (scale != 1.0)
    item = document.line("l2")
    line_image = load_item(item).image
    view.show_line_map("l2", np.ones(line_image.shape[:2], np.float32))
    rect = view.heat.mapRectToParent(view.heat.boundingRect())
    x, y, h, w = round(rect.x()), round(rect.y()), *view.heat.image.shape[:2]
    assert (h, w) == line_image.shape[:2]
    covered = np.zeros(page.shape[:2], bool)
    covered[y:y + h, x:x + w] = view.heat.image[:, :, 3] > 0
    polygon = np.zeros(page.shape[:2], np.uint8)
    scales = np.divide(page.shape[1::-1], composed.size)  # the scan's pixels per layout unit, x and y
    cv2.fillPoly(polygon, [np.round(np.asarray(composed.line("l2").polygon) * scales).astype(np.int32)], 1)
    inside = polygon.astype(bool)
    near = cv2.dilate(polygon, np.ones((3, 3), np.uint8)).astype(bool)  # vertices rounded half to even
    assert not (covered & ~near).any()
    assert (covered & inside).sum() >= 0.99 * inside.sum()
    view.show_line_map("l2", np.linspace(0.0, 1.0, 40, dtype=np.float32))  # a CTC model's column profile
    assert view.heat.image.shape[:2] == line_image.shape[:2]
    left, right = view.heat.image[:, :, :3][view.heat.image[:, :, 3] > 0].reshape(-1, 3)[[0, -1]]
    assert not np.array_equal(left, right)  # weak on the left, strong on the right


def test_a_page_of_many_lines_is_drawn_with_few_items(qtbot):
    """A 4000x6000 scan with 300 lines: zoomed out, a halved copy of the scan is drawn, at
    1:1 the part of the scan's own pixels around the view; the outlines are one item per
    colour step, not one per line."""
    layout = PageLayout(Path("many.xml"), "PAGE-XML", "many.png", (4000.0, 6000.0), tuple(
        Line(f"l{i}", ((100, 20 * i), (3900, 20 * i), (3900, 20 * i + 15), (100, 20 * i + 15)), truth="x")
        for i in range(300)))
    document = Document(Path("many.png"), layout,
                        tuple(CorpusItem(Path("many.png"), f"many/{line.id}", PageLine(layout, line))
                              for line in layout.lines))
    page = (np.add.outer(np.arange(6000), np.arange(4000)) % 256).astype(np.uint8)
    view = PageView()
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show_page(document, page)
    view.show_stats({item: ImageStats(cer=(i % 23) / 20, min_confidence=0.5) for i, item in enumerate(document.lines)})
    assert len(view.outlines) <= 2 * STEPS + 1
    assert sum(not outline.path().isEmpty() for outline in view.outlines.values()) == STEPS
    view.show()
    qtbot.waitExposed(view)
    assert view.level > 0 and view.scan.image.shape[0] * 2 ** view.level <= 6000  # the whole page in view
    view.view.setRange(QRectF(1000, 1000, 400, 300), padding=0)
    drawn = view.scan.mapRectToParent(view.scan.boundingRect())
    assert view.level == 0 and drawn.contains(view.view.viewRect())
    top, left, (height, width) = round(drawn.top()), round(drawn.left()), view.scan.image.shape
    assert (drawn.width(), drawn.height()) == (width, height) and height * width < page.size / 10
    np.testing.assert_array_equal(view.scan.image, page[top:top + height, left:left + width])


def _first_vertex(item: CorpusItem) -> QPointF:
    x, y = item.line.line.polygon[0]
    return QPointF(x, y)


def _drawn_near(shot, point: QPoint, colour, radius: int = 3, tolerance: int = 40) -> bool:
    """Whether `colour` is drawn within `radius` pixels of `point` (an outline passes there)."""
    for dx in range(-radius, radius + 1):
        for dy in range(-radius, radius + 1):
            pixel = shot.pixelColor(point.x() + dx, point.y() + dy)
            if all(abs(a - b) <= tolerance for a, b in zip(pixel.getRgb()[:3], colour.getRgb()[:3])):
                return True
    return False
