"""A corpus of images named on a command line: discovery, output names and shards.

A page with a PAGE-XML or ALTO layout is not one image but its lines: each becomes an
item named `<page>/<line id>` that carries its line (polygon and truth) and is cut out
of the page when loaded (`load_item`).

A cluster job array splits one corpus between N jobs that cannot talk to each
other, so everything here is a pure function of the arguments: the same paths
give the same images in the same order with the same output names, whichever
shard asks. Output names are fixed on the whole corpus *before* it is sliced,
so two shards never pick the same name for different images.
"""

from __future__ import annotations

import os
import re
import stat
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath

from thulium_desktop.io.alto import READING_NOTE
from thulium_desktop.io.documents import EXPORT_TAGS, PageLine, cut_page_line, find_image, find_layout, read_layout
from thulium_desktop.io.images import IMAGE_SUFFIXES, ImageLoadError, LoadedImage, read_image
from thulium_desktop.io.kraken_lines import segment_page
from thulium_desktop.io.layout import LayoutError, NotALayout, PageLayout
from thulium_desktop.io.regular import describe_irregular, irregular_reason

#: Layout files (PAGE-XML, ALTO) taken from folders beside the images.
LAYOUT_SUFFIXES = (".xml",)


@dataclass(frozen=True)
class CorpusItem:
    """One image to process and the base name (POSIX, may contain folders) of its outputs.

    For a line of a page, `path` is the page's image and `line` the line to cut from it
    (with its truth from the layout); None for an image taken whole.
    """

    path: Path
    name: str
    line: PageLine | None = None

    @property
    def label(self) -> str:
        """How messages and tables name the item: its path, and `#line-id` for a line."""
        return str(self.path) if self.line is None else f"{self.path}#{self.line.line.id}"


@dataclass(frozen=True)
class Corpus:
    """The images found, and what could not be used, as (path, reason): arguments that
    name nothing readable, folders that cannot be listed, image-named entries that are
    not regular files (a named pipe would block the run forever if opened)."""

    items: tuple[CorpusItem, ...]
    missing: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Listing:
    """What the app opens for some paths, and what it cannot, as (path, reason): shown
    as unreadable files are, so that nothing in a folder is skipped without a word."""

    paths: list[Path]
    problems: list[tuple[str, str]]


def collect_images(paths: Iterable[str | os.PathLike], exclude: Iterable[str | os.PathLike] = ()) -> Corpus:
    """Images named by `paths`: files as given, folders searched recursively; pages with
    a layout replaced by their lines.

    Inside folders only files with an image suffix count, hidden files and folders
    (a leading dot, e.g. temporary files of an interrupted write) are skipped, and so
    is anything under `exclude` (the output folder, so a rerun does not explain its
    own figures). An explicit file is taken whatever its suffix, so a mislabelled
    image is tried and, if unreadable, reported. The same file named twice is kept
    once. Output names are the path relative to the folder argument without the
    suffix (just the stem for a file argument), made unique across the corpus.
    Only regular files are taken; anything else, and any folder that cannot be
    listed, is in `missing` with the reason.

    A `.xml` file (named, or in a folder) that is PAGE-XML or ALTO stands for its
    page's lines in reading order, named `<page>/<line id>`, and so does an image with
    such a file beside it (`documents.find_layout`); the page's image is then not
    taken whole, nor is an image that a layout found with it names. A page is given
    once: by its image's own layout where that was found too (the user's `scan.xml`
    rather than an export's `scan.page.xml` beside it), though a layout named
    explicitly is used as it is. `<page>` is the image's path without its suffix, or
    the layout's without `.xml` and an export's `.page`/`.alto`. XML in a folder that
    is neither format is passed over; a layout that cannot be used (malformed, its
    image missing) is in `missing`.
    """
    excluded = [Path(p).resolve() for p in exclude]
    found: list[tuple[Path, PurePosixPath, bool]] = []
    missing: list[tuple[str, str]] = []
    seen: set[Path] = set()
    for arg in paths:
        root = Path(arg)
        kind = _kind(root)
        if kind == "folder":
            walked = _walk(root, excluded, IMAGE_SUFFIXES + LAYOUT_SUFFIXES)
            missing.extend(walked.problems)
            candidates = [(p, PurePosixPath(p.relative_to(root).as_posix()), False) for p in walked.paths]
        elif kind == "file":
            candidates = [(root, PurePosixPath(root.name), True)]
        else:
            missing.append((str(arg), kind))
            continue
        for path, relative, explicit in candidates:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                found.append((path, relative, explicit))
    pages = _Pages(found, missing)
    entries = [entry for path, relative, explicit in found for entry in pages.entries(path, relative, explicit)]
    names = _unique([stem for _, stem, _, _ in entries], [full for _, _, full, _ in entries])
    items = tuple(CorpusItem(path, name, line) for (path, _, _, line), name in zip(entries, names))
    return Corpus(items, tuple(missing))


#: (image path, output name without suffix, output name with it, the line or None)
_Entry = tuple[Path, str, str, PageLine | None]


class _Pages:
    """What each found file stands for: an image taken whole, or a page's lines, given
    once whichever of the page's files is met first.

    The layout files found are read first (each once; why one cannot be used, and the
    lines it skips, go to `missing`), so that an image a found layout names is not
    taken whole even where it is met before that layout (an OCR-D workspace lists
    `OCR-D-IMG/` before `OCR-D-SEG/`), and a layout that is not its image's own
    (`find_layout`) leaves the page to the image's own where that was found too."""

    def __init__(self, found: Sequence[tuple[Path, PurePosixPath, bool]], missing: list[tuple[str, str]]) -> None:
        self.missing = missing
        self.layouts: dict[Path, PageLayout | LayoutError] = {}
        self.given: set[Path] = set()
        #: each found layout file (resolved) and the image it names, or why it names none
        self.images = {path.resolve(): _named_image(self._read(path)) for path, _, _ in found if _is_layout_file(path)}
        #: the images a found layout gives lines of (a region-only layout, such as an OCR-D
        #: step before line detection, gives none: its image is not taken from the walk)
        self.named = {image.resolve() for key, image in self.images.items()
                      if isinstance(image, Path) and _has_lines(self.layouts[key])}

    def entries(self, path: Path, relative: PurePosixPath, explicit: bool) -> list[_Entry]:
        if _is_layout_file(path):
            return self._from_layout(path, relative, explicit)
        page = str(relative.with_suffix(""))
        own = find_layout(path, read=self._layout)
        if own is not None and _has_lines(self._read(own)):
            return self._lines(self._read(own), path, page)
        if own is not None and isinstance(self._read(own), LayoutError):
            return []  # why its own layout cannot be used is in `missing`
        if path.resolve() in self.named:
            return []  # a layout found with it gives its lines, before or after it
        return [(path, page, str(relative), None)]

    def _from_layout(self, path: Path, relative: PurePosixPath, explicit: bool) -> list[_Entry]:
        """A layout file's lines, cut from the image it names (XML in a folder that is no
        layout is passed over; named explicitly, it is reported)."""
        key = path.resolve()
        layout, image = self.layouts[key], self.images[key]
        if isinstance(layout, NotALayout) and explicit:
            self.missing.append((str(path), layout.reason))
        if isinstance(layout, LayoutError) or key in self.given:
            return []
        if isinstance(image, LayoutError):
            self.missing.append((str(path), image.reason))
            return []
        if not explicit and self._leaves_to_own_layout(key, image):
            return []
        return self._lines(layout, image, _page_name(relative))

    def _leaves_to_own_layout(self, key: Path, image: Path) -> bool:
        """Whether `image` has a layout of its own other than the found layout file `key`,
        found too: that one gives the page, whichever is met first."""
        own = find_layout(image, read=self._layout)
        return (own is not None and own.resolve() != key and own.resolve() in self.images
                and _has_lines(self.layouts[own.resolve()]))

    def _read(self, path: Path) -> PageLayout | LayoutError:
        key = path.resolve()
        if key not in self.layouts:
            try:
                self.layouts[key] = read_layout(path)
            except LayoutError as exc:
                self.layouts[key] = exc
                if not isinstance(exc, NotALayout):
                    self.missing.append((str(path), exc.reason))
            else:
                # notes on what could not be used; an exported ALTO's text being a reading is
                # no failure: each of its lines' truth says so (`TruthSource.lookup`)
                self.missing.extend((str(path), note) for note in self.layouts[key].notes if note != READING_NOTE)
        return self.layouts[key]

    def _layout(self, path: Path) -> PageLayout:
        """`_read` as `find_layout` reads: the layout, or why not raised."""
        layout = self._read(path)
        if isinstance(layout, LayoutError):
            raise layout.with_traceback(None)
        return layout

    def _lines(self, layout: PageLayout, image: Path, page: str) -> list[_Entry]:
        keys = {layout.path.resolve(), image.resolve()}
        if not layout.lines or keys & self.given:
            return []  # a layout without lines claims neither the page nor its image
        self.given |= keys
        return [(image, _line_name(page, line.id), _line_name(page, line.id), PageLine(layout, line))
                for line in layout.lines]


def _has_lines(layout: PageLayout | LayoutError) -> bool:
    return isinstance(layout, PageLayout) and bool(layout.lines)


def _is_layout_file(path: Path) -> bool:
    return path.suffix.lower() in LAYOUT_SUFFIXES


def _named_image(layout: PageLayout | LayoutError) -> Path | LayoutError:
    """The image file `layout` names, or why there is none (`layout` itself when it
    could not be read)."""
    if isinstance(layout, LayoutError):
        return layout
    try:
        return find_image(layout)
    except LayoutError as exc:
        return exc


def _page_name(layout_file: PurePosixPath) -> str:
    """The name of the page a layout file describes: its path without `.xml` and without
    an export's tag (`scan.page.xml` describes `scan`), so that a page is named alike
    whichever of its files is met first."""
    stem = layout_file.with_suffix("")
    return str(stem.with_suffix("") if stem.suffix.lower() in EXPORT_TAGS else stem)


def _line_name(page: str, line_id: str) -> str:
    """The output name of a page's line: `<page>/<line id>`, the id made a file name."""
    return f"{page}/{_safe(line_id)}"


def _safe(line_id: str) -> str:
    """A line id as a file name: anything but letters, digits, `.`, `_` and `-` becomes
    `_`, and a leading dot is dropped (no hidden outputs)."""
    return re.sub(r"[^\w.-]", "_", line_id).lstrip(".") or "_"


def segment_images(items: Sequence[CorpusItem], corpus: Sequence[CorpusItem]) -> Corpus:
    """`items` with each image taken whole replaced by the lines kraken's baseline
    segmenter finds on it (`--segment`: a page without PAGE-XML or ALTO), named
    `<image's name>/<line id>` and cut and read as a layout's lines are.

    Called on one shard's items, after `shard`: segmenting is seconds per page, and a
    job of an array should not segment the other jobs' pages. A line's name is made
    unique against every name of `corpus` (the whole corpus, so no shard takes a name
    another shard's image has). An image that cannot be decoded is kept whole, so that
    loading it says why; one where kraken finds no line, and the lines kraken gives
    unusable, are in `missing`. Raises `KrakenMissing` when kraken is not installed.
    """
    taken = {item.name.casefold() for item in corpus}
    out: list[CorpusItem] = []
    missing: list[tuple[str, str]] = []
    for item in items:
        try:
            page = None if item.line is not None else page_image(item)
        except ImageLoadError:
            page = None
        if page is None:
            out.append(item)
            continue
        layout = segment_page(page.image, item.path)
        missing.extend((str(item.path), note) for note in layout.notes)
        if not layout.lines:
            missing.append((str(item.path), "kraken's segmenter found no text line on it"))
        out.extend(CorpusItem(item.path, _free_name(_line_name(item.name, line.id), taken), PageLine(layout, line))
                   for line in layout.lines)
    return Corpus(tuple(out), tuple(missing))


def _free_name(name: str, taken: set[str]) -> str:
    """`name`, or `name~2`, `name~3`, ... when another output already has it (compared
    case-insensitively, as `unique_names` does); the name given is then taken."""
    candidate, n = name, 1
    while candidate.casefold() in taken:
        n += 1
        candidate = f"{name}~{n}"
    taken.add(candidate.casefold())
    return candidate


def load_item(item: CorpusItem) -> LoadedImage:
    """An item's pixels and the notes on how they were loaded: an image read whole, or a
    line cut out of its page (paper outside its polygon; a note when the layout's
    coordinates were scaled to the image). Raises `ImageLoadError` naming the page's
    image when the page cannot be read or the layout does not fit it."""
    if item.line is None:
        return read_image(item.path)
    page = _read_page(item.path, *_identity(item.path))
    try:
        line, notes = cut_page_line(page.image, item.path, item.line)
    except LayoutError as exc:
        raise ImageLoadError(item.path, f"layout {Path(exc.path).name}: {exc.reason}") from exc
    return LoadedImage(line.image, page.notes + notes)


def page_image(item: CorpusItem) -> LoadedImage:
    """The decoded page a line item is cut from: the one `load_item` keeps while a page's
    lines are loaded, so showing the page beside its line decodes the scan once."""
    return _read_page(item.path, *_identity(item.path))


def _identity(path: Path) -> tuple[int, int]:
    try:
        info = os.stat(path)
    except OSError:
        return 0, 0  # read_image says why
    return info.st_mtime_ns, info.st_size


@lru_cache(maxsize=1)
def _read_page(path: Path, mtime_ns: int, size: int) -> LoadedImage:
    """A page image, kept while its lines are loaded one after the other: decoding a scan
    of tens of millions of pixels for each of its lines would multiply a run's time by
    its number of lines. Keyed by the file's modification time and size, so an edited
    page is read anew."""
    return read_image(path)


def list_images(paths: Iterable[str | os.PathLike]) -> Listing:
    """What the app opens for `paths`: files as given, folders replaced by the images
    `collect_images` would find in them (the same walk: hidden files skipped, sorted),
    and the problems that walk met (folders it could not list, pipes and devices).

    A file is kept whatever its suffix, and also when it does not exist or is not a
    regular file: opening one explicitly should say why it cannot be read rather than
    silently skip it (`load_image` refuses a pipe without opening it for reading).
    """
    out: list[Path] = []
    problems: list[tuple[str, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            walked = _walk(path, (), IMAGE_SUFFIXES)
            out.extend(walked.paths)
            problems.extend(walked.problems)
        else:
            out.append(path)
    return Listing(out, problems)


def image_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """`list_images(paths).paths`: for a caller that reports only the files it fails to open."""
    return list_images(paths).paths


def _kind(path: Path) -> str:
    """"folder", "file" (regular, links followed), or why `path` is neither."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file or folder"
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()
    if stat.S_ISDIR(mode):
        return "folder"
    return "file" if stat.S_ISREG(mode) else describe_irregular(mode)


def _walk(root: Path, excluded: Sequence[Path], suffixes: Sequence[str]) -> Listing:
    """Regular files under `root` with one of `suffixes` (any case) in sorted order, and
    the problems met: folders that cannot be listed (reported, not skipped in silence)
    and entries so named that are not regular files. Symlinked folders are not followed
    (no loops)."""
    out: list[Path] = []
    problems: list[tuple[str, str]] = []

    def unlisted(exc: OSError) -> None:
        problems.append((str(exc.filename or root), f"cannot list the folder: {(exc.strerror or str(exc)).lower()}"))

    for folder, dirs, files in os.walk(root, onerror=unlisted):
        here = Path(folder)
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and (here / d).resolve() not in excluded
        )
        for name in sorted(files):
            if name.startswith(".") or Path(name).suffix.lower() not in suffixes:
                continue
            reason = irregular_reason(here / name)
            if reason is None:
                out.append(here / name)
            else:
                problems.append((str(here / name), reason))
    return Listing(out, problems)


def unique_names(relatives: Sequence[PurePosixPath]) -> list[str]:
    """Output base names: the relative path without its suffix, unless two images would share
    it (`a.png` and `a.jpg`, or `x.png` in two folder arguments), in which case the clashing
    ones keep their suffix (`a.png`, `a.jpg`) and any remaining clash gets `~2`, `~3`, ...

    Clashes are found case-insensitively, because the outputs may land on a file
    system (macOS, Windows) where `A.png` and `a.png` are the same file.
    """
    return _unique([str(r.with_suffix("")) for r in relatives], [str(r) for r in relatives])


def _unique(stems: Sequence[str], fulls: Sequence[str]) -> list[str]:
    """`unique_names` on names given both ways: without their suffix and with it."""
    counts = Counter(s.casefold() for s in stems)
    names = [full if counts[s.casefold()] > 1 else s for full, s in zip(fulls, stems)]
    taken: dict[str, int] = {}
    out = []
    for name in names:
        key = name.casefold()
        taken[key] = taken.get(key, 0) + 1
        out.append(name if taken[key] == 1 else f"{name}~{taken[key]}")
    return out


def shard(items: Sequence[CorpusItem], index: int, count: int) -> list[CorpusItem]:
    """Shard `index` of `count` (0-based): every `count`-th page starting at `index`, a
    page being an image taken whole or all the lines of one scan.

    Striding rather than cutting into blocks spreads neighbouring (often similar
    sized) images over the shards, so the jobs of an array finish at similar times.
    A page's lines stay in one shard: each job then decodes each scan once, and can
    write a page's results together.
    """
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {index}/{count}: need 0 <= I < N")
    return [item for page in _pages(items)[index::count] for item in page]


def _pages(items: Sequence[CorpusItem]) -> list[list[CorpusItem]]:
    """`items` grouped into pages: consecutive lines of the same scan together."""
    pages: list[list[CorpusItem]] = []
    for item in items:
        previous = pages[-1][-1] if pages else None
        same_scan = previous is not None and previous.path == item.path
        if same_scan and item.line is not None and previous.line is not None:
            pages[-1].append(item)
        else:
            pages.append([item])
    return pages
