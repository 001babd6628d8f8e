"""Average a bundled reader's weights with other runs' (a uniform "model soup").

`python -m thulium_desktop.training.average --model NAME --with OTHER.safetensors [--with ...] [--models DIR]`

Fine-tuning runs of one lineage sit in one basin of the loss; the mean of their
weights often generalises better than either (Wortsman et al. 2022, model soups;
Izmailov et al. 2018 average along one run). BatchNorm's running statistics are
averaged like the weights rather than re-estimated, so measure the mean before
shipping it. The earlier weights are checked tensor by tensor against the reader's
architecture like any weight file, the uniform mean of the reader's weights and every
`--with` file replaces `DIR/NAME.safetensors`, and the json records every input by
SHA-256, so the card can say exactly which weights ship. Averaging is done once: a
second call (or a file given twice, or the reader's own file) is refused, since it
would silently shift the mix.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from thulium_desktop.models.registry import MODELS_DIR, load_model
from thulium_desktop.models.weights import ModelLoadError, check_tensors, read_tensors, save_json, save_weights


def mean_state(current: dict[str, torch.Tensor], others: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of state dicts with the same tensors; integer tensors
    (BatchNorm's step counters) keep the current run's value, since they count, not fit."""
    count = 1 + len(others)
    return {name: (t + sum(o[name] for o in others)) / count if t.is_floating_point() else t
            for name, t in current.items()}


def average_with(name: str, others: Sequence[str | os.PathLike], models_dir: str | os.PathLike = MODELS_DIR) -> None:
    """Replace `models_dir/name.safetensors` by its uniform mean with `others` and note it in the json."""
    folder, others = Path(models_dir), [Path(o) for o in others]
    weights_path, card_path = folder / f"{name}.safetensors", folder / f"{name}.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    training = card.setdefault("training", {})
    if "averaged_with" in training:
        raise ModelLoadError(card_path, "these weights are already an average; retrain or restore them first")
    if not others:
        raise ModelLoadError(weights_path, "no other weights to average with")
    inputs = [weights_path, *others]
    shas = [_sha256(path) for path in inputs]
    for index, sha in enumerate(shas[1:], start=1):
        if sha in shas[:index]:
            first = inputs[shas.index(sha)]
            raise ModelLoadError(inputs[index], f"is the same file as {first}; each input counts once")
    current_sha, *other_shas = shas
    module = load_model(name, folder).module
    states = [read_tensors(other) for other in others]
    for other, state in zip(others, states):
        check_tensors(other, state, module)
    module.load_state_dict(mean_state(module.state_dict(), states), strict=True)
    training["averaged_with"] = {
        "files": [{"file": other.name, "sha256": sha} for other, sha in zip(others, other_shas)],
        "replaced_sha256": current_sha,
        "how": "uniform element-wise mean of this run's final weights (replaced_sha256) and the files', "
               "floating-point tensors (BatchNorm running statistics included); integer step counters "
               "kept from this run",
    }
    save_weights(module, weights_path)
    save_json(card, card_path)


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
