"""Average a bundled reader's weights with an earlier run's (a uniform two-run "model soup").

`python -m thulium_desktop.training.average --model NAME --with EARLIER.safetensors [--models DIR]`

Two fine-tuning runs of one lineage sit in one basin of the loss; the mean of their
weights often generalises better than either (Wortsman et al. 2022, model soups;
Izmailov et al. 2018 average along one run). BatchNorm's running statistics are
averaged like the weights rather than re-estimated, so measure the mean before
shipping it. The earlier weights are checked tensor by tensor against the reader's
architecture like any weight file, the mean replaces `DIR/NAME.safetensors`, and the
json records both inputs by SHA-256, so the card can say exactly which weights ship.
Averaging is done once: a second call (or a file averaged with itself) is refused,
since it would silently shift the mix.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import torch

from thulium_desktop.models.registry import MODELS_DIR, load_model
from thulium_desktop.models.weights import ModelLoadError, check_tensors, read_tensors, save_json, save_weights


def mean_state(current: dict[str, torch.Tensor], earlier: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The element-wise mean of two state dicts with the same tensors; integer tensors
    (BatchNorm's step counters) keep the current run's value, since they count, not fit."""
    return {name: (t + earlier[name]) / 2 if t.is_floating_point() else t for name, t in current.items()}


def average_with(name: str, earlier: str | os.PathLike, models_dir: str | os.PathLike = MODELS_DIR) -> None:
    """Replace `models_dir/name.safetensors` by its mean with `earlier` and note it in the json."""
    folder, earlier = Path(models_dir), Path(earlier)
    weights_path, card_path = folder / f"{name}.safetensors", folder / f"{name}.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    training = card.setdefault("training", {})
    if "averaged_with" in training:
        raise ModelLoadError(card_path, "these weights are already an average; retrain or restore them first")
    current_sha, earlier_sha = _sha256(weights_path), _sha256(earlier)
    if current_sha == earlier_sha:
        raise ModelLoadError(earlier, f"is the same file as {weights_path}; nothing to average")
    module = load_model(name, folder).module
    other = read_tensors(earlier)
    check_tensors(earlier, other, module)
    module.load_state_dict(mean_state(module.state_dict(), other), strict=True)
    training["averaged_with"] = {
        "file": earlier.name,
        "sha256": earlier_sha,
        "replaced_sha256": current_sha,
        "how": "element-wise mean of this run's final weights (replaced_sha256) and file's, floating-point "
               "tensors (BatchNorm running statistics included); integer step counters kept from this run",
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
    parser.add_argument("--with", dest="earlier", required=True, type=Path,
                        help="the earlier run's .safetensors of the same reader")
    parser.add_argument("--models", type=Path, default=MODELS_DIR)
    args = parser.parse_args(argv)
    try:
        average_with(args.model, args.earlier, args.models)
    except ModelLoadError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
