"""PAGE-XML (the 2013-07-15 and 2019-07-15 schemas, and any other PRImA pagecontent
namespace) as a `PageLayout`: Transkribus, eScriptorium and OCR-D write it.

Lines are `TextLine` elements of `TextRegion`s, each with a `Coords@points` polygon, an
optional `Baseline@points` and a `TextEquiv/Unicode` transcription. Regions follow the
page's `ReadingOrder` where it has one (nested regions inherit their parent's place),
document order otherwise. A line's `readingDirection` (else its region's) is kept on
the `Line`; its truth is in logical order either way. A line that cannot be used (no
polygon, points that are not numbers) is skipped with a note naming it, and an element
PAGE does not define inside a line is noted and ignored; the rest of the page is still
read.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from thulium_desktop.io.layout import (
    Line,
    LayoutError,
    PageLayout,
    local_name,
    namespace,
    note_unknown_children,
    parse_points,
)

#: Every PAGE schema lives under this URI, followed by its date.
PAGE_NAMESPACE_PREFIX = "http://schema.primaresearch.org/PAGE/gts/pagecontent/"

#: The `comments` of the `Word`s and (PAGE 2016 and later) `TextEquiv`s holding a
#: model's reading that `page_writer` adds: read back, they are not taken for a truth.
READING_COMMENT = "reading by thulium-desktop"

#: The elements PAGE (2013 and 2019) allows inside a `TextLine`.
_LINE_CHILDREN = frozenset({"AlternativeImage", "Coords", "Baseline", "Word", "TextEquiv", "TextStyle",
                            "UserDefined", "Labels"})

#: PAGE's `ReadingDirectionSimpleType`.
READING_DIRECTIONS = ("left-to-right", "right-to-left", "top-to-bottom", "bottom-to-top")

_GROUPS = ("OrderedGroup", "OrderedGroupIndexed", "UnorderedGroup", "UnorderedGroupIndexed")


def is_page_xml(root: ET.Element) -> bool:
    return local_name(root.tag) == "PcGts" and namespace(root.tag).startswith(PAGE_NAMESPACE_PREFIX)


def parse_page_xml(root: ET.Element, path: Path) -> PageLayout:
    """The layout of a PAGE-XML document whose root is `root` (read from `path`)."""
    ns = "{" + namespace(root.tag) + "}"
    page = root.find(f"{ns}Page")
    if page is None:
        raise LayoutError(path, "the PAGE-XML has no Page element")
    notes: list[str] = []
    ranks = _region_ranks(page.find(f"{ns}ReadingOrder"), ns, notes)
    regions = sorted(_text_regions(page, ns, ranks, None), key=lambda found: found[1])
    lines = [line for region, _ in regions for line in _region_lines(region, ns, notes)]
    schema = namespace(root.tag)[len(PAGE_NAMESPACE_PREFIX):]
    return PageLayout(path, f"PAGE-XML {schema}", page.get("imageFilename"), _declared_size(page, path),
                      tuple(lines), tuple(notes))


def _declared_size(page: ET.Element, path: Path) -> tuple[float, float] | None:
    width, height = page.get("imageWidth"), page.get("imageHeight")
    if width is None or height is None:
        return None
    try:
        size = float(width), float(height)
    except ValueError:
        size = (0.0, 0.0)
    if not all(math.isfinite(v) and v > 0 for v in size):
        raise LayoutError(path, f"Page imageWidth={width!r} imageHeight={height!r} is not a size in pixels")
    return size


def _region_ranks(order: ET.Element | None, ns: str, notes: list[str]) -> dict[str, int]:
    """Each region id named by the `ReadingOrder` and its place in it (first mention wins)."""
    ids: list[str] = []
    if order is not None:
        for group in order:
            if local_name(group.tag) in _GROUPS:
                ids.extend(_group_ids(group, notes))
    ranks: dict[str, int] = {}
    for rid in ids:
        ranks.setdefault(rid, len(ranks))
    return ranks


def _group_ids(group: ET.Element, notes: list[str]) -> list[str]:
    """Region ids of a reading-order group, depth first: an ordered group's members by
    `@index`, an unordered group's in document order."""
    members = [m for m in group if local_name(m.tag).startswith("RegionRef") or local_name(m.tag) in _GROUPS]
    if local_name(group.tag).startswith("Ordered"):
        members.sort(key=lambda m: _index(m, notes))
    ids: list[str] = []
    for member in members:
        if member.get("regionRef"):
            ids.append(member.get("regionRef"))
        if local_name(member.tag) in _GROUPS:
            ids.extend(_group_ids(member, notes))
    return ids


def _index(member: ET.Element, notes: list[str]) -> int:
    raw = member.get("index")
    try:
        return int(raw)
    except (TypeError, ValueError):
        notes.append(f"ReadingOrder: {local_name(member.tag)} {member.get('regionRef')!r} has no whole-number "
                     f"index ({raw!r}); it is placed last")
        return 2**31


def _text_regions(parent: ET.Element, ns: str, ranks: dict[str, int], inherited: int | None
                  ) -> Iterator[tuple[ET.Element, float]]:
    """Every `TextRegion` under `parent` (nested ones too, inside tables and other
    regions) in document order, with its reading-order rank: its own, else that of the
    region around it, else after every ranked region."""
    for child in parent:
        rank = ranks.get(child.get("id", ""), inherited)
        if child.tag == f"{ns}TextRegion":
            yield child, math.inf if rank is None else rank
        yield from _text_regions(child, ns, ranks, rank)


def _region_lines(region: ET.Element, ns: str, notes: list[str]) -> Iterator[Line]:
    for line_id, element in _line_elements(region, ns):
        note_unknown_children(element, _LINE_CHILDREN, f"a PAGE TextLine {line_id!r}", notes)
        coords = element.find(f"{ns}Coords")
        if coords is None:
            notes.append(f"TextLine {line_id!r} skipped: it has no Coords")
            continue
        try:
            polygon = parse_points(coords.get("points"), 3)
        except ValueError as exc:
            notes.append(f"TextLine {line_id!r} skipped: its Coords are not a polygon ({exc})")
            continue
        yield Line(line_id, polygon, _baseline(element, ns, line_id, notes), line_truth(element, ns),
                   region.get("id"), _direction(element, region, line_id, notes))


def _direction(line: ET.Element, region: ET.Element, line_id: str, notes: list[str]) -> str | None:
    """The line's `readingDirection`, else its region's (PAGE lets a line override its
    region); None when neither states one or the value is not one PAGE defines."""
    raw = line.get("readingDirection") or region.get("readingDirection")
    if raw is None or raw in READING_DIRECTIONS:
        return raw
    notes.append(f"TextLine {line_id!r}: readingDirection {raw!r} is not one of PAGE's "
                 f"({', '.join(READING_DIRECTIONS)}); it is ignored")
    return None


def _line_elements(region: ET.Element, ns: str) -> Iterator[tuple[str, ET.Element]]:
    """A region's `TextLine` elements with the id their `Line` gets: their own, else
    one made from the region's id and their place in it."""
    for n, element in enumerate(region.findall(f"{ns}TextLine"), 1):
        yield element.get("id") or f"{region.get('id', 'region')}_line{n}", element


def text_lines(root: ET.Element) -> dict[str, ET.Element]:
    """Every `TextLine` element of a PAGE-XML document by the id its `Line` is given, to
    write results back into the element the line was read from."""
    ns = "{" + namespace(root.tag) + "}"
    return {line_id: element for region in root.iter(f"{ns}TextRegion")
            for line_id, element in _line_elements(region, ns)}


def _baseline(line: ET.Element, ns: str, line_id: str, notes: list[str]) -> tuple[tuple[float, float], ...] | None:
    element = line.find(f"{ns}Baseline")
    if element is None:
        return None
    try:
        return parse_points(element.get("points"), 2)
    except ValueError as exc:
        notes.append(f"TextLine {line_id!r}: its Baseline is ignored ({exc})")
        return None


def line_truth(line: ET.Element, ns: str) -> str | None:
    """The line's own `TextEquiv` (the one with index 1, else the first), else its words'
    joined by spaces; None when neither holds any text."""
    own = _equiv_text(line, ns)
    if own is not None:
        return own
    words = [text for word in line.findall(f"{ns}Word")
             if word.get("comments") != READING_COMMENT and (text := _equiv_text(word, ns)) is not None]
    return " ".join(words) if words else None


def _equiv_text(element: ET.Element, ns: str) -> str | None:
    """The text of the element's `TextEquiv` with index 1, else of its first, leaving out
    the readings this program wrote back (`READING_COMMENT`): those are not a truth."""
    equivs = [e for e in element.findall(f"{ns}TextEquiv") if e.get("comments") != READING_COMMENT]
    if not equivs:
        return None
    chosen = next((e for e in equivs if e.get("index") == "1"), equivs[0])
    text = chosen.findtext(f"{ns}Unicode")
    return text if text else None
