#!/usr/bin/env bash
# GPU check: what can only be measured or tested on a CUDA GPU, in one run of under 8 minutes.
#
#   bash tools/gpu_check.sh [OUT_DIR]        # default OUT_DIR: outputs/gpu_check
#   bash tools/gpu_check.sh --help           # this text
#
# OUT_DIR is relative to the repository root (the script runs from there).
# On a machine with CUDA it runs, in this order:
#   1. the CUDA tests (tests/test_benchmark_cuda.py): every attention kind under AMP bf16 and
#      fp16 with channels_last input (forward, backward, channels_last kept), softmax in fp32
#      under autocast, torch.compile of resnet18_{se,cbam,eca,gc} against eager, and the
#      benchmark's CUDA modes;
#   2. the benchmark with --amp bf16 --channels-last: resnet50 vs resnet50_{se,cbam,eca,gc} vs
#      timm's own se/cbam/eca/gc, inference and training step, batch 64 at 224 px
#      (images/s, overheads, training peak memory);
#   3. the benchmark with --compile (compiled inference beside eager) for resnet50 vs
#      resnet50_{cbam,gc} vs timm's, the two kinds with the largest overhead (every kind
#      would not fit the time: each compile takes about half a minute);
#   4. a single-GPU NCCL run of the main job's trainer:
#      torchrun --nproc_per_node=1 tools/train.py configs/resnet_cbam/resnet18-cbam_1xb32_digits.py
#        --launcher pytorch (2 epochs).
# Without CUDA it runs the CPU parts quickly (the CUDA tests report themselves skipped, and a
# small CPU benchmark shows the tool works) and prints which CUDA parts it skipped.
# Results: OUT_DIR/*.json, *.csv, *.png, *.log; a summary at the end. Exit status: non-zero if
# a part failed (the other parts still run).
set -u
usage="usage: bash tools/gpu_check.sh [OUT_DIR]   (default OUT_DIR: outputs/gpu_check; --help: what it runs)"
case "${1:-}" in
  -h|--help)  # the comment block above, without its '#'
    sed -n '2,/^set -u$/{/^set -u$/d;s/^# \{0,1\}//;p}' "$0"
    exit 0 ;;
  -*)
    echo "gpu_check: unknown option '$1'; it takes no options, only an output folder." >&2
    echo "$usage" >&2
    exit 2 ;;
esac
if [ $# -gt 1 ]; then
  echo "gpu_check: expected at most one argument (OUT_DIR), got $#: $*" >&2
  echo "$usage" >&2
  exit 2
fi
cd "$(dirname "$0")/.."
OUT=${1:-outputs/gpu_check}
mkdir -p "$OUT"
PY=${PYTHON:-python}
if ! "$PY" -c 'import torch, convattn_plugin' 2>/dev/null; then
  echo "gpu_check: '$PY' cannot import torch and convattn_plugin: activate the project's virtual" \
       "environment (source .venv/bin/activate) or set PYTHON=/path/to/python" >&2
  exit 2
fi
status=0
skipped=()

run() {  # run NAME CMD...: log to OUT/NAME.log, remember failures
  local name=$1; shift
  echo "== $name: $*"
  local t0=$SECONDS
  if "$@" > >(tee "$OUT/$name.log") 2> >(tee "$OUT/$name.err" >&2); then
    echo "== $name: ok ($((SECONDS - t0)) s)"
  else
    echo "== $name: FAILED ($((SECONDS - t0)) s), see $OUT/$name.log"
    status=1
  fi
}

if "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  "$PY" -c 'import torch; print("GPU:", torch.cuda.get_device_name(0), "| torch", torch.__version__)'
  run cuda_tests "$PY" -m pytest -q -rs -p no:cacheprovider tests/test_benchmark_cuda.py
  run bench_amp "$PY" tools/benchmark.py --device cuda --amp bf16 --channels-last --modes infer train \
    --batch-size 64 --rounds 10 --warmup 3 --no-progress --markdown \
    --out "$OUT/bench_amp.json" "$OUT/bench_amp.csv" --plot "$OUT/bench_amp.png"
  run bench_compile "$PY" tools/benchmark.py --device cuda --amp bf16 --channels-last --modes infer \
    --compile --kinds cbam gc --batch-size 64 --rounds 10 --warmup 2 --no-progress --markdown \
    --out "$OUT/bench_compile.json" "$OUT/bench_compile.csv" --plot "$OUT/bench_compile.png"
  run nccl_train torchrun --nproc_per_node=1 tools/train.py configs/resnet_cbam/resnet18-cbam_1xb32_digits.py \
    --launcher pytorch --work-dir "$OUT/nccl_digits" --cfg-options train_cfg.max_epochs=2 train_cfg.val_interval=2
else
  echo "No CUDA here: running the CPU parts only."
  OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} run cuda_tests "$PY" -m pytest -q -rs -p no:cacheprovider \
    tests/test_benchmark_cuda.py
  OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} run bench_cpu "$PY" tools/benchmark.py --device cpu --threads 1 \
    --models resnet18+cbam resnet18+timm:cbam --modes infer train --batch-size 2 --img-size 64 --rounds 3 \
    --no-progress --out "$OUT/bench_cpu.json" --plot "$OUT/bench_cpu.png"
  skipped=("CUDA tests (AMP bf16/fp16, channels_last, fp32 softmax, compile): skipped by pytest, needs CUDA"
           "benchmark --amp bf16 --channels-last on resnet50 (needs CUDA)"
           "benchmark --compile on resnet50 (needs CUDA; on the CPU run tools/benchmark.py --compile yourself)"
           "torchrun single-GPU NCCL training (needs CUDA)")
fi

echo
echo "== summary (results in $OUT)"
for f in "$OUT"/*.log; do
  echo "-- $(basename "$f" .log): $(tail -1 "$f")"
done
if [ ${#skipped[@]} -gt 0 ]; then
  echo "SKIPPED (no CUDA on this machine):"
  printf '  - %s\n' "${skipped[@]}"
fi
exit $status
