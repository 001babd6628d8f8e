"""Optional recognizer abilities: a model has `Contrastable` or `ScoredReader` by having
their members, and the engine, the CLI and the app's worker act on whether it does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from user_readers import ContrastableReader, ScoredUserReader, UserReader

from thulium_desktop import cli
from thulium_desktop.app.worker import Worker
from thulium_desktop.cli.errors import USAGE
from thulium_desktop.io.images import load_image
from thulium_desktop.models import load_model
from thulium_desktop.models.protocol import Contrastable, Recognizer, ScoredReader
from thulium_desktop.xai.folding import FoldedRecognizer
from thulium_desktop.xai.saliency import SaliencyConfig, SaliencyGenerator

HELLO = Path(__file__).resolve().parents[2] / "resources" / "samples" / "hello.png"


@pytest.fixture(scope="module")
def ctc_reader():
    return load_model("ctc-reader")


@pytest.fixture(scope="module")
def hello() -> np.ndarray:
    return load_image(HELLO)


def test_the_bundled_readers_and_user_readers_have_the_abilities_they_implement(ctc_reader):
    attention_reader = load_model("attention-reader")
    plain, contrastable, scored = UserReader(ctc_reader), ContrastableReader(ctc_reader), ScoredUserReader(ctc_reader)
    assert all(isinstance(m, Recognizer) for m in (ctc_reader, attention_reader, plain, contrastable, scored))
    assert [isinstance(m, Contrastable) for m in (ctc_reader, attention_reader, plain, contrastable, scored)] == [
        True, True, False, True, False]
    assert [isinstance(m, ScoredReader) for m in (ctc_reader, attention_reader, plain, contrastable, scored)] == [
        True, False, False, False, True]


def test_the_folded_copy_the_many_pass_methods_run_on_keeps_the_abilities(ctc_reader, hello):
    folded = FoldedRecognizer(ctc_reader)
    copy = folded.get(ctc_reader.prepare(hello).tensor)
    assert copy is not ctc_reader and folded.folded > 0
    assert isinstance(copy, Contrastable) and isinstance(copy, ScoredReader)


def test_contrast_is_refused_in_one_line_without_the_ability(ctc_reader, hello):
    with pytest.raises(ValueError, match="^user-reader cannot score a character it did not read$"):
        SaliencyGenerator(UserReader(ctc_reader)).explain_contrast(hello, 0, "x")


def test_a_contrastable_user_reader_gets_the_contrast_of_its_network(ctc_reader, hello):
    reading = ctc_reader.read(ctc_reader.prepare(hello).tensor)
    alternative = "x" if reading.tokens[0] != "x" else "y"
    own = SaliencyGenerator(ContrastableReader(ctc_reader)).explain_contrast(hello, 0, alternative)
    bundled = SaliencyGenerator(ctc_reader).explain_contrast(hello, 0, alternative)
    np.testing.assert_allclose(own.scores, bundled.scores, rtol=1e-6)
    np.testing.assert_allclose(own.maps, bundled.maps, atol=1e-6)


@pytest.mark.filterwarnings("ignore:GradCAM layer .* feeds a recurrent")
@pytest.mark.parametrize("method", ["gradient", "gradcam"])
def test_a_scored_reader_reads_and_scores_in_one_forward_the_others_read_first(ctc_reader, hello, method):
    config = SaliencyConfig(method=method)
    scored, plain = ScoredUserReader(ctc_reader), UserReader(ctc_reader)
    fused = SaliencyGenerator(scored, config).explain(hello)
    separate = SaliencyGenerator(plain, config).explain(hello)
    assert "read_scored" in scored.calls and "read" not in scored.calls
    assert plain.calls[0] == "read"
    assert fused.reading.text == separate.reading.text
    np.testing.assert_allclose(fused.maps, separate.maps, atol=1e-6)


def test_cli_contrast_with_a_plugin_that_cannot_score_unread_characters_is_a_usage_error(tmp_path, capsys):
    plugin = tmp_path / "reader.py"
    plugin.write_text("from user_readers import load_recognizer\n")
    argv = ["explain", str(HELLO), "--model", str(plugin), "--trust", "--contrast", "--out", str(tmp_path / "out"),
            "--quiet"]
    assert cli.main(argv) == USAGE
    err = capsys.readouterr().err
    assert "--contrast:" in err and "plain-user-reader" in err and "cannot score a character it did not read" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("reader", "scorable"), [(UserReader, False), (ContrastableReader, True)])
def test_the_app_offers_contrast_with_the_alphabet_of_a_contrastable_model(qapp, ctc_reader, reader, scorable):
    worker, loaded = Worker(), []
    worker.ready.connect(loaded.append)
    worker.loadFailed.connect(pytest.fail)
    worker.load(lambda: reader(ctc_reader))
    assert loaded[0].scorable == (ctc_reader.alphabet if scorable else "")
