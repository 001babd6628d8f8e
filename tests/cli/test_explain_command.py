"""`thulium-desktop explain`: output sets, summary, bad inputs, shards, exit codes, Ctrl+C."""

import json
import os
import signal
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest
from cli_samples import corpus, tiny_model, write_line  # noqa: F401 (fixtures)

from thulium_desktop import cli
from thulium_desktop.cli import explain as explain_module
from thulium_desktop.xai.methods import PARAMETERS

GOOD = ["a", "sub/b"]


def run(*argv):
    return cli.main(["explain", *map(str, argv), "--quiet"])


def summary(out, name="summary.json"):
    return json.loads((out / name).read_text())


def test_every_format_of_every_image_is_written_and_parses(tiny_model, tmp_path):
    root = tmp_path / "in"
    write_line(root / "a.png", 0)
    write_line(root / "sub" / "b.png", 1, width=128)
    out = tmp_path / "out"
    assert run(root, "--out", out, "--format", "png,svg,pdf,npz,json", "--model", "m1", "--dpi", "40") == 0
    assert tiny_model == ["m1"]
    for name in GOOD:
        assert cv2.imread(str(out / f"{name}.gradient.png")) is not None
        assert ET.parse(out / f"{name}.gradient.svg").getroot().tag.endswith("svg")
        assert (out / f"{name}.gradient.pdf").read_bytes().startswith(b"%PDF")
        record = json.loads((out / f"{name}.json").read_text())
        with np.load(out / f"{name}.npz") as npz:
            assert npz["gradient"].shape == (len(record["tokens"]), 32, 96 if name == "a" else 128)
            assert "".join(npz["tokens"]) == record["reading"]
        assert record["status"] == "ok" and record["seconds"] > 0
        assert record["methods"]["gradient"]["timings"]["total_s"] > 0
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == [
        "a.gradient.pdf", "a.gradient.png", "a.gradient.svg", "a.json", "a.npz", "summary.json"
    ]


def test_summary_lists_reading_confidences_method_parameters_and_timings(tiny_model, corpus, tmp_path):
    out = tmp_path / "out"
    run(corpus, "--out", out, "--method", "integrated", "--steps", "4", "--baseline", "white", "--format", "json")
    data = summary(out)
    assert data["model"] == "tiny-None" and data["methods"] == ["integrated"]
    assert data["counts"] == {"images": 4, "done": 4, "ok": 2, "failed": 2}
    ok = [r for r in data["images"] if r["status"] == "ok"]
    assert [r["name"] for r in ok] == GOOD
    for record in ok:
        assert len(record["confidences"]) == len(record["reading"]) > 0
        params = record["methods"]["integrated"]["params"]
        assert params["num_steps"] == 4 and params["baseline"] == "white"
        assert len(record["methods"]["integrated"]["deltas"]) == len(record["reading"])
        assert record["seconds"] > 0


def test_bad_inputs_are_reported_without_traceback_and_the_run_goes_on(tiny_model, corpus, tmp_path, capsys):
    out = tmp_path / "out"
    code = run(corpus, tmp_path / "missing.png", "--out", out, "--method", "attention")
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    assert f"failed: {corpus / 'corrupt.png'}: " in err
    assert f"{corpus / 'empty.png'}: the file is empty" in err
    assert f"{tmp_path / 'missing.png'}: no such file or folder" in err
    assert (out / "a.attention.png").exists() and (out / "sub" / "b.attention.png").exists()
    failed = {r["path"]: r["error"] for r in summary(out)["images"] if r["status"] == "failed"}
    assert set(failed) == {str(corpus / "corrupt.png"), str(corpus / "empty.png"), str(tmp_path / "missing.png")}


def test_shards_cover_the_corpus_exactly_once(tiny_model, tmp_path):
    for i in range(7):
        write_line(tmp_path / "in" / f"{i}.png", i, width=40)
    out = tmp_path / "out"
    for index in range(3):
        assert run(tmp_path / "in", "--out", out, "--shard", f"{index}/3", "--method", "attention", "--format", "json") == 0
    names = [r["name"] for i in range(3) for r in summary(out, f"summary.shard-{i}-of-3.json")["images"]]
    assert sorted(names) == [str(i) for i in range(7)]
    assert not (out / "summary.json").exists()


def test_one_character_and_all_methods_add_a_comparison_figure(tiny_model, tmp_path):
    write_line(tmp_path / "a.png", 0)
    out = tmp_path / "out"
    code = run(tmp_path / "a.png", "--out", out, "--method", "all", "--token", "0",
               "--steps", "2", "--samples", "2", "--format", "png,npz", "--dpi", "30")
    assert code == 0
    with np.load(out / "a.npz") as npz:
        assert npz["token_indices"].tolist() == [0]
        assert all(npz[m].shape == (1, 32, 96) for m in ("attention", "gradient", "integrated", "gradcam"))
    assert cv2.imread(str(out / "a.compare.png")) is not None


def test_unset_method_options_take_the_registrys_defaults_as_the_app_does(tiny_model, tmp_path):
    """Integrated gradients start from blank paper here as in the app (the CLI once
    defaulted to zeros): every parameter the CLI leaves unset is the registry's default."""
    write_line(tmp_path / "a.png", 0)
    out = tmp_path / "out"
    assert run(tmp_path / "a.png", "--out", out, "--method", "integrated", "--format", "json") == 0
    config = summary(out)["config"]
    assert config["baseline"] == "white"
    assert {name: config[name] for name in PARAMETERS} == {name: p.default for name, p in PARAMETERS.items()}


def test_the_apps_method_parameters_are_options(tiny_model, tmp_path):
    """The GradCAM layer, the integration rule, the score, signed and raw maps: what the
    app's method panel offers, the CLI takes too, and each reaches the engine."""
    write_line(tmp_path / "a.png", 0)
    out = tmp_path / "out"
    code = run(tmp_path / "a.png", "--out", out, "--method", "all", "--steps", "3", "--samples", "2",
               "--layer", "features.4", "--integration", "riemann_middle", "--score", "logit", "--baseline", "zeros",
               "--signed", "--no-normalize", "--format", "json,npz")
    assert code == 0
    config = summary(out)["config"]
    assert (config["layer"], config["integration"], config["score"], config["baseline"]) == (
        "features.4", "riemann_middle", "logit", "zeros")
    assert config["absolute"] is False and config["normalize"] is False
    methods = json.loads((out / "a.json").read_text())["methods"]
    assert methods["gradcam"]["params"]["layer"] == "features.4"
    expected = {"integration": "riemann_middle", "score": "logit", "baseline": "zeros", "absolute": False,
                "normalize": False}
    assert {k: methods["integrated"]["params"][k] for k in expected} == expected
    assert methods["gradient"]["signed"] and not methods["smoothgrad_sq"]["signed"]
    with np.load(out / "a.npz") as npz:
        gradient = npz["gradient"]
    assert gradient.min() < 0 < gradient.max()
    assert not np.allclose(np.abs(gradient).reshape(len(gradient), -1).max(axis=1), 1.0)  # not normalized


@pytest.mark.parametrize("argv", [["--integration", "simpson"], ["--score", "loss"], ["--baseline", "grey"]])
def test_method_option_choices_come_from_the_engine(tiny_model, tmp_path, argv, capsys):
    write_line(tmp_path / "a.png", 0)
    assert run(tmp_path / "a.png", *argv) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_a_token_beyond_the_reading_fails_that_image_only(tiny_model, tmp_path, capsys):
    write_line(tmp_path / "a.png", 0)
    assert run(tmp_path / "a.png", "--out", tmp_path / "out", "--token", "999") == 1
    assert "out of range" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["--method", "nope"],
        ["--shard", "3/3"],
        ["--shard", "1"],
        ["--format", "png,gif"],
        ["--steps", "0"],
        ["--noise", "-1"],
        ["--token", "x"],
    ],
)
def test_usage_errors_exit_2(tiny_model, tmp_path, argv, capsys):
    write_line(tmp_path / "a.png", 0)
    assert run(tmp_path / "a.png", *argv) == 2
    assert "error:" in capsys.readouterr().err


def test_nothing_to_do_and_unavailable_device_are_usage_errors(tiny_model, tmp_path, monkeypatch, capsys):
    (tmp_path / "empty").mkdir()
    assert run(tmp_path / "empty", "--out", tmp_path / "out") == 2
    assert "no images found" in capsys.readouterr().err
    write_line(tmp_path / "a.png", 0)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert run(tmp_path / "a.png", "--device", "cuda", "--out", tmp_path / "out") == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_ctrl_c_stops_after_the_current_image_and_keeps_its_outputs(tiny_model, tmp_path, monkeypatch,
                                                                    sigint_handler):
    for i in range(3):
        write_line(tmp_path / "in" / f"{i}.png", i)
    original = explain_module._explain_one

    def explain_then_press_ctrl_c(*args):
        record = original(*args)
        os.kill(os.getpid(), signal.SIGINT)  # arrives while the first image is being finished
        return record

    monkeypatch.setattr(explain_module, "_explain_one", explain_then_press_ctrl_c)
    out = tmp_path / "out"
    assert run(tmp_path / "in", "--out", out, "--method", "attention") == 130
    data = summary(out)
    assert data["interrupted"] is True and data["counts"]["done"] == 1
    assert (out / "0.attention.png").exists() and (out / "0.json").exists()
    assert not (out / "1.json").exists()
    assert signal.getsignal(signal.SIGINT) is sigint_handler  # the previous handler restored
