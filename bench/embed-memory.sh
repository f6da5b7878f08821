#!/usr/bin/env bash
# Peak memory of `mamba-dna embed` over a 1,048,576-base region and over a 65,536-base region of a real
# bacterial genome (E. coli MG1655, decompressed from ../shared/data), default model (d_model 128,
# 12 layers), --pool none --format npy to /dev/null: memory must be set by the chunk, not by L.
# Usage: bash bench/embed-memory.sh [device] [threads]     (default: cpu, all cores)
set -euo pipefail
cd "$(dirname "$0")/.."
device=${1:-cpu}
threads=${2:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gunzip -c ../shared/data/bacteria/E.Coli/MG1655-K12.fasta.gz > "$work/ecoli.fa"
node bin/mamba-dna.js index "$work/ecoli.fa" 2>/dev/null
node bin/mamba-dna.js init --out "$work/model" 2>/dev/null
name=$(cut -f1 "$work/ecoli.fa.fai" | head -1)
for len in 65536 1048576; do
  start=1000001
  /usr/bin/time -f '%M %e' -o "$work/time" node bin/mamba-dna.js embed --model "$work/model" --fasta "$work/ecoli.fa" \
    -r "$name:$start-$((start + len - 1))" --pool none --format npy --device "$device" ${threads:+--threads $threads} > "$work/out.npy"
  read -r kb secs < "$work/time"
  bytes=$(stat -c %s "$work/out.npy")
  printf '{"bases": %d, "device": "%s", "peakRssMiB": %.0f, "seconds": %s, "tokensPerS": %.0f, "npyBytes": %d}\n' \
    "$len" "$device" "$(echo "$kb / 1024" | bc -l)" "$secs" "$(echo "$len / $secs" | bc -l)" "$bytes"
done
