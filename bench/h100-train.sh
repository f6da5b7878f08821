# Training-step measurements on the lent H100 (issue 4's GPU rows, issue 6's training step): the GPU
# gradient engine's tests on the NVIDIA adapter, then bench/train-step.ts --device webgpu for the
# default model at L = 2^10 … 2^20, each beside an nvidia-smi sampler (WebGPU cannot report device
# memory; the sampler's max of memory.used minus the idle baseline is the step's peak).
# Run there, from the repo root, with .device and dist carried:  bash bench/h100-train.sh [L:B …]
# Environment: SKIP_TESTS=1, PROFILE=--profile, CHUNK=<tokens> (engine chunk), REPEATS (2), STEP_TIMEOUT (300 s),
# EXTRA (more train-step.js flags, e.g. --no-batch).
source .device/setup.sh
OUT=${OUT:-/tmp/out}; mkdir -p $OUT
nvidia-smi -L > $OUT/train-gpu.txt 2>&1
if [ -z "$SKIP_TESTS" ]; then
  timeout 240 node node_modules/ava/entrypoints/cli.mjs dist/test/train/grad-gpu.test.js > $OUT/train-tests.txt 2>&1; tail -3 $OUT/train-tests.txt
fi
base=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
for spec in ${@:-"1024:8" "16384:1" "131072:1" "1048576:1"}; do
  L=${spec%%:*}; B=${spec##*:}
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > /tmp/mem-$L.txt &
  smi=$!
  timeout ${STEP_TIMEOUT:-300} node dist/bench/train-step.js --device webgpu --L $L --B $B --repeats ${REPEATS:-2} ${CHUNK:+--chunk $CHUNK} $PROFILE $EXTRA 2>/tmp/err-$L.txt > /tmp/res-$L.json
  rc=$?
  kill $smi
  peak=$(sort -n /tmp/mem-$L.txt | tail -1)
  echo "{\"L\":$L,\"B\":$B,\"rc\":$rc,\"gpuMemBaselineMiB\":$base,\"gpuMemPeakMiB\":$peak,\"result\":$(cat /tmp/res-$L.json || echo null)}" | tee -a $OUT/train-steps.jsonl
  grep -v "artificially reduced" /tmp/err-$L.txt | tail -3
done
