"""The handwriting fonts the synthetic data is drawn with, and which are held out.

Fonts come from Debian packages (`python -m thulium_desktop.training.apt` prints them;
`.ci/run` installs them; never fetched at run time). Two fonts never take part in training: their error rate is the
"unseen handwriting styles" number, how well a reader generalises to a new writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import logging

# Some Debian fonts carry a harmless post-table quirk that fontTools reports on import.
logging.getLogger("fontTools").setLevel(logging.ERROR)

FONT_ROOT = Path("/usr/share/fonts")

#: (Debian package, file name, upper-case only). File names are looked up under FONT_ROOT.
FONT_FILES: tuple[tuple[str, str, bool], ...] = (
    ("fonts-dkg-handwriting", "dkg.ttf", False),
    ("fonts-dkg-handwriting", "dkgIt.ttf", False),
    ("fonts-dkg-handwriting", "dkgBd.ttf", False),
    ("fonts-dkg-handwriting", "dkgBI.ttf", False),
    ("fonts-breip", "Breip.ttf", False),
    ("fonts-comic-neue", "ComicNeue-Regular.otf", False),
    ("fonts-comic-neue", "ComicNeue-Italic.otf", False),
    ("fonts-comic-neue", "ComicNeue-Light.otf", False),
    ("fonts-comic-neue", "ComicNeue-Bold.otf", False),
    ("fonts-comic-neue", "ComicNeue-LightItalic.otf", False),
    ("fonts-dancingscript", "DancingScript-Regular.otf", False),
    ("fonts-dancingscript", "DancingScript-Bold.otf", False),
    ("fonts-kaushanscript", "KaushanScript-Regular.otf", False),
    ("fonts-rufscript", "Rufscript010.ttf", False),
    ("fonts-ecolier-court", "Ecolier-court.ttf", False),
    ("fonts-leckerli-one", "LeckerliOne-Regular.otf", False),
    ("fonts-leckerli-one", "LeckerliOne-Regular.ttf", False),
    ("fonts-humor-sans", "Humor-Sans.ttf", True),
    ("fonts-tomsontalks", "TomsonTalks.ttf", True),
    # Added after the fourth run, for more writers: the unseen styles had stopped improving.
    # Because-We-Had-To draws lower case as small capitals, so it writes capitals only.
    ("fonts-bwht", "BecauseWeBuild-Regular.otf", True),
    ("fonts-bwht", "BecauseWeConnect-Regular.otf", True),
    ("fonts-bwht", "BecauseWeCreate-Regular.otf", True),
    ("fonts-bwht", "BecauseWeLearn-Regular.otf", True),
    ("fonts-bwht", "BecauseWeMentor-Regular.otf", True),
    ("fonts-bwht", "BecauseWeOrganize-Regular.otf", True),
    ("fonts-kristi", "Kristi.ttf", False),
    ("fonts-klee", "KleeOne-Regular.ttf", False),
    ("fonts-klee", "KleeOne-SemiBold.ttf", False),
    ("fonts-tlwg-purisa-ttf", "Purisa.ttf", False),
    ("fonts-tlwg-purisa-ttf", "Purisa-Oblique.ttf", False),
    ("fonts-tlwg-purisa-ttf", "Purisa-Bold.ttf", False),
    ("fonts-tlwg-purisa-ttf", "Purisa-BoldOblique.ttf", False),
)

#: Added after the sixth run, for still more writers (two hands from `fonts-sjfonts`, a
#: connected script, a marker and a pen hand from Japanese handwriting fonts'
#: Latin letters). They are drawn for training only: the held-out evaluation set and a
#: run's validation images keep the fonts above, so they stay the very images every
#: earlier run was measured on.
TRAINING_ONLY_FILES: tuple[tuple[str, str, bool], ...] = (
    ("fonts-sjfonts", "Delphine.ttf", False),
    ("fonts-sjfonts", "SteveHand.ttf", False),
    ("fonts-havana", "Havana-Regular.otf", False),
    ("fonts-yusei-magic", "YuseiMagic-Regular.ttf", False),
    ("fonts-seto", "setofont.ttf", False),
    # Added after the seventh run: a pen and a brush hand from `fonts-nanum-extra`, the
    # Latin letters of a Japanese hand-drawn font, and a rounded comic hand.
    ("fonts-nanum-extra", "NanumPen.ttf", False),
    ("fonts-nanum-extra", "NanumBrush.ttf", False),
    ("fonts-kiloji", "kiloji_p.ttf", False),
    ("fonts-staypuft", "StayPuft.ttf", False),
)

#: Packages kept out of training entirely: the "unseen handwriting styles".
HELD_OUT_PACKAGES = ("fonts-breip", "fonts-dancingscript")


@dataclass(frozen=True)
class Font:
    package: str
    path: Path
    upper_only: bool
    charset: frozenset[str]
    training_only: bool = False  # listed in TRAINING_ONLY_FILES

    @property
    def name(self) -> str:
        return self.path.stem


@lru_cache(maxsize=None)
def available_fonts() -> tuple[Font, ...]:
    """Every listed font that is installed, with the characters its cmap covers.

    fontTools is imported here, not at the top: `.ci/run` reads this module's package
    lists (training/apt.py) before anything is installed."""
    from fontTools.ttLib import TTFont

    found: list[Font] = []
    seen: set[str] = set()
    listed = [(entry, False) for entry in FONT_FILES] + [(entry, True) for entry in TRAINING_ONLY_FILES]
    for (package, filename, upper_only), training_only in listed:
        hits = sorted(FONT_ROOT.rglob(filename))
        if not hits or filename.rsplit(".", 1)[0] in seen:
            continue
        try:
            with TTFont(str(hits[0]), lazy=True) as font:
                cmap = font.getBestCmap() or {}
        except Exception as exc:  # noqa: BLE001  fontTools fails on a damaged file in many ways
            logging.getLogger(__name__).warning("skipping unreadable font %s: %s", hits[0], exc)
            continue
        seen.add(filename.rsplit(".", 1)[0])
        found.append(Font(package, hits[0], upper_only, frozenset(chr(c) for c in cmap), training_only))
    return tuple(found)


def missing_evaluation_fonts() -> list[str]:
    """The fonts the evaluation sets draw with that are not installed or not readable here,
    as "package: file" (a font listed in two formats counts once).

    Without one of them the held-out and unseen-style sets would be other images and
    their numbers not comparable with the card's, so measuring refuses instead."""
    installed = {f.name for f in available_fonts()}
    missing = {f"{package}: {filename}" for package, filename, _ in FONT_FILES
               if filename.rsplit(".", 1)[0] not in installed}
    return sorted(missing)


def training_fonts() -> tuple[Font, ...]:
    """Every installed font a reader learns from (the training-only ones included)."""
    fonts = tuple(f for f in available_fonts() if f.package not in HELD_OUT_PACKAGES)
    if not fonts:
        raise RuntimeError(
            "no handwriting fonts found under /usr/share/fonts; install them with the "
            "apt command in resources/models/README.md"
        )
    return fonts


def evaluation_training_fonts() -> tuple[Font, ...]:
    """The training fonts the held-out evaluation set and validation images draw with:
    all but the training-only ones, so those sets stay the same images run after run."""
    return tuple(f for f in training_fonts() if not f.training_only)


def held_out_fonts() -> tuple[Font, ...]:
    return tuple(f for f in available_fonts() if f.package in HELD_OUT_PACKAGES)
