"""A corpus of images named on a command line: discovery, output names and shards.

A cluster job array splits one corpus between N jobs that cannot talk to each
other, so everything here is a pure function of the arguments: the same paths
give the same images in the same order with the same output names, whichever
shard asks. Output names are fixed on the whole corpus *before* it is sliced,
so two shards never pick the same name for different images.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from thulium_desktop.io.images import IMAGE_SUFFIXES
from thulium_desktop.io.regular import describe_irregular, irregular_reason


@dataclass(frozen=True)
class CorpusItem:
    """One image to process and the base name (POSIX, may contain folders) of its outputs."""

    path: Path
    name: str


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
    """Images named by `paths`: files as given, folders searched recursively.

    Inside folders only files with an image suffix count, hidden files and folders
    (a leading dot, e.g. temporary files of an interrupted write) are skipped, and so
    is anything under `exclude` (the output folder, so a rerun does not explain its
    own figures). An explicit file is taken whatever its suffix, so a mislabelled
    image is tried and, if unreadable, reported. The same file named twice is kept
    once. Output names are the path relative to the folder argument without the
    suffix (just the stem for a file argument), made unique across the corpus.
    Only regular files are taken; anything else, and any folder that cannot be
    listed, is in `missing` with the reason.
    """
    excluded = [Path(p).resolve() for p in exclude]
    found: list[tuple[Path, PurePosixPath]] = []
    missing: list[tuple[str, str]] = []
    seen: set[Path] = set()
    for arg in paths:
        root = Path(arg)
        kind = _kind(root)
        if kind == "folder":
            walked = _walk(root, excluded)
            missing.extend(walked.problems)
            candidates = [(p, PurePosixPath(p.relative_to(root).as_posix())) for p in walked.paths]
        elif kind == "file":
            candidates = [(root, PurePosixPath(root.name))]
        else:
            missing.append((str(arg), kind))
            continue
        for path, relative in candidates:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                found.append((path, relative))
    names = unique_names([rel for _, rel in found])
    return Corpus(tuple(CorpusItem(p, n) for (p, _), n in zip(found, names)), tuple(missing))


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
            walked = _walk(path, ())
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


def _walk(root: Path, excluded: Sequence[Path]) -> Listing:
    """Regular image files under `root` in sorted order, and the problems met: folders
    that cannot be listed (reported, not skipped in silence) and image-named entries that
    are not regular files. Symlinked folders are not followed (no loops)."""
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
            if name.startswith(".") or Path(name).suffix.lower() not in IMAGE_SUFFIXES:
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
    stems = [str(r.with_suffix("")) for r in relatives]
    counts = Counter(s.casefold() for s in stems)
    names = [str(r) if counts[s.casefold()] > 1 else s for r, s in zip(relatives, stems)]
    taken: dict[str, int] = {}
    out = []
    for name in names:
        key = name.casefold()
        taken[key] = taken.get(key, 0) + 1
        out.append(name if taken[key] == 1 else f"{name}~{taken[key]}")
    return out


def shard(items: Sequence[CorpusItem], index: int, count: int) -> list[CorpusItem]:
    """Shard `index` of `count` (0-based): every `count`-th item starting at `index`.

    Striding rather than cutting into blocks spreads neighbouring (often similar
    sized) images over the shards, so the jobs of an array finish at similar times.
    """
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {index}/{count}: need 0 <= I < N")
    return list(items[index::count])
