"""The package carries what it ships: a wheel and an sdist hold the bundled models, their
cards, the samples and the desktop entry, found through one lookup (io.bundled)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

from thulium_desktop.__main__ import main
from thulium_desktop.io.bundled import bundled_path
from thulium_desktop.models.registry import list_models

ROOT = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = """
import sys
from setuptools import build_meta
out = sys.argv[1]
print(build_meta.build_sdist(out))
print(build_meta.build_wheel(out))
"""


def shipped_files() -> set[str]:
    """What the package must carry, relative to `thulium_desktop/resources`: each bundled
    model's weights and card, the model card, every sample and its table, the desktop entry."""
    files = {"models/README.md", "samples/ground_truth.tsv", "samples/README.md"}
    for info in list_models():
        files |= {f"models/{info.weights_path.name}", f"models/{info.json_path.name}"}
    files |= {f"samples/{p.name}" for p in bundled_path("samples").glob("*.png")}
    files |= {f"desktop/{p.name}" for p in bundled_path("desktop").iterdir()}
    return files


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """An sdist and a wheel built from a copy of the source tree (the checkout stays clean)."""
    tmp = tmp_path_factory.mktemp("build")
    source = tmp / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "runs", "checkpoints"))
    subprocess.run([sys.executable, "-c", BUILD_SCRIPT, str(tmp / "dist")], cwd=source, check=True,
                   capture_output=True)
    return next((tmp / "dist").glob("*.tar.gz")), next((tmp / "dist").glob("*.whl"))


def test_the_bundled_files_are_found_inside_the_package():
    assert bundled_path().resolve() == (ROOT / "resources").resolve()
    assert {i.name for i in list_models()} >= {"attention-reader", "ctc-reader"}
    assert (bundled_path("samples") / "ground_truth.tsv").is_file()


def test_the_wheel_carries_every_bundled_file(built):
    _, wheel = built
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = {f for f in shipped_files() if f"thulium_desktop/resources/{f}" not in names}
    assert not missing, f"the wheel lacks {sorted(missing)}"
    assert not any("/logs/" in n or "/checkpoints/" in n for n in names), "training logs are not shipped"


def test_the_sdist_carries_every_bundled_file(built):
    sdist, _ = built
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    missing = {f for f in shipped_files() if f"thulium_desktop/resources/{f}" not in names}
    assert not missing, f"the sdist lacks {sorted(missing)}"


def test_version_is_the_installed_distributions(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"thulium-desktop {version('thulium-desktop')}"
