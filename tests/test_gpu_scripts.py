"""The GPU check runs once, unattended, on a machine we rarely get: its scripts are
checked here, on the CPU. Without CUDA both say so and exit 0; the benchmark's tables
are built by a dry run on the CPU."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks" / "bench_gpu.py"
CHECK = ROOT / "benchmarks" / "gpu_check.sh"
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available: the no-CUDA path does not run")


def run(*command: str, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120)


def test_the_benchmark_explains_itself():
    done = run(sys.executable, str(BENCH), "--help")
    assert done.returncode == 0, done.stderr
    assert "--budget-s" in done.stdout and "Captum" in done.stdout


@no_cuda
def test_the_benchmark_without_cuda_says_so_and_exits_0():
    done = run(sys.executable, str(BENCH))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("bench_gpu: no CUDA device (torch ")
    assert done.stdout.rstrip().endswith("nothing to measure, skipped")


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
@pytest.mark.skipif(shutil.which("nvidia-smi") is not None or Path("/dev/nvidia0").exists(),
                    reason="an NVIDIA GPU is here: the script would run")
def test_the_gpu_check_without_a_gpu_says_so_and_exits_0(tmp_path):
    done = run("bash", str(CHECK), OUT=str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ("gpu_check: no NVIDIA GPU on this machine (no nvidia-smi, no /dev/nvidia0): "
                                   "nothing to check, skipped")
    assert (tmp_path / "gpu_check" / "summary.log").read_text() == done.stdout


def test_a_dry_run_on_the_cpu_prints_the_readers_table_with_captums_ratio(capsys):
    sys.path.insert(0, str(BENCH.parent))
    try:
        import bench_gpu
    finally:
        sys.path.remove(str(BENCH.parent))
    status = bench_gpu.main(["--device", "cpu", "--models", "ctc-reader",
                             "--lines", "10 chars", "--methods", "gradient", "--warmups", "0",
                             "--repeats", "1", "--no-bf16", "--threads", "1"])
    out = capsys.readouterr().out
    assert status == 0
    assert "bench_gpu on CPU (dry run)" in out and "float32 on CUDA: matmuls in" in out
    assert "### ctc-reader (10 chars 351x64)" in out
    (row,) = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| 10 chars")]
    line, method, chars, ours, captum, ratio = (cell.strip() for cell in row[:6])
    assert (method, chars) == ("gradient", "10")
    assert float(ours) > 0 and float(captum) > 0 and ratio.endswith("x")
    assert "\n- " not in out  # no cell failed
