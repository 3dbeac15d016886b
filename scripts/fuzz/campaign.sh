#!/usr/bin/env bash
# The differential fuzzing campaign: abi-fuzz (Conformance/Fuzz/abi-fuzz.c) runs the same seeded
# ioctl streams on the 7.2 kernel booted under QEMU and on the engine through the LD_PRELOAD
# interposer. Per seed, the transcripts' digests are compared; for seeds that differ, a second boot
# brings the whole transcripts and the report names each seed's first differing call. A difference
# whose first line matches an entry of known-differences.txt is counted as known; any other
# difference, and any seed whose process died, fails the campaign.
#
#   campaign.sh [--first N] [--seeds N] [--calls N] [--explain N] [--vfio | --device] [--two-devices]
#
# --vfio adds the device cdev operations (QEMU's edu bound to vfio-pci in the guest, edu-qemu on the
# engine); the guest stall its first run met at seed 46 was the mock IOMMU taking edu for its own, and
# the mock's operations are left out of --vfio streams (abi-fuzz.c: vfio_weight). --device adds to
# --vfio's operations the device fd's SET_IRQS, FEATURE, hot reset and IOEVENTFD ioctls, with eventfds
# to pass them and to read loopback signals back from (abi-fuzz.c: device_weight). --two-devices gives
# both sides a second edu in a group of its own, which the streams open, bind, attach and put in
# containers beside the first (replays recorded so are named *.two.{vfio,device}.script; reduce.sh
# reduces such a seed with ABI_FUZZ_TWO_DEVICES=1 in its environment).
#
# Results go to artifacts/fuzz/: kernel.digests, engine.digests, report.txt, and per differing
# seed <seed>.kernel.txt / <seed>.engine.txt / <seed>.script (replay with: abi-fuzz replay FILE).
# First, every reduced script in replays/ runs on the engine and must match the kernel's transcript
# kept beside it (differences found and fixed stay fixed without a boot).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
first=1 seeds=200 calls=200 explain=24
while [ $# -gt 0 ]; do
  case "$1" in
    --first) first=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --calls) calls=$2; shift 2 ;;
    --explain) explain=$2; shift 2 ;;
    --vfio) export ABI_FUZZ_VFIO=1; shift ;;
    --device) export ABI_FUZZ_VFIO=2; shift ;;
    --two-devices) export ABI_FUZZ_TWO_DEVICES=1; shift ;;
    *) echo "campaign.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
out="$root/artifacts/fuzz"
rm -rf "$out" && mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$(date +%s)

source "$here/lib.sh"
fuzz_prepare
fuzz_initrd

# "seed N" then "digest H" (or a death line) per seed, as "N H" pairs.
pairs() { awk '/^seed /{s=$2; next} /^digest /{print s, $2} /^died seed /{print $3, "died-signal-" $5} /^failed seed /{print $3, "failed-exit-" $5}' "$1"; }

# Reduced scripts of differences fixed earlier: the engine must answer them as the kernel did then.
replays=0 replay_failures=0
for script in "$here"/replays/*.script; do
  [ -e "$script" ] || continue
  replays=$((replays + 1))
  # *.vfio.script were recorded with the device and legacy operations (ABI_FUZZ_VFIO=1), *.device.script
  # with the device fd's interrupt, feature, reset and ioeventfd operations too (ABI_FUZZ_VFIO=2).
  vfio=0
  case "$script" in *.vfio.script) vfio=1 ;; *.device.script) vfio=2 ;; esac
  two=
  case "$script" in *.two.*) two=1 ;; esac
  if ! ABI_FUZZ_TWO_DEVICES=$two ABI_FUZZ_VFIO=$vfio fuzz_engine replay "$script" 2> /dev/null | diff -q - "${script%.script}.kernel.txt" > /dev/null; then
    replay_failures=$((replay_failures + 1))
    echo "campaign: replay $(basename "$script") differs from the kernel's transcript" >&2
  fi
done
echo "campaign: replays: $((replays - replay_failures)) of $replays identical to the kernel's transcripts"

echo "campaign: seeds $first..$((first + seeds - 1)), $calls calls each; kernel $kernel"
fuzz_boot "abi.fuzz=$first:$seeds:$calls" "$out/guest-console.log" > "$out/kernel.digests"
echo "campaign: kernel side done ($(( $(date +%s) - start )) s)"
fuzz_engine run "$first" "$seeds" "$calls" > "$out/engine.digests" 2> "$out/engine.stderr"
echo "campaign: engine side done ($(( $(date +%s) - start )) s)"

pairs "$out/kernel.digests" > "$work/kernel.pairs"
pairs "$out/engine.digests" > "$work/engine.pairs"
kernel_seeds=$(wc -l < "$work/kernel.pairs")
engine_deaths=$(grep -c 'died-\|failed-' "$work/engine.pairs" || true)
kernel_deaths=$(grep -c 'died-\|failed-' "$work/kernel.pairs" || true)
awk 'NR==FNR {k[$1]=$2; next} !($1 in k) || k[$1] != $2 {print $1}' "$work/kernel.pairs" "$work/engine.pairs" > "$work/differing"
differing=$(wc -l < "$work/differing")

# Whole transcripts of the first differing seeds, from a second boot and from the engine.
known=0 unknown=0
: > "$out/report.txt"
if [ "$differing" -gt 0 ]; then
  list=$(head -n "$explain" "$work/differing" | paste -sd, -)
  fuzz_boot "abi.full=$list:$calls" "$out/guest-console-full.log" > "$work/kernel.full"
  for s in $(echo "$list" | tr , ' '); do
    awk -v s="$s" '/^seed /{on = ($2 == s); next} /^end$/{on = 0} on' "$work/kernel.full" > "$out/$s.kernel.txt"
    fuzz_engine run "$s" 1 "$calls" --full | sed '1d;$d' > "$out/$s.engine.txt"
    "$fuzz" script "$s" "$calls" > "$out/$s.script"
    { read -r kernel_line; read -r engine_line; } < <(fuzz_first_difference "$out/$s.kernel.txt" "$out/$s.engine.txt"; echo; echo)
    key=$(fuzz_key "$kernel_line" "$engine_line")
    if grep -v '^#' "$here/known-differences.txt" | awk -F'\t' '{print $1}' | grep -qxF "$key"; then
      known=$((known + 1)); verdict=known
    else
      unknown=$((unknown + 1)); verdict=NEW
    fi
    printf 'seed %s %s: %s\n  kernel: %s\n  engine: %s\n' "$s" "$verdict" "$key" "$kernel_line" "$engine_line" >> "$out/report.txt"
  done
fi
unexplained=$(( differing > explain ? differing - explain : 0 ))
summary="fuzz: $kernel_seeds seeds x $calls calls: $((kernel_seeds - differing)) identical, $differing differing ($known known, $unknown new, $unexplained not explained); engine deaths $engine_deaths, kernel deaths $kernel_deaths ($(( $(date +%s) - start )) s)"
echo "$summary" | tee -a "$out/report.txt"
[ -s "$out/report.txt" ] && grep -A2 '^seed .* NEW' "$out/report.txt" | head -n 30 || true
[ "$kernel_seeds" -eq "$seeds" ] || { echo "campaign: the kernel ran $kernel_seeds of $seeds seeds" >&2; exit 1; }
[ "$engine_deaths" -eq 0 ] && [ "$unknown" -eq 0 ] && [ "$unexplained" -eq 0 ] && [ "$replay_failures" -eq 0 ]
