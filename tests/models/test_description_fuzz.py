"""Fuzzing the bundled models' descriptions (issue 26): any value in any field gives a
model that reads, or one `ModelLoadError` line; never another exception, a hang or a
large allocation (the memory ceiling turns one into a failure)."""

from __future__ import annotations

import json
import shutil

import pytest
from hostile import GiB, memory_ceiling
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thulium_desktop.io.images import load_image
from thulium_desktop.models import ModelLoadError, load_model_files
from thulium_desktop.models.registry import MODELS_DIR

MODELS = ("attention-reader", "ctc-reader")
SAMPLE = load_image(MODELS_DIR.parent / "samples" / "hello.png")
CARDS = {name: json.loads((MODELS_DIR / f"{name}.json").read_text(encoding="utf-8")) for name in MODELS}
#: Every field a description has: ("name",) at the top, ("hparams", "hidden") inside.
FIELDS = sorted({(name, key) for name, card in CARDS.items() for key in card}
                | {(name, "hparams", key) for name, card in CARDS.items() for key in card["hparams"]})

SCALARS = (st.none() | st.booleans() | st.floats() | st.text(max_size=30)
           | st.integers() | st.integers(-3, 5000) | st.sampled_from([10**12, 10**400, 2**63, -(2**63)]))
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=6)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
ABSENT = object()


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzzed")
    for name in MODELS:
        shutil.copy(MODELS_DIR / f"{name}.safetensors", folder / f"{name}.safetensors")
    return folder


@pytest.mark.timeout(120)
@settings(max_examples=300, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), value=st.one_of(st.just(ABSENT), JSON_VALUES))
def test_any_value_in_any_field_loads_or_is_one_line(copies, field, value):
    model, *path = field
    card = json.loads(json.dumps(CARDS[model]))
    holder = card["hparams"] if len(path) == 2 else card
    if value is ABSENT:
        holder.pop(path[-1])
    else:
        holder[path[-1]] = value
    (copies / f"{model}.json").write_text(json.dumps(card), encoding="utf-8")
    with memory_ceiling(GiB):
        try:
            recognizer = load_model_files(copies / f"{model}.safetensors")
        except ModelLoadError as exc:
            assert "\n" not in str(exc)
            return
        reading = recognizer.read(recognizer.prepare(SAMPLE).tensor)
    assert len(reading) <= SAMPLE.shape[1]
