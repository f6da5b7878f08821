# The batch of GPU measurements run on the lent H100 (see DEVELOPERS notes): build here, pack with
# ../shared/tools/device-prep.sh, then run `bash bench/h100-run.sh` there with .device and dist carried.
# Results land in $OUT; docs/bench-results/<date>-h100/ keeps the ones recorded in docs/benchmarks.md.
source .device/setup.sh
nvidia-smi -L > $OUT/gpu.txt 2>&1
node bin/mamba-dna.js devices > $OUT/devices.txt 2>&1
timeout 200 node node_modules/ava/entrypoints/cli.mjs dist/test/kernels/*.test.js dist/test/backend/gpujs-backend.test.js > $OUT/kernel-tests.txt 2>&1; tail -4 $OUT/kernel-tests.txt
grep -c "webgpu" $OUT/kernel-tests.txt
timeout 150 node dist/kernels/selective-scan/bench.js --device webgpu --lmin 10 --lmax 20 --naive --json > $OUT/scan-c16.json 2> $OUT/scan-c16.err; tail -c 600 $OUT/scan-c16.json
timeout 60 node dist/kernels/selective-scan/bench.js --device webgpu --lmin 16 --lmax 20 --chunk 8 --json > $OUT/scan-c8.json 2>/dev/null
timeout 60 node dist/kernels/selective-scan/bench.js --device webgpu --lmin 16 --lmax 20 --chunk 32 --json > $OUT/scan-c32.json 2>/dev/null
timeout 100 node dist/bench/model-forward-device.js --device webgpu --chunk 65536 --tokens 262144 > $OUT/model-webgpu.json 2>$OUT/model-webgpu.err; cat $OUT/model-webgpu.json
