"""The plain logic under errors first: per-token marks, file orders, specs."""

from __future__ import annotations

from pathlib import Path

from thulium_desktop.app.files import ImageStats, sorted_paths
from thulium_desktop.xai.ground_truth import compare, describe_edits
from thulium_desktop.xai.spec import MethodSpec


def test_marks_follow_the_hand_worked_alignment():
    c = compare(tuple("hamdwritng"), "handwriting")
    assert [i for i, k in enumerate(c.kinds) if k != "match"] == [2]
    assert c.substituted(2) == "n" and c.substituted(0) is None
    assert c.missed == {8: "i"}  # the skipped i sits before the read "n" (index 8)
    assert abs(c.cer - 2 / 11) < 1e-12
    assert describe_edits(c.counts) == "1 substitution, 1 deletion"


def test_a_multi_character_token_takes_its_first_error():
    c = compare(("he", "llo"), "hallo")
    assert c.kinds == ("substitution", "match") and c.truth_chars == ("ha", "llo")


def test_errors_first_orders_with_unknowns_last():
    a, b, c, d = (Path(n) for n in "abcd")
    stats = {a: ImageStats(0.1, 0.9), b: ImageStats(0.5, 0.2), c: ImageStats(None, 0.05)}
    assert sorted_paths([d, c, b, a], "name", stats) == [a, b, c, d]
    assert sorted_paths([a, b, c, d], "error", stats) == [b, a, c, d]
    assert sorted_paths([a, b, c, d], "confidence", stats) == [c, b, a, d]


def test_a_contrast_spec_is_signed_and_takes_gradients_for_attention():
    spec = MethodSpec.build("attention", {"absolute": True}, whole_reading=True, contrast=(2, "o"))
    assert spec.method == "gradient" and spec.signed and not spec.whole_reading
    assert spec != MethodSpec.build("gradient", {"absolute": False})
    assert spec.contrast == (2, "o")
