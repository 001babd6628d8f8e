"""Figures of lines with many characters stay readable (issue 23, "Long lines").

A 60-character reading of a 2000x112 handwritten line (the issue's comparison of such
a line was 6789x2324 px of 259 unreadable panels): every figure kind fits a page,
no panel is lower than the legible minimum and no text smaller than the tick labels,
the characters that do not fit are left out rather than shrunk, and the caption says
which characters are shown and how to draw the others.
"""

from dataclasses import replace

import pytest
from figure_samples import bundled_line, explanation
from matplotlib.text import Text

from thulium_desktop.render import explanation_figure
from thulium_desktop.render.captions import index_ranges, shown_phrase
from thulium_desktop.render.figures import MAX_HEIGHT_IN, MIN_PANEL_H_PT, MIN_TEXT_PT, PAGE_WIDTH_IN
from thulium_desktop.xai.methods import REGISTRY

TEXT = ("the quick brown fox jumps over the lazy dog while cats sleep " * 2)[:60]
WORD = "recognitio"


@pytest.fixture(scope="module")
def line():
    return bundled_line()


@pytest.fixture(scope="module")
def word(line):
    return line[:, :410]  # "recognition" alone: a word image, about 3.7:1


@pytest.fixture(scope="module")
def line_methods(line):
    """Every method's maps of the line's 60 characters."""
    return {name: explanation(line, TEXT, method=name) for name in REGISTRY}


def drawn(fig):
    """The figure laid out: its image panels, and every piece of text on it."""
    fig.draw_without_rendering()
    panels = [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]
    texts = [t for t in fig.findobj(Text) if t.get_text() and t.get_visible()]
    return panels, texts


def assert_readable(fig, panels, texts):
    """On a page; every panel at least the legible height; no text smaller than the ticks;
    no column title running into its neighbour's."""
    width, height = fig.get_size_inches()
    assert width <= PAGE_WIDTH_IN + 0.6 and height <= MAX_HEIGHT_IN
    for ax in panels:
        assert ax.get_window_extent().height / fig.dpi * 72 >= MIN_PANEL_H_PT
    assert min(t.get_fontsize() for t in texts) >= MIN_TEXT_PT
    titles = sorted((ax.title.get_window_extent() for ax in panels if ax.get_title()), key=lambda b: (b.y0, b.x0))
    for a, b in zip(titles, titles[1:]):
        assert not a.overlaps(b)


def test_a_long_lines_grid_draws_a_page_of_characters_and_says_which(line):
    fig = explanation_figure("grid", line, {"integrated": explanation(line, TEXT)})
    panels, texts = drawn(fig)
    assert_readable(fig, panels, texts)
    shown = len(panels)
    assert 10 <= shown < 60
    assert [ax.get_ylabel().split()[1] for ax in panels] == [f"#{i + 1}" for i in range(shown)]
    assert (f"characters #1\u2013#{shown} of 60 shown; no room for #{shown + 1}\u2013#60: "
            f"draw them with explain --tokens {shown}-59 (0-based)") in fig.get_suptitle()


def test_the_apps_grid_of_a_long_line_centres_the_selected_character(line):
    fig = explanation_figure("grid", line, {"integrated": explanation(line, TEXT)}, 45)
    panels, texts = drawn(fig)
    numbers = [int(ax.get_ylabel().split()[1][1:]) for ax in panels]
    assert 46 in numbers and numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert 0 < numbers[0] and numbers[-1] <= 60
    assert f"characters #{numbers[0]}\u2013#{numbers[-1]} of 60 shown" in fig.get_suptitle()


def test_a_long_lines_comparison_is_a_band_per_character_not_hundreds_of_panels(line, line_methods):
    fig = explanation_figure("compare", line, line_methods)
    panels, texts = drawn(fig)
    assert_readable(fig, panels, texts)
    characters = [ax.get_title() for ax in panels if ax.get_title()]
    assert 1 <= len(characters) <= 10 and len(panels) == len(REGISTRY) * len(characters)
    methods = [ax.get_ylabel() for ax in panels if ax.get_ylabel()]
    assert methods == [m.label for m in REGISTRY.values()] * len(characters)  # each band names its rows
    assert f"characters #1\u2013#{len(characters)} of 60 shown" in fig.get_suptitle()


def test_the_comparison_of_a_selected_character_of_a_long_line_is_one_band(line, line_methods):
    fig = explanation_figure("compare", line, line_methods, 30)
    panels, texts = drawn(fig)
    assert_readable(fig, panels, texts)
    assert [ax.get_title().split()[1] for ax in panels if ax.get_title()] == ["#31"]
    assert len(panels) == len(REGISTRY) and "shown" not in fig.get_suptitle()


def test_a_words_comparison_wraps_its_characters_into_bands_and_draws_them_all(word):
    fig = explanation_figure("compare", word, {name: explanation(word, WORD, method=name) for name in REGISTRY})
    panels, texts = drawn(fig)
    assert_readable(fig, panels, texts)
    assert len(panels) == len(REGISTRY) * len(WORD)
    bands = {round(ax.get_position().y1, 3) for ax in panels if ax.get_title()}
    assert len(bands) >= 2  # ten characters do not fit one row of legible panels
    assert "shown" not in fig.get_suptitle()


def test_the_characters_chosen_are_drawn_and_the_caption_says_how_to_draw_others(line):
    every = explanation(line, TEXT)
    chosen = (0, 3, 5, 6, 7, 8)
    some = replace(every, maps=every.maps[list(chosen)], tokens=tuple(TEXT[i] for i in chosen), token_indices=chosen,
                   confidences=every.confidences[list(chosen)], scores=every.scores[list(chosen)])
    fig = explanation_figure("grid", line, {"integrated": some})
    panels, texts = drawn(fig)
    assert_readable(fig, panels, texts)
    assert [ax.get_ylabel().split()[1] for ax in panels] == ["#1", "#4", "#6", "#7", "#8", "#9"]
    assert ("characters #1, #4, #6\u2013#9 of 60 shown; draw others with explain --tokens (0-based) "
            "or select one in the app") in fig.get_suptitle()


def test_index_ranges_are_written_as_tokens_takes_them_and_as_the_labels_count():
    assert index_ranges([8, 0, 3, 5, 6, 7]) == "0,3,5-8"
    assert index_ranges([0, 3, 5, 6, 7, 8], first=1, mark="#") == "#1, #4, #6\u2013#9"
    assert shown_phrase(range(5), range(5), 5) is None
