#!/usr/bin/env bash
# The GPU check under JAX, then PyTorch (or only the backends named: gpu_check.sh torch), on a machine
# where everything is installed already: this installs nothing. Both runs' output, each ending with its
# Markdown table, goes to $OUT/gpu_check.txt (OUT defaults to gpu_check_results/), beside each
# backend's gpu_check_<backend>.json. GPU_CHECK_BUDGET is each run's --budget in seconds (default 225:
# both runs end within 8 minutes); PYTHON is the interpreter (python3). The exit status is the last
# failing run's, else 0.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-gpu_check_results}"
backends=("$@")
[ ${#backends[@]} -eq 0 ] && backends=(jax torch)
mkdir -p "$OUT"
: > "$OUT/gpu_check.txt"
status=0
for backend in "${backends[@]}"; do
    "${PYTHON:-python3}" benchmarks/gpu_check.py --backend "$backend" --out "$OUT" \
        --budget "${GPU_CHECK_BUDGET:-225}" 2>&1 | tee -a "$OUT/gpu_check.txt" || status=$?
done
exit "$status"
