#!/usr/bin/env bash
# Shrinks a seed whose transcript differs between the kernel and the engine to a minimal script with
# the same first difference (delta debugging over its calls). Each round packs every candidate into
# one guest boot and runs them all on the engine too; the smallest candidate that still shows the
# difference is kept. The result is replayable on either side with `abi-fuzz replay FILE`.
#
#   reduce.sh SEED [--calls N]
#
# Writes artifacts/fuzz-reduced/seed-<seed>.script with its kernel and engine transcripts beside it
# (a campaign clears artifacts/fuzz, not this folder); copy a fixed one into scripts/fuzz/replays/.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
seed=${1:?usage: reduce.sh SEED [--calls N]}
calls=200
[ "${2:-}" = --calls ] && calls=$3
out="$root/artifacts/fuzz-reduced"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$here/lib.sh"
fuzz_prepare

# evaluate FILE...: for each candidate script, its key ("name kernel-rc engine-rc") or "same", in order.
evaluate() {
  rm -rf "$work/scripts" && mkdir -p "$work/scripts"
  local i=0 f
  for f in "$@"; do cp "$f" "$work/scripts/$i"; i=$((i + 1)); done
  fuzz_initrd
  fuzz_boot "abi.play=1" "$work/console.log" > "$work/kernel.all"
  i=0
  for f in "$@"; do
    awk -v s="$i" '/^script /{on = ($2 == s); next} on' "$work/kernel.all" > "$work/k.$i"
    fuzz_engine replay "$f" > "$work/e.$i" 2> /dev/null || true
    { read -r k; read -r e; } < <(fuzz_first_difference "$work/k.$i" "$work/e.$i"; echo; echo)
    if [ -z "$k" ] && [ -z "$e" ]; then echo same; else fuzz_key "$k" "$e"; fi
    i=$((i + 1))
  done
}

"$fuzz" script "$seed" "$calls" > "$work/current"
target=$(evaluate "$work/current")
[ "$target" != same ] || { echo "reduce: seed $seed shows no difference" >&2; exit 1; }
echo "reduce: seed $seed, $(wc -l < "$work/current") calls, first difference: $target"

chunks=2
while :; do
  n=$(wc -l < "$work/current")
  [ "$n" -le 1 ] && break
  [ "$chunks" -gt "$n" ] && chunks=$n
  size=$(( (n + chunks - 1) / chunks ))
  candidates=()
  for ((c = 0; c < chunks; c++)); do
    # The script without chunk c.
    awk -v from=$((c * size + 1)) -v to=$(((c + 1) * size)) 'NR < from || NR > to' "$work/current" > "$work/cand.$c"
    [ -s "$work/cand.$c" ] && candidates+=("$work/cand.$c")
  done
  mapfile -t results < <(evaluate "${candidates[@]}")
  kept=""
  for i in "${!results[@]}"; do
    if [ "${results[$i]}" = "$target" ]; then kept=${candidates[$i]}; break; fi
  done
  if [ -n "$kept" ]; then
    cp "$kept" "$work/current"
    chunks=$(( chunks > 2 ? chunks - 1 : 2 ))
    echo "reduce: $(wc -l < "$work/current") calls"
  elif [ "$chunks" -lt "$n" ]; then
    chunks=$(( chunks * 2 ))
  else
    break
  fi
done

cp "$work/current" "$out/seed-$seed.script"
evaluate "$work/current" > /dev/null
cp "$work/k.0" "$out/seed-$seed.kernel.txt"
cp "$work/e.0" "$out/seed-$seed.engine.txt"
echo "reduce: seed $seed: $(wc -l < "$work/current") calls keep \"$target\"; artifacts/fuzz-reduced/seed-$seed.script"
