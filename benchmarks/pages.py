"""Lines per minute of `read` and `explain --method gradient` on a 30-line page (issue 22).

    python benchmarks/pages.py [--lines 30] [--model ctc-reader] [--format png,json] [--threads 1]

Builds a synthetic page scan of `--lines` handwritten lines with its PAGE-XML in a
temporary folder: the 4-line page of `tests/page_builder.py` stacked (each copy with its
own paper vignette) until there are enough lines (the last copy cut below its last line
used), with every line's polygon, baseline and truth. Then runs each command once, in-process and on the CPU, as a user
would on the PAGE-XML file, and prints its wall time and lines per minute. The times
are of the whole command: model loading, decoding the scan, cutting every line, and
for `explain` writing every line's outputs (`--format`, the CLI's default unless
given) and the page's enriched PAGE-XML.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from page_builder import ComposedPage, compose_page, page_xml, write_image  # noqa: E402

from thulium_desktop import cli  # noqa: E402
from thulium_desktop.cli.parser import DEFAULT_FORMATS  # noqa: E402

#: Rows kept below a page copy's last used line: its polygon's margin, and no more of
#: the next line's ascenders than the line's own bounding box already holds.
BOTTOM_MARGIN = 4


def stacked_page(lines: int) -> ComposedPage:
    """A page of `lines` lines: copies of the composed page one under the other, line
    ids made unique per copy (`c1.l1`, ...), the last copy cut below its last line."""
    base = compose_page()
    height = base.image.shape[0]
    copies, placed = [], []
    for copy in range((lines + len(base.lines) - 1) // len(base.lines)):
        taken = base.lines[: lines - len(placed)]
        for line in taken:
            placed.append(dataclasses.replace(
                line, id=f"c{copy + 1}.{line.id}", region=f"c{copy + 1}.{line.region}",
                polygon=tuple((x, y + copy * height) for x, y in line.polygon),
                baseline=tuple((x, y + copy * height) for x, y in line.baseline),
                alone=None, ink=None))  # page-sized arrays of the base page: unused here
        bottom = height if len(taken) == len(base.lines) else max(y for _, y in taken[-1].polygon) + BOTTOM_MARGIN
        copies.append(base.image[:bottom])
    return ComposedPage(np.concatenate(copies), placed)


def timed(argv: list[str]) -> float:
    """Seconds `thulium-desktop ARGV` takes, its printed table discarded; exits if it fails."""
    started = time.perf_counter()
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        code = cli.main(argv)
    elapsed = time.perf_counter() - started
    if code != 0:
        sys.exit(f"thulium-desktop {argv[0]} exited with {code}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=30)
    parser.add_argument("--model", default="ctc-reader")
    parser.add_argument("--format", default=",".join(DEFAULT_FORMATS))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    page = stacked_page(args.lines)
    with tempfile.TemporaryDirectory(prefix="thulium-pages-") as tmp:
        folder = Path(tmp)
        write_image(page, folder / "scan.png")
        (folder / "page").mkdir()
        layout = folder / "page" / "scan.xml"
        layout.write_bytes(page_xml(page, "scan.png"))
        height, width = page.image.shape[:2]
        print(f"page: {len(page.lines)} lines, {width}x{height} pixels; model {args.model}, "
              f"{args.threads} thread(s), torch {torch.__version__}")
        common = ["--model", args.model, "--device", "cpu"]
        runs = {
            "read": ["read", str(layout), *common],
            "explain --method gradient": ["explain", str(layout), "--out", str(folder / "out"), "--method",
                                          "gradient", "--format", args.format, "--quiet", *common],
        }
        for name, argv in runs.items():
            seconds = timed(argv)
            print(f"{name:<26} {seconds:8.2f} s   {len(page.lines) / seconds * 60:8.1f} lines/min")


if __name__ == "__main__":
    main()
