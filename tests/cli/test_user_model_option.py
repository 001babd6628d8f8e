"""`--model PATH` on the command line: user files open, code runs only with `--trust`."""

import builtins
import textwrap

import pytest
import torch
from cli_samples import write_line

from thulium_desktop import cli
from thulium_desktop.cli.errors import USAGE


class MarkerOnUnpickle:
    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


@pytest.fixture
def line(tmp_path):
    path = tmp_path / "line.png"
    write_line(path, 0)
    return path


@pytest.mark.parametrize("command", ["read", "explain"])
def test_a_malicious_pickle_is_refused_and_never_runs(tmp_path, line, capsys, command):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"payload": MarkerOnUnpickle(marker)}, evil)
    extra = ["--out", str(tmp_path / "out"), "--quiet"] if command == "explain" else []
    assert cli.main([command, str(line), "--model", str(evil), *extra]) == USAGE
    err = capsys.readouterr().err
    assert str(evil) in err and "can run any code" in err and "--trust" in err and "Traceback" not in err
    assert not marker.exists()


def test_a_plugin_needs_trust(tmp_path, line, capsys):
    plugin = tmp_path / "reader.py"
    plugin.write_text(textwrap.dedent("""
        from tiny_models import ALPHABET, tiny_crnn
        from thulium_desktop.models import CTCRecognizer

        def load_recognizer():
            return CTCRecognizer(tiny_crnn(seed=3), ALPHABET, 32, name="from-plugin")
    """))
    assert cli.main(["read", str(line), "--model", str(plugin)]) == USAGE
    assert "Python program" in capsys.readouterr().err
    assert cli.main(["read", str(line), "--model", str(plugin), "--trust"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith(str(line))  # after the header


def test_a_truncated_file_is_a_one_line_error(tmp_path, line, capsys):
    cut = tmp_path / "cut.pt"
    torch.save({"w": torch.zeros(100)}, cut)
    cut.write_bytes(cut.read_bytes()[:200])
    assert cli.main(["read", str(line), "--model", str(cut)]) == USAGE
    err = capsys.readouterr().err
    assert "truncated" in err and "Traceback" not in err
