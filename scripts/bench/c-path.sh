#!/usr/bin/env bash
# What a C program pays per iommufd call through the abi-preload interposer: builds the interposer
# and Benchmarks/c/ioas-scaling.c (against the pinned 7.2 UAPI headers), then runs it. Prints, for
# 1, 10^3 and 10^6 live areas, the map+unmap pair and the cheapest successful ioctl in ns (best of
# five rounds). The C# figures for the same pair are ScalingBenchmarks' (BenchmarkDotNet).
# Usage: scripts/bench/c-path.sh [iterations per round, default 200000]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${ABI_CACHE:-$HOME/.cache/abi}
headers="$cache/headers/linux-libc-dev_7.2.13-1/usr/include"
[ -d "$headers" ] || { echo "c-path: the pinned 7.2 headers are missing ($headers); run scripts/setup.sh" >&2; exit 1; }
out="$root/artifacts/bench"
mkdir -p "$out"
gcc -O2 -Wall -Wextra -Werror -isystem "$headers" -o "$out/ioas-scaling" "$root/Benchmarks/c/ioas-scaling.c" -lpthread
preload=$("$root/scripts/interposer.sh")
LD_PRELOAD="$preload" "$out/ioas-scaling" "${1:-200000}"
