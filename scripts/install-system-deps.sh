#!/usr/bin/env bash
# System packages mamba-dna's tests need on Debian bookworm (run as root; CI runs it from .ci/run):
#  - Mesa 25 from bookworm-backports: lavapipe, a Vulkan driver on the CPU, so WebGPU (dawn.node)
#    answers on machines without a GPU (bookworm's own Mesa 22 is too old for Dawn);
#  - samtools: the reference that `mamba-dna index` output is compared with, byte for byte;
#  - python3-numpy: reads the .npy files `mamba-dna embed --format npy` writes, in a test;
#  - tabix: htslib's bgzip, whose BGZF files `mamba-dna index` must read like samtools does.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo 'deb http://deb.debian.org/debian bookworm-backports main' | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
fi
need=()
dpkg -s samtools >/dev/null 2>&1 || need+=(samtools)
dpkg -s python3-numpy >/dev/null 2>&1 || need+=(python3-numpy)
dpkg -s tabix >/dev/null 2>&1 || need+=(tabix)
mesa=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
case "$mesa" in 2[5-9].*|[3-9][0-9].*) ;; *) need+=(mesa-vulkan-drivers) ;; esac
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq -t bookworm-backports "${need[@]}" >/dev/null
fi
echo "system deps: samtools $(samtools --version | head -1 | cut -d' ' -f2), mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
