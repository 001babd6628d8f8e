"""Average a bundled reader's weights with other runs' (a uniform "model soup").

`python -m thulium_desktop.training.average --model NAME --with OTHER.safetensors [--with ...] [--models DIR]`

Fine-tuning runs of one lineage sit in one basin of the loss; the mean of their
weights often generalises better than either (Wortsman et al. 2022, model soups;
Izmailov et al. 2018 average along one run). BatchNorm's running statistics are
averaged like the weights rather than re-estimated, so measure the mean before
shipping it. Every `--with` file is checked tensor by tensor against the reader's
architecture like any weight file, the uniform mean of the reader's weights and every
`--with` file replaces `DIR/NAME.safetensors`, and the json records every input by
SHA-256 (`training.averaged_with.files`; averages made before several inputs were
allowed record one `file` and `sha256` instead), so the card can say exactly which
weights ship. The json's metrics measured the replaced weights: they move to
`averaged_with.metrics_before` and `metrics` is left empty until `evaluate` measures
the mean (averages before the twelfth run kept them in place until then). Averaging
is done once: a second call, or an input whose tensors equal another input's (the
reader's own included), is refused, since it would silently shift the mix.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from thulium_desktop.models.registry import MODELS_DIR, load_model, read_card
from thulium_desktop.models.weights import ModelLoadError, check_tensors, read_tensors, save_model_files


def mean_state(current: dict[str, torch.Tensor], others: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of state dicts with the same tensors; integer tensors
    (BatchNorm's step counters) keep the current run's value, since they count, not fit."""
    count = 1 + len(others)
    return {name: (t + sum(o[name] for o in others)) / count if t.is_floating_point() else t
            for name, t in current.items()}


def average_with(name: str, others: Sequence[str | os.PathLike], models_dir: str | os.PathLike = MODELS_DIR) -> None:
    """Replace `models_dir/name.safetensors` by its uniform mean with `others` and note it in the json."""
    if isinstance(others, (str, os.PathLike)):
        raise TypeError("others must be a list of weight files, not one path")
    folder, others = Path(models_dir), [Path(o) for o in others]
    weights_path, card_path = folder / f"{name}.safetensors", folder / f"{name}.json"
    card = read_card(card_path)
    training = card.setdefault("training", {})
    if "averaged_with" in training:
        raise ModelLoadError(card_path, "these weights are already an average; retrain or restore them first")
    if not others:
        raise ModelLoadError(weights_path, "no other weights to average with")
    current_sha, *other_shas = (_sha256(path) for path in [weights_path, *others])
    module = load_model(name, folder).module
    states = [read_tensors(other) for other in others]
    for other, state in zip(others, states):
        check_tensors(other, state, module)
    _refuse_repeats([weights_path, *others], [module.state_dict(), *states])
    module.load_state_dict(mean_state(module.state_dict(), states), strict=True)
    training["averaged_with"] = {
        "files": [{"file": other.name, "sha256": sha} for other, sha in zip(others, other_shas)],
        "replaced_sha256": current_sha,
        "how": "uniform element-wise mean of this run's final weights (replaced_sha256) and the files', "
               "floating-point tensors (BatchNorm running statistics included); integer step counters "
               "kept from this run",
        "metrics_before": card.get("metrics", {}),
    }
    card["metrics"] = {}  # they measured the replaced weights: `evaluate` measures the mean
    save_model_files(module, card, weights_path, card_path)


def _refuse_repeats(paths: list[Path], states: list[dict[str, torch.Tensor]]) -> None:
    """Refuse an input whose tensors equal an earlier input's: it would count twice in the
    mean. Compared by value, not by file hash, since the same weights can be saved with
    other header bytes (metadata, tensor order)."""
    for index, state in enumerate(states):
        for earlier in range(index):
            if all(torch.equal(state[k], states[earlier][k]) for k in state):
                raise ModelLoadError(paths[index], f"has the same weights as {paths[earlier]}; "
                                                   "each input counts once")


def _sha256(path: Path) -> str:
    """The file's SHA-256: what the json records, so a card names its weights exactly."""
    if not path.is_file():
        raise ModelLoadError(path, "no such file")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    """Command line: average one bundled reader; exit status 0, or 1 with the reason."""
    parser = argparse.ArgumentParser(prog="python -m thulium_desktop.training.average",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="bundled reader name, e.g. attention-reader")
    parser.add_argument("--with", dest="others", required=True, type=Path, action="append",
                        help="another run's .safetensors of the same reader (repeat for more)")
    parser.add_argument("--models", type=Path, default=MODELS_DIR)
    args = parser.parse_args(argv)
    try:
        average_with(args.model, args.others, args.models)
    except ModelLoadError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
