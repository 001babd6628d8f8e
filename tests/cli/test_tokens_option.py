"""`explain --tokens`: explain and draw only the chosen characters, and figures of a long
line that stay readable (issue 23, "Long lines").

Through the public CLI, with the bundled default reader on a 2000x112 line made of the
bundled sample words. Every matplotlib Figure the run makes is caught on its way to
the file, so the tests read the panels and captions the PNGs were drawn from.
"""

import json
import sys
from pathlib import Path

import cv2
import pytest
from matplotlib.figure import Figure

from thulium_desktop import cli
from thulium_desktop.render.figures import MAX_HEIGHT_IN, MIN_PANEL_H_PT, PAGE_WIDTH_IN
from thulium_desktop.xai.methods import REGISTRY

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "render"))  # the figure tests' long line
from figure_samples import bundled_line  # noqa: E402

DPI = 50
FAST = ["--steps", "2", "--samples", "2", "--dpi", str(DPI), "--format", "png,json", "--quiet"]


@pytest.fixture(scope="module")
def line_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("line")
    assert cv2.imwrite(str(folder / "line.png"), bundled_line())
    return folder


@pytest.fixture
def figures_drawn(monkeypatch):
    """Every matplotlib Figure constructed while the test runs."""
    built = []
    construct = Figure.__init__

    def kept(self, *args, **kwargs):
        built.append(self)
        construct(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "__init__", kept)
    return built


def explain(folder: Path, out: Path, *options: str) -> dict:
    assert cli.main(["explain", str(folder), "--out", str(out), *FAST, *options]) == 0
    record = json.loads((out / "line.json").read_text())
    assert record["status"] == "ok", record["error"]
    return record


def panels(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]


def assert_fits_a_page(png: Path, fig: Figure) -> None:
    """The PNG is at most a page (7 in wide, `MAX_HEIGHT_IN` high, at the run's dpi) and
    no panel of the figure it was drawn from is below the legible height."""
    height, width = cv2.imread(str(png)).shape[:2]
    assert width <= (PAGE_WIDTH_IN + 0.6) * DPI and height <= MAX_HEIGHT_IN * DPI
    fig.draw_without_rendering()
    assert all(ax.get_window_extent().height / fig.dpi * 72 >= MIN_PANEL_H_PT for ax in panels(fig))


@pytest.mark.parametrize("value", ["a", "3-1", "2,,4", "1-x", "-2", "10000", ""])
def test_a_bad_tokens_value_is_a_one_line_error(value, tmp_path, capsys):
    assert cli.main(["explain", str(tmp_path), "--tokens", value]) == 2
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert message.startswith("thulium-desktop explain: error: argument --tokens:")
    assert "Traceback" not in message


def test_tokens_and_token_are_one_choice(tmp_path, capsys):
    assert cli.main(["explain", str(tmp_path), "--token", "1", "--tokens", "2,3"]) == 2
    assert "not allowed with argument --token" in capsys.readouterr().err


def test_a_long_lines_grid_draws_a_page_of_characters_and_says_how_to_draw_the_rest(
    line_folder, tmp_path, figures_drawn
):
    record = explain(line_folder, tmp_path, "--method", "gradient")
    n = len(record["reading"])
    (fig,) = figures_drawn
    assert_fits_a_page(tmp_path / "line.gradient.png", fig)
    shown = len(panels(fig))
    assert 10 <= shown < n  # the line: tens of characters, not all on one page
    assert (f"characters #1\u2013#{shown} of {n} shown; no room for #{shown + 1}\u2013#{n}: "
            f"draw them with explain --tokens {shown}-{n - 1} (0-based)") in fig.get_suptitle()


def test_tokens_explains_and_draws_only_the_chosen_characters(line_folder, tmp_path, figures_drawn):
    record = explain(line_folder, tmp_path, "--method", "all", "--tokens", "0,3,5-8")
    assert all(m["token_indices"] == [0, 3, 5, 6, 7, 8] for m in record["methods"].values())
    grid = next(fig for fig in figures_drawn if " \u00b7 gradient (" in fig.get_suptitle())
    assert_fits_a_page(tmp_path / "line.gradient.png", grid)
    assert [ax.get_ylabel().split()[1] for ax in panels(grid)] == ["#1", "#4", "#6", "#7", "#8", "#9"]
    assert f"characters #1, #4, #6\u2013#9 of {len(record['reading'])} shown" in grid.get_suptitle()
    compare = next(fig for fig in figures_drawn if "methods on one scale" in fig.get_suptitle())
    assert_fits_a_page(tmp_path / "line.compare.png", compare)
    shown = [ax.get_title() for ax in panels(compare) if ax.get_title()]
    assert len(panels(compare)) == len(REGISTRY) * len(shown) and 1 <= len(shown) <= 6
    if len(shown) < 6:  # the others are named, with the option that draws them
        assert "no room for" in compare.get_suptitle() and "explain --tokens" in compare.get_suptitle()
