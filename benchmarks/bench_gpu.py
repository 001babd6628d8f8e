"""The engine on a GPU: every character's maps of a line, against Captum's per-character
loop on the same device, with peak memory and bfloat16 against float32.

One table per bundled reader, for a 10-character line (resources/samples/date.png,
"12/03/2026") and a 2000-pixel line (bundled samples side by side, 2000x64). For each
method: the engine's all-character time (read included; median of `--repeats` after
`--warmups` calls, the device synchronised around each), Captum's loop over the
characters (the read done once, as the engine's bench_engine.py does it), their
ratio, the engine's peak GPU memory, its chunk size, and the bfloat16 run's time and
largest map difference from float32 (as a share of each map's peak, `precision.py`).
Goals on an H200 (issue 25): integrated gradients (50 steps) for all characters of the
10-character line under 50 ms and at least 10x faster than Captum; the 2000-pixel
line's under 2 s; peak memory under 8 GB.

Without CUDA it says so and exits 0, so one unattended script can run it anywhere
(`benchmarks/gpu_check.sh`); `--device cpu` is a dry run of the tables, to check the
script itself. A cell that fails prints its error under the table and the run goes on;
after `--budget-s` seconds the remaining cells are skipped, so the run ends in time.

    python benchmarks/bench_gpu.py [--models ctc-reader attention-reader] [--budget-s 280]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from bench_engine import captum_attributions  # beside this script

from thulium_desktop.io import load_image, to_unit_gray
from thulium_desktop.models import Recognizer, load_model
from thulium_desktop.xai.precision import map_difference, tf32_policy
from thulium_desktop.xai.saliency import Explanation, SaliencyConfig, SaliencyGenerator

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"
MODELS = ("ctc-reader", "attention-reader")
METHODS = ("gradient", "integrated", "smoothgrad", "gradcam")
LINE_WIDTH = 2000
GAP = 24  # white pixels between the words of the long line


def ten_characters() -> np.ndarray:
    """"12/03/2026": both bundled readers read its 10 characters."""
    return to_unit_gray(load_image(SAMPLES / "date.png"))


def long_line(width: int = LINE_WIDTH) -> np.ndarray:
    """Bundled samples side by side (all 64 pixels high) with white gaps, repeated
    until the line is `width` pixels wide, the rest white paper."""
    words = [to_unit_gray(load_image(SAMPLES / f"{name}.png"))
             for name in ("short-line", "recognition", "date", "capitals", "attention", "price")]
    line = np.ones((words[0].shape[0], width), np.float32)
    x = 0
    while True:
        for word in words:
            if x + word.shape[1] > width:
                return line
            line[:, x : x + word.shape[1]] = word
            x += word.shape[1] + GAP


class Clock:
    """Times calls on one device: synchronised around each, so a GPU's queued work counts."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def median_ms(self, work: Callable[[], object], warmups: int, repeats: int) -> float:
        for _ in range(warmups):
            work()
        times = []
        for _ in range(repeats):
            self.sync()
            start = time.perf_counter()
            work()
            self.sync()
            times.append(time.perf_counter() - start)
        return 1000 * statistics.median(times)

    def peak_gb(self, work: Callable[[], object]) -> float | None:
        """Peak bytes allocated on the GPU while `work` runs, in GB (None off CUDA)."""
        if self.device.type != "cuda":
            work()
            return None
        self.sync()
        torch.cuda.reset_peak_memory_stats(self.device)
        work()
        self.sync()
        return torch.cuda.max_memory_allocated(self.device) / 1e9


def captum_loop(rec: Recognizer, image: np.ndarray, cfg: SaliencyConfig) -> list[torch.Tensor]:
    """Captum's attribution once per character, left on the device (bench_engine's
    loop, without the move to image pixels)."""
    x = rec.prepare(image).tensor
    return captum_attributions(rec, x, rec.read(x), cfg)


class Table:
    """One reader's rows, the errors of its failed cells, and the time budget."""

    HEADER = ("line", "method", "chars", "ours ms", "captum ms", "captum/ours", "peak GB", "chunk",
              "bf16 ms", "bf16 max diff")

    def __init__(self, deadline: float) -> None:
        self.rows: list[tuple[str, ...]] = []
        self.errors: list[str] = []
        self.deadline = deadline

    def cell(self, what: str, work: Callable[[], object]) -> object | None:
        """`work()`, or None (with its error noted) when it fails or time is up."""
        if time.monotonic() > self.deadline:
            self.errors.append(f"{what}: skipped (time budget spent)")
            return None
        try:
            return work()
        except Exception as exc:  # noqa: BLE001 - one failed cell must not end an unattended run
            self.errors.append(f"{what}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            return None

    def print(self, title: str) -> None:
        widths = [max(len(h), *(len(r[i]) for r in self.rows)) for i, h in enumerate(self.HEADER)]
        print(f"\n### {title}\n")
        print("| " + " | ".join(h.ljust(w) for h, w in zip(self.HEADER, widths)) + " |")
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for row in self.rows:
            print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
        for error in self.errors:
            print(f"- {error}")


def fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def bench_reader(name: str, lines: dict[str, np.ndarray], args: argparse.Namespace, device: torch.device,
                 deadline: float) -> Table:
    rec = load_model(name)
    rec.module.to(device)
    clock = Clock(device)
    table = Table(deadline)
    for line_name, image in lines.items():
        for method in args.methods:
            what = f"{name} {line_name} {method}"
            # Captum's settings: its zeros baseline, fixed steps (no adaptive doubling)
            cfg = SaliencyConfig(method=method, num_steps=args.steps, num_samples=args.samples,
                                 baseline="zeros", tolerance=0.0)
            gen = SaliencyGenerator(rec, cfg)
            exp: Explanation | None = table.cell(what, lambda: gen.explain(image))
            if exp is None:
                continue
            ours = table.cell(what, lambda: clock.median_ms(lambda: gen.explain(image), args.warmups, args.repeats))
            peak = table.cell(what + " peak", lambda: clock.peak_gb(lambda: gen.explain(image)))
            captum = None if args.no_captum else table.cell(
                what + " captum", lambda: clock.median_ms(lambda: captum_loop(rec, image, cfg), 1, args.repeats))
            bf16 = None if args.no_bf16 else table.cell(what + " bf16", lambda: bf16_run(gen, image, exp, clock, args))
            table.rows.append((
                line_name, method, str(len(exp.tokens)), fmt(ours, ".1f"), fmt(captum, ".1f"),
                "—" if ours is None or captum is None else f"{captum / ours:.1f}x",
                fmt(peak, ".2f"), str(exp.batch_size),
                fmt(bf16[0] if bf16 else None, ".1f"), fmt(bf16[1] if bf16 else None, ".1%"),
            ))
    return table


def bf16_run(gen: SaliencyGenerator, image: np.ndarray, reference: Explanation, clock: Clock,
             args: argparse.Namespace) -> tuple[float, float]:
    """The same explanation under bfloat16 autocast (the float32 reading held): its time
    and its largest map difference from float32."""

    def explain() -> Explanation:
        with torch.autocast(clock.device.type, dtype=torch.bfloat16):
            return gen.explain(image, reading=reference.reading)

    maps = explain().maps
    return clock.median_ms(explain, args.warmups, args.repeats), map_difference(maps, reference.maps)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--lines", nargs="+", default=["10 chars", "2000 px"], choices=["10 chars", "2000 px"])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu for a dry run")
    parser.add_argument("--steps", type=int, default=50, help="integrated gradients' steps (default 50)")
    parser.add_argument("--samples", type=int, default=25, help="SmoothGrad's noisy copies (default 25)")
    parser.add_argument("--warmups", type=int, default=5, help="untimed calls first (the engine's choices settle)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-captum", action="store_true", help="skip Captum's loop")
    parser.add_argument("--no-bf16", action="store_true",
                        help="skip the bfloat16 run (on a CPU it takes minutes: no fast bf16 kernels)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")
    parser.add_argument("--budget-s", type=float, default=280.0, help="skip the cells left after this many seconds")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"bench_gpu: no CUDA device (torch {torch.__version__}, CUDA build {torch.version.cuda}): "
              "nothing to measure, skipped")
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    deadline = time.monotonic() + args.budget_s
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (dry run)"
    print(f"bench_gpu on {where}, torch {torch.__version__}, CUDA {torch.version.cuda}; {tf32_policy()}")
    print(f"median of {args.repeats} after {args.warmups} warm-up calls; integrated gradients {args.steps} "
          f"steps, SmoothGrad {args.samples} copies; bf16 max diff: share of each float32 map's peak")
    makers = {"10 chars": ten_characters, "2000 px": long_line}
    lines = {name: makers[name]() for name in args.lines}
    for name in args.models:
        sizes = ", ".join(f"{k} {v.shape[1]}x{v.shape[0]}" for k, v in lines.items())
        bench_reader(name, lines, args, device, deadline).print(f"{name} ({sizes})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
