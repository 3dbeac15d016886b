#!/usr/bin/env bash
# The differential fuzzing campaign: abi-fuzz (Conformance/Fuzz/abi-fuzz.c) runs the same seeded
# ioctl streams on the 7.2 kernel booted under QEMU and on the engine through the LD_PRELOAD
# interposer. Per seed, the transcripts' digests are compared; for seeds that differ, a second boot
# brings the whole transcripts and the report names each seed's first differing call. A difference
# whose first line matches an entry of known-differences.txt is counted as known; any other
# difference, and any seed whose process died, fails the campaign.
#
#   campaign.sh [--first N] [--seeds N] [--calls N] [--explain N]
#
# Results go to artifacts/fuzz/: kernel.digests, engine.digests, report.txt, and per differing
# seed <seed>.kernel.txt / <seed>.engine.txt / <seed>.script (replay with: abi-fuzz replay FILE).
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
    *) echo "campaign.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
out="$root/artifacts/fuzz"
rm -rf "$out" && mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$(date +%s)

"$root/scripts/qemu/deps.sh"
kernel=$("$root/scripts/qemu/kernel.sh")
src=$("$root/scripts/selftest/sources.sh")
cache=${ABI_CACHE:-$HOME/.cache/abi}
fuzz="$work/abi-fuzz"
gcc -O2 -Wall -Wextra -Werror -isystem "$cache/headers/linux-libc-dev_7.2.13-1/usr/include" \
  -I "$src/drivers/iommu/iommufd" -o "$fuzz" "$root/Conformance/Fuzz/abi-fuzz.c"
preload=$("$root/scripts/interposer.sh")

# The initramfs: static busybox, the init script, abi-fuzz and the libraries it links.
mkdir -p "$work/root"/{bin,dev,proc,sys,tmp,fuzz,lib64,lib/x86_64-linux-gnu}
cp /bin/busybox "$work/root/bin/busybox"
cp "$here/init" "$work/root/init"
cp "$fuzz" "$work/root/fuzz/"
cp -L /lib64/ld-linux-x86-64.so.2 "$work/root/lib64/"
cp -L /lib/x86_64-linux-gnu/libc.so.6 "$work/root/lib/x86_64-linux-gnu/"
(cd "$work/root" && find . | cpio -o -H newc --quiet | gzip -1 > "$work/initrd.gz")

# boot <kernel command line words> <console log>: the guest's results between the markers, on stdout.
boot() {
  timeout 3000 qemu-system-x86_64 -machine q35 -accel tcg -cpu max -smp 1 -m 1024 -nographic -no-reboot -nic none \
    -kernel "$kernel" -initrd "$work/initrd.gz" -append "console=ttyS0 loglevel=4 panic=-1 $1" \
    < /dev/null > "$2" 2>&1 || true
  if ! grep -aq ABI-FUZZ-END "$2"; then
    echo "campaign: the guest did not finish; its console is in $2" >&2
    tail -n 30 "$2" >&2
    exit 1
  fi
  sed -n '/ABI-FUZZ-BEGIN/,/ABI-FUZZ-END/p' "$2" | tr -d '\r' | sed '1d;$d'
}

# "seed N" then "digest H" (or a death line) per seed, as "N H" pairs.
pairs() { awk '/^seed /{s=$2; next} /^digest /{print s, $2} /^died seed /{print $3, "died-signal-" $5} /^failed seed /{print $3, "failed-exit-" $5}' "$1"; }

echo "campaign: seeds $first..$((first + seeds - 1)), $calls calls each; kernel $kernel"
boot "abi.fuzz=$first:$seeds:$calls" "$out/guest-console.log" > "$out/kernel.digests"
echo "campaign: kernel side done ($(( $(date +%s) - start )) s)"
LD_PRELOAD=$preload ABI_ENGINE_IOMMUFD_TEST=1 "$fuzz" run "$first" "$seeds" "$calls" > "$out/engine.digests" 2> "$out/engine.stderr"
echo "campaign: engine side done ($(( $(date +%s) - start )) s)"

pairs "$out/kernel.digests" > "$work/kernel.pairs"
pairs "$out/engine.digests" > "$work/engine.pairs"
kernel_seeds=$(wc -l < "$work/kernel.pairs")
engine_deaths=$(grep -c 'died-\|failed-' "$work/engine.pairs" || true)
kernel_deaths=$(grep -c 'died-\|failed-' "$work/kernel.pairs" || true)
join "$work/kernel.pairs" "$work/engine.pairs" | awk '$2 != $3 {print $1}' > "$work/differing"
differing=$(wc -l < "$work/differing")

# Whole transcripts of the first differing seeds, from a second boot and from the engine.
known=0 unknown=0
: > "$out/report.txt"
if [ "$differing" -gt 0 ]; then
  list=$(head -n "$explain" "$work/differing" | paste -sd, -)
  boot "abi.full=$list:$calls" "$out/guest-console-full.log" > "$work/kernel.full"
  for s in $(echo "$list" | tr , ' '); do
    awk -v s="$s" '/^seed /{on = ($2 == s); next} /^end$/{on = 0} on' "$work/kernel.full" > "$out/$s.kernel.txt"
    LD_PRELOAD=$preload ABI_ENGINE_IOMMUFD_TEST=1 "$fuzz" run "$s" 1 "$calls" --full | sed '1d;$d' > "$out/$s.engine.txt"
    "$fuzz" script "$s" "$calls" > "$out/$s.script"
    # The first line at which the transcripts part (a missing line reads "(none)").
    kernel_line=$(awk 'NR==FNR {k[FNR]=$0; n=FNR; next} {e[FNR]=$0; m=FNR} END {for (i = 1; i <= (n > m ? n : m); i++) if (k[i] != e[i]) {print (i in k) ? k[i] : "(none)"; exit}}' "$out/$s.kernel.txt" "$out/$s.engine.txt")
    engine_line=$(awk 'NR==FNR {k[FNR]=$0; n=FNR; next} {e[FNR]=$0; m=FNR} END {for (i = 1; i <= (n > m ? n : m); i++) if (k[i] != e[i]) {print (i in e) ? e[i] : "(none)"; exit}}' "$out/$s.kernel.txt" "$out/$s.engine.txt")
    # The known-differences key: the call's name with both results ("name kernel-rc engine-rc").
    key="$(echo "$kernel_line" | awk '{print $2}') $(echo "$kernel_line" | grep -o 'rc=[-0-9a-z]*' | head -1) $(echo "$engine_line" | grep -o 'rc=[-0-9a-z]*' | head -1)"
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
[ "$engine_deaths" -eq 0 ] && [ "$unknown" -eq 0 ] && [ "$unexplained" -eq 0 ]
