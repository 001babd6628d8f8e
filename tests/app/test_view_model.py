"""The view model's rules, without a window or a QApplication: what the single view,
Compare and each Export kind show, when Contrast with truth applies, which maps are
drawn while they refine, what the selection does as readings come and go, and what
is asked of the worker.

The cases are those the window tests drive through the whole threaded window
(test_contrast_views, test_window_view, test_window_export, test_errors_first):
"hello" read against the truth "hallo" makes character 1 a substitution ('e' read,
'a' true) and the others correct.
"""

from __future__ import annotations

import string
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from thulium_desktop.app.details import view_details
from thulium_desktop.app.events import Events
from thulium_desktop.app.view_model import ALL, ViewModel
from thulium_desktop.io.truths import Truth
from thulium_desktop.xai.methods import compare_methods
from thulium_desktop.xai.saliency import Timings
from thulium_desktop.xai.spec import MethodSpec

SUBSTITUTED = 1
ALPHABET = string.ascii_lowercase
GRADIENT_METHODS = compare_methods()[1:]  # Compare's methods after attention


@pytest.fixture(autouse=True)
def gui_thread_garbage_collection():
    """Replaces the app tests' fixture of this name, which starts a QApplication: the view
    model needs none."""
    yield


def shown_reading(text: str) -> SimpleNamespace:
    """What the worker's `ReadingInfo` gives the model: a reading with its characters."""
    return SimpleNamespace(reading=SimpleNamespace(tokens=tuple(text)))


def explanation(maps: np.ndarray, signed: bool = False, tokens: str = "hello") -> SimpleNamespace:
    """A finished explanation as the view model reads it."""
    return SimpleNamespace(maps=maps, signed=signed, whole_reading=False, tokens=tuple(tokens))


def recorder(view: ViewModel, *names: str) -> list[str]:
    """The events `view` emits from now on, by name, in order."""
    seen: list[str] = []
    for name in names:
        view.events.connect(name, lambda name=name: seen.append(name))
    return seen


def open_image(view: ViewModel, truth: str | None = "hallo", read: str = "hello") -> None:
    view.set_image(np.zeros((8, 20), np.uint8), Path("hello.png"), "hello.png (1/1)", Truth(truth))
    view.set_reading(shown_reading(read))


@pytest.fixture
def view() -> ViewModel:
    """hello read against "hallo" by a model that scores any lowercase letter; attention
    chosen, the first character selected, Compare and Contrast off."""
    model = ViewModel()
    model.scorable = ALPHABET
    model.choose("attention", {}, compare=False, contrast=False)
    open_image(model)
    return model


@pytest.fixture
def contrasted(view) -> ViewModel:
    """As `view`, Contrast with truth on and the substituted character selected."""
    view.choose("attention", {}, compare=False, contrast=True)
    view.select(SUBSTITUTED)
    return view


def contrast_spec(method: str) -> MethodSpec:
    return MethodSpec.build(method, {}, contrast=(SUBSTITUTED, "a"))


# -- Contrast with truth ------------------------------------------------------------------
def test_a_substitution_under_contrast_shows_the_signed_gradient_for_attention(contrasted):
    spec = contrasted.view_spec()
    assert contrasted.contrast_target() == (SUBSTITUTED, "a")
    assert spec == contrast_spec("gradient") and spec.signed
    assert contrasted.method_spec("attention") is None  # attention itself has no contrast map


def test_a_method_with_gradients_draws_its_own_contrast(contrasted):
    contrasted.choose("integrated", {"num_steps": 4}, compare=False, contrast=True)
    assert contrasted.view_spec() == MethodSpec.build("integrated", {"num_steps": 4}, contrast=(SUBSTITUTED, "a"))


def test_a_correct_character_under_contrast_keeps_its_own_map_and_says_why(contrasted):
    contrasted.select(0)
    assert contrasted.contrast_target() is None
    assert contrasted.view_spec() == MethodSpec.build("attention", {})
    assert "Contrast applies to substituted characters only: ‘h’ was read correctly" in view_details(contrasted)
    contrasted.choose("attention", {}, compare=False, contrast=False)
    assert "Contrast applies" not in view_details(contrasted)


def test_the_whole_reading_under_contrast_asks_for_a_marked_character(contrasted):
    contrasted.select(ALL)
    assert contrasted.view_spec() == MethodSpec.build("attention", {}, whole_reading=True)
    assert "select one marked on the timeline" in contrasted.no_contrast_reason()


def test_the_details_of_a_contrast_name_both_characters_without_a_note(contrasted):
    exp = SimpleNamespace(maps=np.ones((1, 8, 20)), signed=True, whole_reading=False, tokens=("e",),
                          reading=SimpleNamespace(tokens=tuple("hello")), confidences=np.array([0.5]),
                          scores=np.array([1.0]), deltas=None, timings=Timings(0.1, 0.2, 0.3))
    contrasted.add_result(contrast_spec("gradient"), exp)
    text = view_details(contrasted)
    assert "rather than the true ‘a’ (character 2)" in text and "Contrast applies" not in text


def test_without_a_truth_there_is_nothing_to_contrast(view):
    open_image(view, truth=None)
    view.choose("attention", {}, compare=False, contrast=True)
    view.select(SUBSTITUTED)
    assert view.comparison is None and view.contrast_target() is None
    assert "no truth to contrast with" in view.no_contrast_reason()


def test_a_true_character_the_model_cannot_score_gets_a_reason(view):
    open_image(view, truth="h\u00e6llo")
    view.choose("attention", {}, compare=False, contrast=True)
    view.select(SUBSTITUTED)
    assert view.contrast_target() is None and view.view_spec().contrast is None
    assert "cannot score the true ‘æ’ (not in its alphabet)" in view.no_contrast_reason()
    view.scorable = ""  # a model that scores only what it read
    assert "this model cannot score a character it did not read" in view.no_contrast_reason()


# -- Compare -----------------------------------------------------------------------------
def test_compare_under_contrast_has_no_map_for_attention_and_contrasts_the_others(contrasted):
    specs = contrasted.compare_specs()
    assert list(specs) == list(compare_methods())
    assert specs["attention"] is None
    assert all(specs[m] == contrast_spec(m) for m in GRADIENT_METHODS)
    contrasted.select(0)  # read correctly: every method's own map, attention's too
    assert contrasted.compare_specs() == {m: MethodSpec.build(m, {}) for m in compare_methods()}


def test_compare_maps_share_a_signed_scale_only_when_a_shown_map_is_signed(contrasted):
    maps = np.arange(5 * 8 * 20, dtype=np.float32).reshape(5, 8, 20)
    contrasted.select(0)
    contrasted.add_result(MethodSpec.build("attention", {}), explanation(maps))
    shown, signed = contrasted.compare_maps()
    np.testing.assert_array_equal(shown["attention"], maps[0])
    assert all(shown[m] is None for m in GRADIENT_METHODS) and not signed
    contrasted.select(SUBSTITUTED)
    contrasted.add_result(contrast_spec("gradient"), explanation(maps[:1], signed=True))
    shown, signed = contrasted.compare_maps()
    assert shown["attention"] is None and signed
    np.testing.assert_array_equal(shown["gradient"], maps[0])


# -- Export ------------------------------------------------------------------------------
def test_each_export_kind_draws_what_the_window_shows(contrasted):
    assert contrasted.export_specs("view") == [contrast_spec("gradient")]
    assert contrasted.export_specs("grid") == [MethodSpec.build("attention", {})]  # every character's own map
    assert contrasted.export_specs("compare") == [contrast_spec(m) for m in GRADIENT_METHODS]
    contrasted.choose("attention", {}, compare=False, contrast=False)
    contrasted.select(ALL)
    assert contrasted.export_specs("view") == [MethodSpec.build("attention", {}, whole_reading=True)]
    assert contrasted.export_specs("grid") == [MethodSpec.build("attention", {})]
    assert contrasted.export_specs("compare") == [MethodSpec.build(m, {}, whole_reading=True) for m in compare_methods()]


def test_the_exported_character_is_the_selection_or_the_whole_reading(view):
    view.select(2)
    assert [view.export_index(kind) for kind in ("view", "grid", "compare")] == [2, 2, 2]
    view.select(ALL)
    assert [view.export_index(kind) for kind in ("view", "grid", "compare")] == [-1, 0, -1]


def test_an_export_has_its_explanations_only_when_every_one_is_finished(contrasted):
    assert contrasted.export_results("compare") is None
    finished = {m: explanation(np.ones((1, 8, 20)), signed=True) for m in GRADIENT_METHODS}
    for method in GRADIENT_METHODS[:-1]:
        contrasted.add_result(contrast_spec(method), finished[method])
    assert contrasted.export_results("compare") is None
    contrasted.add_result(contrast_spec(GRADIENT_METHODS[-1]), finished[GRADIENT_METHODS[-1]])
    assert contrasted.export_results("compare") == finished


# -- which maps are drawn ------------------------------------------------------------------
def test_partial_maps_are_drawn_until_the_final_ones_replace_them(view):
    spec = MethodSpec.build("integrated", {})
    view.choose("integrated", {}, compare=False, contrast=False)
    view.select(2)
    assert view.maps_for(spec) == (None, spec.signed)
    partial = np.random.default_rng(0).random((5, 8, 20))
    view.add_partial(spec, partial, 1, 4)
    values, signed = view.maps_for(spec)
    np.testing.assert_array_equal(values, partial[2])
    assert signed == spec.signed and view.progress[spec] == (1, 4)
    final = explanation(partial * 2, signed=True)
    view.add_result(spec, final)
    values, signed = view.maps_for(spec)
    np.testing.assert_array_equal(values, final.maps[2])
    assert signed and spec not in view.partials and spec not in view.progress


def test_a_single_map_spec_draws_its_one_map_whatever_the_selection(view):
    whole = MethodSpec.build("attention", {}, whole_reading=True)
    view.add_result(whole, explanation(np.ones((1, 8, 20))))
    view.select(3)
    assert view.maps_for(whole)[0] is not None
    contrast = contrast_spec("gradient")
    view.add_result(contrast, explanation(np.full((1, 8, 20), 2.0), signed=True))
    np.testing.assert_array_equal(view.maps_for(contrast)[0], np.full((8, 20), 2.0))


def test_a_selection_outside_the_maps_draws_nothing(view):
    spec = MethodSpec.build("attention", {})
    view.add_result(spec, explanation(np.ones((2, 8, 20))))
    view.select(4)
    assert view.maps_for(spec)[0] is None


def test_a_result_already_here_is_no_news(view):
    spec = MethodSpec.build("attention", {})
    exp = explanation(np.ones((5, 8, 20)))
    seen = recorder(view, "results")
    view.add_result(spec, exp)
    view.add_result(spec, exp)  # the cache answering a request again
    assert seen == ["results"]


def test_a_click_picks_the_character_strongest_there(view):
    assert view.strongest_token(3, 4) is None
    attention = np.zeros((5, 8, 20))
    attention[2, 4, 3] = 1.0
    view.add_result(MethodSpec.build("attention", {}), explanation(attention))
    view.choose("gradient", {}, compare=False, contrast=False)
    assert view.strongest_token(3, 4) == 2  # gradient not computed: attention picks
    gradient = np.zeros((5, 8, 20))
    gradient[4, 4, 3] = -3.0  # the strongest by magnitude
    view.add_result(MethodSpec.build("gradient", {}), explanation(gradient, signed=True))
    assert view.strongest_token(3, 4) == 4


# -- the selection -----------------------------------------------------------------------
def test_a_character_asked_for_before_the_reading_is_selected_when_it_comes():
    view = ViewModel()
    view.set_image(np.zeros((8, 20), np.uint8))
    view.select(9)  # --token 9, on a five-character reading
    assert view.selection == 0 and view.pending_selection == 9
    seen = recorder(view, "reading", "selection")
    view.set_reading(shown_reading("hello"))
    assert view.selection == 4 and view.pending_selection is None
    assert seen == ["reading", "selection"]


def test_a_new_images_reading_selects_its_first_character_and_all_stays_all(view):
    view.select(3)
    open_image(view)
    assert view.selection == 0
    view.select(ALL)
    open_image(view)
    assert view.selection == ALL


def test_selecting_keeps_inside_the_reading_and_always_says_so(view):
    seen = recorder(view, "selection")
    view.select(-5)
    assert view.selection == ALL
    view.select(40)
    assert view.selection == 4
    view.select(4)  # the same one: still news (the window asks again)
    assert seen == ["selection"] * 3


def test_a_shorter_reading_moves_the_selection_inside_it(view):
    view.select(4)
    view.set_reading(shown_reading("hi"))  # a second answer for the same image
    assert view.selection == 1


def test_an_empty_reading_selects_the_whole_reading_and_nothing_else(view):
    open_image(view, read="")
    assert view.selection == ALL
    seen = recorder(view, "selection")
    view.select(0)
    assert seen == [] and view.selection == ALL


# -- what is asked for --------------------------------------------------------------------
def test_the_single_view_asks_for_its_map_and_compare_for_every_methods(contrasted):
    assert contrasted.requested_specs() == [contrast_spec("gradient")]
    contrasted.choose("attention", {}, compare=True, contrast=True)
    assert contrasted.requested_specs() == [contrast_spec(m) for m in GRADIENT_METHODS]


def test_a_pending_export_adds_its_maps_once(view):
    own = MethodSpec.build("attention", {})
    view.pending_export = SimpleNamespace(kind="grid")
    assert view.requested_specs() == [own]  # the view's map is the grid's
    view.select(ALL)
    assert view.requested_specs() == [MethodSpec.build("attention", {}, whole_reading=True), own]
    assert view.take_export().kind == "grid" and view.take_export() is None
    assert view.requested_specs() == [MethodSpec.build("attention", {}, whole_reading=True)]


def test_another_reading_drops_the_maps_comparison_and_waiting_export(view):
    spec = MethodSpec.build("attention", {})
    view.add_result(spec, explanation(np.ones((5, 8, 20))))
    view.add_partial(MethodSpec.build("integrated", {}), np.ones((5, 8, 20)), 1, 2)
    view.pending_export = SimpleNamespace(kind="view")
    seen = recorder(view, "reading")
    view.forget_reading()
    assert seen == ["reading"]
    assert view.reading is None and view.comparison is None and view.pending_export is None
    assert not view.results and not view.partials and not view.progress
    assert view.truth == Truth("hallo")  # the image's truth stays


# -- the image and its truth ---------------------------------------------------------------
def test_an_image_is_announced_before_its_empty_reading(view):
    seen = recorder(view, "image", "reading", "selection")
    view.set_image(np.ones((4, 4), np.uint8), None, "array")
    assert seen == ["image", "reading"]
    assert view.path is None and view.title == "array" and view.truth == Truth()
    assert view.image_key and view.reading is None and view.comparison is None


def test_a_chosen_truth_is_compared_with_the_reading_there(view):
    seen = recorder(view, "truth")
    view.set_truth(Truth("hello"))
    assert seen == ["truth"] and view.comparison.cer == 0.0
    view.set_truth(Truth())
    assert view.comparison is None


def test_a_retitled_image_says_so(view):
    seen = recorder(view, "title")
    view.set_title("hello.png (2/2)")
    assert seen == ["title"] and view.title == "hello.png (2/2)"


def test_events_call_their_observers_in_order_and_refuse_unknown_names():
    events = Events("image")
    calls: list[int] = []
    events.connect("image", lambda: calls.append(1))
    events.connect("image", lambda: calls.append(2))
    events.emit("image")
    assert calls == [1, 2]
    with pytest.raises(ValueError, match="no event 'imgae'"):
        events.connect("imgae", lambda: None)


def test_the_view_model_imports_no_qt():
    """The rules must be importable (and testable) where no Qt is, as the engine is."""
    code = ("import sys, thulium_desktop.app.view_model, thulium_desktop.app.details; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'PySide6', 'pyqtgraph', 'shiboken6'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# -- truths that are not compared, files that could not be read ------------------------------
def test_a_truth_ten_times_the_reading_is_the_truth_problem_not_a_comparison(view):
    open_image(view, truth="x" * 101, read="hello")  # over 10x and over the floor of 100
    assert view.comparison is None
    assert view.truth_problem.startswith("the truth is 101 characters long, more than 100 ")
    assert view.no_contrast_reason() == "Contrast with truth: this image has no truth to contrast with."
    view.set_reading(shown_reading("h" * 11))  # another model reads more: now it compares
    assert view.truth_problem is None and view.comparison is not None


def test_an_unusable_truth_is_the_truth_problem(view):
    view.set_truth(Truth(problem="the truth of hello.png is 1,000,000 characters long"))
    assert view.truth_problem == "the truth of hello.png is 1,000,000 characters long"
    assert view.comparison is None


def test_an_unreadable_file_drops_everything_of_the_image_before(view):
    view.add_result(MethodSpec.build("attention", {}), explanation(np.ones((5, 8, 20))))
    seen = recorder(view, "image", "reading")
    view.set_unreadable(Path("broken.png"), "broken.png (2/3)", "the file is empty")
    assert seen == ["image", "reading"]
    assert view.image is None and view.reading is None and view.results == {}
    assert (view.path, view.title, view.failure) == (Path("broken.png"), "broken.png (2/3)", "the file is empty")
    assert view.truth == Truth() and view.comparison is None
    assert view.maps_for(view.view_spec()) == (None, False)
    open_image(view)
    assert view.failure is None and view.image is not None


# -- a long line's selected character first ------------------------------------------------
def test_a_partial_stack_shows_the_selected_map_and_no_map_for_characters_still_missing(view):
    """The worker posts the selected character's map first, the others' rows NaN: the
    selected one shows, another selected meanwhile shows nothing rather than a blank map
    taken for a final one."""
    view.choose("gradient", {}, compare=False, contrast=False)
    spec = view.view_spec()
    maps = np.full((5, 8, 20), np.nan, np.float32)
    maps[2] = 0.5
    view.select(2)
    view.add_partial(spec, maps, 1, 2)
    shown, _ = view.maps_for(spec)
    assert shown is not None and np.all(shown == 0.5)
    assert "refining… 1 of 2" in view_details(view)
    view.select(3)
    assert view.maps_for(spec) == (None, spec.signed)
