source .device/setup.sh
timeout 300 node node_modules/ava/entrypoints/cli.mjs dist/test/train/grad-gpu.test.js dist/test/kernels/selective-scan-backward-gpujs.test.js dist/test/kernels/split-reductions.test.js > $OUT/tests.txt 2>&1; tail -2 $OUT/tests.txt
node dist/kernels/selective-scan/bench-backward.js --lmin 20 --lmax 20 --seg 262144 --repeats 5 --configs tree:8:quad --fwd-layout chunk --profile 20 --json > $OUT/bwd.json 2> $OUT/bwd.err
grep -v artificially $OUT/bwd.err | tail -3
for L in 262149 524280; do node dist/kernels/selective-scan/bench-backward.js --check $L > $OUT/bwd-check-$L.json 2> /dev/null; head -c 500 $OUT/bwd-check-$L.json; echo; done
export SKIP_TESTS=1 REPEATS=3
bash bench/h100-train.sh 131072:1 1048576:1 1024:64 16384:4 > /dev/null 2>&1
mv $OUT/train-steps.jsonl $OUT/train-default.jsonl
CHUNK=131072 bash bench/h100-train.sh 131072:1 1048576:1 > /dev/null 2>&1
mv $OUT/train-steps.jsonl $OUT/train-chunk131072.jsonl
for f in $OUT/train-*.jsonl; do echo $f; node -e 'for(const l of require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n")){const j=JSON.parse(l);console.log(j.L,j.B,j.rc,j.gpuMemPeakMiB-j.gpuMemBaselineMiB,j.result&&j.result.tokensPerSec,j.result&&JSON.stringify(j.result.times))}' $f; done
node dist/bench/train-step.js --device webgpu --L 131072 --B 1 --pass-times > $OUT/pass-131072.json 2> /dev/null
node -e 'const j=require(process.argv[1]);const p=j.passTimes;console.log(j.medianMs,p.spanMs,p.busyMs,p.passes);console.log(Object.entries(p.byKernel).filter(([k])=>/conv|DZ|DU|dZ|dU/.test(k)).map(([k,v])=>k+" "+v.ms+"/"+v.passes).join(", "));console.log(Object.entries(p.byScope).slice(0,6).map(([k,v])=>k+" "+v.ms).join(", "))' $OUT/pass-131072.json
