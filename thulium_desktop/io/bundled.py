"""Where the files that ship with the package live: bundled models, samples, desktop entry.

The repository keeps them in the top-level `resources/`; `thulium_desktop/resources`
is a link to it, so a source checkout, an editable install, an sdist and a wheel all
find them at the same place inside the package. Every lookup goes through
`bundled_path`, so there is one rule for "where is what we ship", whatever the
working directory and however the package was installed.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

#: The freedesktop application id: `resources/desktop/<id>.desktop`, its icons, and the
#: name the app gives its windows so launchers match them to the entry.
APP_ID = "thulium-desktop"


def bundled_path(*parts: str) -> Path:
    """The path of a bundled folder or file, e.g. `bundled_path("models")`.

    The package is installed as plain files (never zipped), so the traversable is a
    real Path. It is not checked here: callers say in their own terms what is missing.
    """
    return Path(str(files("thulium_desktop").joinpath("resources", *parts)))
