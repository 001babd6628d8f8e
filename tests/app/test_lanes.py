"""Each lane of the client on its own, over a real worker thread and the tiny CRNN:
its newest job is shown, its stale ones cached or dropped, and no lane's job
cancels, hides or waits on another lane's (there is no window here)."""

from __future__ import annotations

import threading

import cv2
import pytest
from gui_helpers import WAIT_MS, GatedEngine, GatedTrust, close_during_a_gated_job
from tiny_models import ALPHABET, tiny_crnn

from thulium_desktop.app.client import EngineClient
from thulium_desktop.app.jobs import image_key
from thulium_desktop.app.worker import default_engine
from thulium_desktop.io.images import load_image
from thulium_desktop.models import CTCRecognizer
from thulium_desktop.xai.config import SaliencyConfig
from thulium_desktop.xai.saliency import SaliencyGenerator
from thulium_desktop.xai.spec import MethodSpec

ATTENTION = MethodSpec.build("attention", {})
GRADIENT = MethodSpec.build("gradient", {})
GRADCAM = MethodSpec.build("gradcam", {})
INTEGRATED = MethodSpec.build("integrated", {"num_steps": 8})


@pytest.fixture
def make_client(qtbot, models, request):
    """A started client (no window) with its first model loaded; stopped at teardown."""

    def make(engine_factory=default_engine) -> EngineClient:
        client = EngineClient(models, engine_factory)
        request.addfinalizer(client.shutdown)
        client.start()
        qtbot.waitUntil(lambda: client.models.current is not None, timeout=WAIT_MS)
        return client

    return make


def gated_engines(engines: list[GatedEngine]):
    """An engine factory whose engines wait on their gate; `engines` holds them in order."""
    return lambda recognizer: engines.append(GatedEngine(recognizer)) or engines[-1]


def record(*signals) -> list[tuple]:
    """Every emission of any of `signals` from now on, as its argument tuple."""
    seen: list[tuple] = []
    for signal in signals:
        signal.connect(lambda *args: seen.append(args))
    return seen


def explained(qtbot, client: EngineClient, image, spec: MethodSpec):
    """The maps lane's final explanation of `image` under `spec`."""
    shown = record(client.maps.explained)
    with qtbot.waitSignal(client.maps.finished, timeout=WAIT_MS):
        client.maps.request(image, image_key(image), [spec])
    return next(exp for s, exp in shown if s == spec)


def test_the_maps_lane_shows_its_newest_request_only_and_caches_the_stale_one(qtbot, make_client, word_image):
    engines: list[GatedEngine] = []
    client = make_client(lambda r: engines.append(GatedEngine(r, honour_cancel=False)) or engines[-1])
    maps = client.maps
    first, second = word_image, word_image[:, ::-1].copy()
    maps.request(first, image_key(first), [ATTENTION], want_reading=True)
    qtbot.waitUntil(engines[0].entered.is_set, timeout=WAIT_MS)
    shown, readings, cancelled = record(maps.explained), record(maps.readingReady), record(maps.cancelled)
    maps.request(second, image_key(second), [ATTENTION], want_reading=True)  # the first job is stale now
    assert maps.busy
    with qtbot.waitSignal(maps.finished, timeout=WAIT_MS):
        engines[0].gate.set()  # the stale job ignores its cancel and finishes first
    stale, newest = engines[0].completed
    assert stale != newest, "both jobs read alike: nothing was tested"
    assert [info.reading.text for info, in readings] == [newest]
    assert [exp.reading.text for _, exp in shown] == [newest]
    assert {key[0] for key in maps.cache.keys()} == {image_key(first), image_key(second)}  # correct for its key
    assert cancelled == [] and not maps.busy and client.pending_jobs == 0


def test_a_stale_trust_report_is_dropped_while_the_maps_in_flight_are_unaffected(qtbot, make_client, word_image,
                                                                                 monkeypatch):
    stale = GatedTrust(honour_cancel=False)  # it finishes after the panel moved on
    monkeypatch.setattr("thulium_desktop.app.worker.trust_report", stale)
    client = make_client()
    key = image_key(word_image)
    first, second = explained(qtbot, client, word_image, GRADIENT), explained(qtbot, client, word_image, GRADCAM)
    client.trust.request(word_image, key, GRADIENT, first, full=True)
    qtbot.waitUntil(stale.entered.is_set, timeout=WAIT_MS)
    maps_shown, reports = record(client.maps.explained), record(client.trust.ready)
    cancels = record(client.maps.cancelled, client.trust.cancelled)
    client.maps.request(word_image, key, [INTEGRATED])  # queued behind the check, in a lane of its own
    client.trust.request(word_image, key, GRADCAM, second, full=False)  # the first check is stale now
    assert client.maps.busy and client.trust.busy
    with qtbot.waitSignals([client.maps.finished, client.trust.finished], timeout=WAIT_MS):
        stale.gate.set()
    assert stale.completed, "the stale check never delivered: nothing was tested"
    assert [(exp is second, complete) for exp, _, complete in reports] == [(True, True)]
    assert [spec for spec, _ in maps_shown] == [INTEGRATED]
    assert client.trust.cache.get((key, "tiny-crnn", GRADIENT, True)) is not None  # correct for its own key
    assert cancels == [] and client.pending_jobs == 0


def test_closing_cancels_both_lanes_jobs_and_stops_the_thread(qtbot, make_client, word_image, monkeypatch,
                                                              recognizer):
    gated = GatedTrust()
    monkeypatch.setattr("thulium_desktop.app.worker.trust_report", gated)
    engines: list[GatedEngine] = []
    client = make_client(gated_engines(engines))
    checked = SaliencyGenerator(recognizer).explain(word_image, config=SaliencyConfig(**GRADIENT.config_kwargs()))
    key = image_key(word_image)
    client.trust.request(word_image, key, GRADIENT, checked, full=True)
    qtbot.waitUntil(gated.entered.is_set, timeout=WAIT_MS)
    client.maps.request(word_image, key, [ATTENTION], want_reading=True)  # queued behind the check
    maps_cancelled, trust_cancelled = record(client.maps.cancelled), record(client.trust.cancelled)
    close_during_a_gated_job(client.shutdown, gated.gate)
    assert not client._thread.isRunning()
    assert gated.completed == [] and engines[0].completed == []  # cancelled, not waited for
    assert maps_cancelled == trust_cancelled == [()]
    assert not client.maps.busy and not client.trust.busy


def test_a_survey_answers_per_file_beside_the_maps_and_neither_cancels_the_other(qtbot, make_client, word_image,
                                                                                 tmp_path):
    client = make_client()
    good, bad = tmp_path / "good.png", tmp_path / "bad.png"
    cv2.imwrite(str(good), word_image)
    bad.write_bytes(b"not an image at all")
    answers, ends = record(client.survey.read), record(client.survey.finished)
    readings, cancels = record(client.maps.readingReady), record(client.maps.cancelled)
    mirrored = word_image[:, ::-1].copy()
    with qtbot.waitSignals([client.survey.finished, client.maps.finished], timeout=WAIT_MS):
        client.survey.start([good, bad])
        client.maps.request(mirrored, image_key(mirrored), [ATTENTION], want_reading=True)
    assert [(path.name, info is not None) for path, info, _ in answers] == [("good.png", True), ("bad.png", False)]
    assert "bad.png" in answers[1][2]
    assert ends == [(True,)] and cancels == [] and len(readings) == 1  # the survey's readings are not shown
    assert {key[0] for key in client.maps.cache.keys()} == {image_key(mirrored)}  # nor its maps kept
    readings.clear()
    surveyed = load_image(good)
    client.maps.request(surveyed, image_key(surveyed), [], want_reading=True)  # read by the survey: no job
    assert [info.reading.text for info, in readings] == [answers[0][1].reading.text]
    assert not client.maps.busy and client.pending_jobs == 0


def test_a_model_switch_drops_both_lanes_jobs_silently_and_keeps_the_old_results(qtbot, make_client, word_image,
                                                                                 monkeypatch):
    gated = GatedTrust()
    monkeypatch.setattr("thulium_desktop.app.worker.trust_report", gated)
    engines: list[GatedEngine] = []
    client = make_client(gated_engines(engines))
    key = image_key(word_image)
    engines[0].gate.set()
    attention = explained(qtbot, client, word_image, ATTENTION)
    engines[0].gate.clear()
    engines[0].entered.clear()
    client.maps.request(word_image, key, [GRADIENT])
    client.trust.request(word_image, key, ATTENTION, attention, full=True)  # queued behind the maps
    qtbot.waitUntil(engines[0].entered.is_set, timeout=WAIT_MS)
    cancels = record(client.maps.cancelled, client.trust.cancelled)
    other = CTCRecognizer(tiny_crnn(seed=11), ALPHABET, 32, name="other-crnn")
    client.models.load(lambda: other)
    assert not client.maps.busy and not client.trust.busy and client.models.current is None
    qtbot.waitUntil(lambda: client.models.current is not None, timeout=WAIT_MS)
    assert client.models.name == "other-crnn" and cancels == []
    assert len(engines[0].completed) == 1 and gated.completed == []  # the gradient and the check were cancelled
    assert [k[1:] for k in client.maps.cache.keys()] == [("tiny-crnn", ATTENTION)]  # kept, under its model
    engines[1].gate.set()
    started = record(client.maps.started)
    explained(qtbot, client, word_image, ATTENTION)
    assert started == [()]  # the old model's maps are not this one's
    assert {k[1] for k in client.maps.cache.keys()} == {"tiny-crnn", "other-crnn"}
    qtbot.waitUntil(lambda: client.pending_jobs == 0, timeout=WAIT_MS)


def test_a_failed_load_drops_the_jobs_queued_behind_it_and_nothing_is_asked_without_a_model(qtbot, make_client,
                                                                                          word_image):
    client = make_client()
    key = image_key(word_image)
    release = threading.Event()

    def broken():
        release.wait(WAIT_MS / 1000)
        raise OSError("weights file truncated")

    client.models.load(broken)
    client.maps.request(word_image, key, [ATTENTION], want_reading=True)  # queued behind the load
    client.trust.request(word_image, key, ATTENTION, object(), full=True)
    failures = record(client.maps.failed, client.trust.failed)
    with qtbot.waitSignal(client.models.failed, timeout=WAIT_MS) as failed:
        release.set()
    assert "weights file truncated" in failed.args[0] and client.models.error == failed.args[0]
    assert not client.maps.busy and not client.trust.busy  # the window names the model's failure, not theirs
    started = record(client.maps.started)
    client.maps.request(word_image, key, [GRADIENT])
    client.trust.request(word_image, key, ATTENTION, object(), full=True)
    assert started == [] and not client.maps.busy and not client.trust.busy
    qtbot.waitUntil(lambda: client.pending_jobs == 0, timeout=WAIT_MS)
    assert failures == []
