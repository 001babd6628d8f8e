#!/usr/bin/env bash
# One unattended run on a machine with an NVIDIA GPU, within 10 minutes (issue 25):
#   1. torch with CUDA: the one installed if it sees the GPU, else torch==2.13.0 from the
#      package index (its Linux x86_64 wheel is built with CUDA);
#   2. the tree itself on PYTHONPATH when what the tests import is installed already,
#      else the project with its test extra (`pip install -e ".[test]"`, that torch kept);
#   3. the `cuda` tests (CUDA maps against CPU maps, batched maps, the device switch);
#   4. benchmarks/bench_gpu.py, whose tables go to the README;
#   5. benchmarks/batched_explain.py on the GPU: a corpus's images per minute, batched
#      (`explain --batch-images`) against one by one, in the last minute and a half.
# Without a GPU it says so and exits 0. Logs go to $OUT/gpu_check (or /tmp/gpu_check).
#
#     bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
LOGS=${OUT:-/tmp}/gpu_check
mkdir -p "$LOGS"
started=$SECONDS

say() { echo "gpu_check: $*" | tee -a "$LOGS/summary.log"; }
cuda_torch() { "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; }

if ! command -v nvidia-smi >/dev/null 2>&1 && ! ls /dev/nvidia0 >/dev/null 2>&1; then
    say "no NVIDIA GPU on this machine (no nvidia-smi, no /dev/nvidia0): nothing to check, skipped"
    exit 0
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$LOGS/summary.log"

if cuda_torch; then
    say "using the installed torch: $("$PYTHON" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)')"
else
    say "the installed torch sees no GPU: installing torch==2.13.0 from the index"
    timeout 240 "$PYTHON" -m pip install --quiet "torch==2.13.0" >"$LOGS/pip_torch.log" 2>&1
    if ! cuda_torch; then
        say "FAILED: torch still sees no GPU (see $LOGS/pip_torch.log)"
        exit 1
    fi
fi

export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
needed='import thulium_desktop, PySide6, pyqtgraph, cv2, safetensors, pytest, pytest_timeout, pytestqt, hypothesis, captum'
if "$PYTHON" -c "$needed" 2>/dev/null; then
    say "the project's dependencies are installed: running the tree from PYTHONPATH"
else
    # Keep that torch: the project accepts any torch>=2.6,<3, and pip must not swap it.
    keep=$(mktemp)
    "$PYTHON" -c 'import torch; print(f"torch=={torch.__version__}")' >"$keep"
    timeout 240 "$PYTHON" -m pip install --quiet --retries 1 --timeout 20 -e ".[test]" -c "$keep" \
        >"$LOGS/pip_project.log" 2>&1
    if ! "$PYTHON" -c "$needed" 2>/dev/null; then
        say "FAILED: the project or its test extra could not be installed (see $LOGS/pip_project.log)"
        exit 1
    fi
    say "installed the project and its test extra"
fi
export QT_QPA_PLATFORM=offscreen

# the marker named here too, so the run does not depend on pyproject.toml registering it
timeout 200 "$PYTHON" -m pytest -m cuda -o "markers=cuda: needs an NVIDIA GPU" -p no:cacheprovider -q -rs \
    tests/xai/test_cuda.py tests/xai/test_batched.py tests/app/test_device_switch.py 2>&1 | tee "$LOGS/cuda_tests.log"
tests=${PIPESTATUS[0]}
say "cuda tests exit status $tests"

left=$((560 - (SECONDS - started)))  # what remains of the 10 minutes, less a margin
if [ "$left" -lt 150 ]; then
    say "FAILED: only ${left}s left for the benchmark"
    exit 1
fi
batched_s=90  # the corpus table's share, taken from the end
timeout $((left - batched_s)) "$PYTHON" benchmarks/bench_gpu.py --budget-s $((left - batched_s - 30)) 2>&1 \
    | tee "$LOGS/bench_gpu.md"
bench=${PIPESTATUS[0]}
say "bench_gpu exit status $bench, $((SECONDS - started))s in all"
timeout $batched_s "$PYTHON" benchmarks/batched_explain.py --device cuda --lines 64 --batch 8 16 32 --repeats 3 \
    2>&1 | tee "$LOGS/batched_explain.md"
batched=${PIPESTATUS[0]}
say "batched_explain exit status $batched, $((SECONDS - started))s in all"
[ "$tests" -eq 0 ] && [ "$bench" -eq 0 ] && [ "$batched" -eq 0 ]
