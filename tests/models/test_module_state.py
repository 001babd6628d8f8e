"""`evaluating`: a model is explained in eval mode and left as it was; on CUDA its RNNs
run the native kernels (cuDNN's RNN backward refuses eval mode) and nothing else
loses cuDNN. On the CPU, CUDA is claimed by monkeypatching the device check, and fake
modules record the mode and the cuDNN switch their forward saw."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from thulium_desktop.models import load_model, module_state
from thulium_desktop.models.module_state import evaluating


class Seen(nn.Module):
    """Records the training flag and the cuDNN switch at each forward."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((self.training, torch.backends.cudnn.enabled))
        return x


class SeenLSTM(nn.LSTM):
    """A real LSTM (an `RNNBase`, with dropout between its layers) that records what `Seen` does."""

    def __init__(self) -> None:
        super().__init__(4, 3, num_layers=2, dropout=0.5, batch_first=True)
        self.seen: list[tuple[bool, bool]] = []

    def forward(self, x, hx=None):
        self.seen.append((self.training, torch.backends.cudnn.enabled))
        return super().forward(x, hx)


class Reader(nn.Module):
    """Convolution, BatchNorm, dropout and an LSTM head: what a handwriting reader holds."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.before_conv = Seen()
        self.norm = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(0.5)
        self.rnn = SeenLSTM()
        self.after_rnn = Seen()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.drop(self.norm(self.conv(self.before_conv(x))))
        columns = features.mean(dim=2).transpose(1, 2)  # [B, W, C]
        out, _ = self.rnn(columns)
        return self.after_rnn(out)


@pytest.fixture
def claims_cuda(monkeypatch):
    monkeypatch.setattr(module_state, "_on_cuda", lambda module: True)


@pytest.fixture
def cudnn_switch():
    """The global cuDNN switch, put back as it was whatever a test leaves."""
    before = torch.backends.cudnn.enabled
    yield
    torch.backends.cudnn.enabled = before


def in_training(reader: Reader) -> Reader:
    """Training mode throughout except the dropout: a mix of flags to restore."""
    reader.train()
    reader.drop.eval()
    return reader


def test_on_cuda_only_the_rnn_forward_runs_without_cudnn_and_the_backward_works(claims_cuda, cudnn_switch):
    reader = in_training(Reader())
    x = torch.rand(2, 1, 8, 12, requires_grad=True)
    with evaluating(reader):
        out = reader(x)
        assert torch.backends.cudnn.enabled  # between forwards: cuDNN is on
    assert reader.before_conv.seen == [(False, True)]
    assert reader.rnn.seen == [(False, False)]  # eval mode, native kernels
    assert reader.after_rnn.seen == [(False, True)]  # switched back right after the RNN
    (grad,) = torch.autograd.grad(out.sum(), x)  # the backward, after the block
    assert grad.abs().sum() > 0


def test_batchnorm_statistics_dropout_and_every_flag_are_left_as_they_were(claims_cuda, cudnn_switch):
    reader = in_training(Reader())
    stats = {name: b.clone() for name, b in reader.named_buffers()}
    modes = {name: m.training for name, m in reader.named_modules()}
    x = torch.rand(2, 1, 8, 12)
    with evaluating(reader), torch.no_grad():
        first, second = reader(x), reader(x)
    assert torch.equal(first, second)  # no dropout: the same input scores the same
    for name, buffer in reader.named_buffers():
        assert torch.equal(buffer, stats[name]), f"{name} changed"
    assert {name: m.training for name, m in reader.named_modules()} == modes
    assert torch.backends.cudnn.enabled


def test_flags_are_restored_when_the_block_raises_inside_the_rnn(claims_cuda, cudnn_switch):
    reader = in_training(Reader())
    with pytest.raises(RuntimeError), evaluating(reader):
        reader.rnn(torch.rand(2, 5, 7))  # the wrong width: raises after cuDNN was switched off
    assert torch.backends.cudnn.enabled
    assert reader.training and reader.rnn.training and not reader.drop.training


def test_a_user_who_turned_cudnn_off_finds_it_off_again(claims_cuda, cudnn_switch):
    torch.backends.cudnn.enabled = False
    reader = Reader()
    with evaluating(reader), torch.no_grad():
        reader(torch.rand(1, 1, 8, 12))
    assert reader.after_rnn.seen == [(False, False)]
    assert not torch.backends.cudnn.enabled


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")  # user models still come traced
def test_a_traced_rnn_turns_cudnn_off_for_the_whole_block(claims_cuda, cudnn_switch):
    """A traced (or scripted) LSTM is no `RNNBase` and takes no hooks."""
    traced = torch.jit.trace(nn.LSTM(4, 3, batch_first=True), torch.rand(1, 5, 4))
    scripted = nn.Sequential(Seen(), traced)
    with evaluating(scripted), torch.no_grad():
        scripted(torch.rand(1, 5, 4))
    assert scripted[0].seen == [(False, False)]
    assert torch.backends.cudnn.enabled


class ScriptableHead(nn.Module):
    """An LSTM head that TorchScript can compile (its source is in this file)."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(4, 3, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]


def test_a_frozen_scripted_rnn_is_found_in_its_graph_and_turns_cudnn_off(claims_cuda, cudnn_switch):
    """`torch.jit.freeze` inlines the submodules: no module of the frozen head is an
    RNN any more, only its graph's `aten::lstm` says one runs (cuDNN would refuse its
    backward in eval mode)."""
    frozen = torch.jit.freeze(torch.jit.script(ScriptableHead().eval()))
    assert [type(m).__name__ for m in frozen.modules()] == ["RecursiveScriptModule"]
    model = nn.Sequential(Seen(), frozen)
    with evaluating(model), torch.no_grad():
        model(torch.rand(1, 5, 4))
    assert model[0].seen == [(False, False)]
    assert torch.backends.cudnn.enabled


def test_off_cuda_nothing_touches_cudnn(cudnn_switch):
    reader = Reader()
    with evaluating(reader), torch.no_grad():
        reader(torch.rand(1, 1, 8, 12))
    assert reader.rnn.seen == [(False, True)]


@pytest.mark.parametrize("name", ["ctc-reader", "attention-reader"])
def test_a_bundled_reader_scores_the_same_with_its_rnn_on_the_native_kernels(name, monkeypatch, cudnn_switch):
    """A real reader's scores and gradients with the RNN hooks in place equal those
    without, and no hook is left on the model afterwards."""
    rec = load_model(name)
    x = torch.rand(1, 1, 32, 96, generator=torch.Generator().manual_seed(0))
    reading = rec.read(x)

    def scores_and_gradient() -> tuple[torch.Tensor, torch.Tensor]:
        xg = x.clone().requires_grad_(True)
        scores = rec.token_scores(xg, reading)
        return scores.detach(), torch.autograd.grad(scores.sum(), xg)[0]

    plain = scores_and_gradient()
    monkeypatch.setattr(module_state, "_on_cuda", lambda module: True)
    native = scores_and_gradient()
    torch.testing.assert_close(native, plain, rtol=0, atol=0)
    rnns = [m for m in rec.module.modules() if isinstance(m, nn.RNNBase)]
    assert rnns and not any(m._forward_hooks or m._forward_pre_hooks for m in rnns)
