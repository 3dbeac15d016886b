#!/usr/bin/env bash
# Checks that the interposer leaves ordinary I/O alone, then builds the kernel's own iommufd
# selftests (tools/testing/selftests/iommu/iommufd.c and iommufd_fail_nth.c from Debian's
# linux-source-7.2, unmodified) with gcc against the pinned 7.2 UAPI headers, runs them on this
# machine through the abi-preload interposer (the engine with IOMMU_TEST_CMD on), and prints the
# TAP totals. Every failing iommufd.c test must be listed, with its reason, in known-failures.txt:
# a failure not listed there fails this script, and a listed test that passes is reported so the
# list shrinks. Every iommufd_fail_nth.c test must pass.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${ABI_CACHE:-$HOME/.cache/abi}
out="$root/artifacts/selftest"
mkdir -p "$out"
start=$(date +%s)

# libcap (the selftest links -lcap), only when missing.
"$root/scripts/install-missing.sh" libcap-dev

src=$("$root/scripts/selftest/sources.sh")
version=$(basename "$src")

headers="$cache/headers/linux-libc-dev_7.2.13-1/usr/include"
[ -d "$headers" ] || { echo "selftest: the pinned 7.2 headers are missing ($headers); run scripts/setup.sh" >&2; exit 1; }
# The selftest Makefile's flags (lib.mk adds -D_GNU_SOURCE=), dynamically linked so LD_PRELOAD applies.
for test in iommufd iommufd_fail_nth; do
  gcc -Wall -O2 -Wno-unused-function -D_GNU_SOURCE= -isystem "$headers" -I"$src/tools/testing/selftests" \
    -o "$out/$test" "$src/tools/testing/selftests/iommu/$test.c" -lcap
done
preload=$("$root/scripts/interposer.sh")

# First, the interposer leaves everything else alone: ordinary file, pipe, socket, eventfd and mmap
# traffic prints the same without it, with it, and with it while the engine holds /dev/iommu open.
gcc -O2 -Wall -o "$out/file-io" "$root/Interposer/examples/file-io.c"
"$out/file-io" > "$out/file-io.plain.txt"
LD_PRELOAD="$preload" "$out/file-io" > "$out/file-io.preload.txt"
LD_PRELOAD="$preload" "$out/file-io" engine | grep -v '^close /dev/iommu' > "$out/file-io.engine.txt"
if diff -u "$out/file-io.plain.txt" "$out/file-io.preload.txt" && diff -u "$out/file-io.plain.txt" "$out/file-io.engine.txt"; then
  echo "selftest: file-io under LD_PRELOAD: $(wc -l < "$out/file-io.plain.txt") lines identical to the plain run, with and without the engine loaded"
else
  echo "selftest: the interposer changed ordinary file I/O (diff above)"
  exit 1
fi

# A C program finds the engine's PCI functions as VFIO libraries do (opendir/readdir of
# /sys/bus/pci/devices, attribute files, readlink of driver and iommu_group, vfio-dev, the group's
# members) and opens their cdevs: the engine's sysfs view through the interposer.
gcc -O2 -Wall -Wextra -Werror -o "$out/pci-probe" "$root/Interposer/examples/pci-probe.c"
ABI_ENGINE_DEVICES=edu,virtio-net-pair LD_PRELOAD="$preload" "$out/pci-probe" > "$out/pci-probe.engine.txt"
if diff -u "$root/Interposer/examples/pci-probe.engine.expected" "$out/pci-probe.engine.txt"; then
  echo "selftest: pci-probe on the engine's sysfs: $(wc -l < "$out/pci-probe.engine.txt") lines as expected"
else
  echo "selftest: the engine's sysfs view differs from Interposer/examples/pci-probe.engine.expected (diff above)"
  exit 1
fi

# Register access through an mmap of an engine BAR: loads and stores of every width fault into the
# interposer, which performs them on the edu model and steps over the instruction.
gcc -O2 -Wall -Wextra -Werror -isystem "$headers" -o "$out/bar-access" "$root/Interposer/examples/bar-access.c"
ABI_ENGINE_DEVICES=edu LD_PRELOAD="$preload" "$out/bar-access" > "$out/bar-access.engine.txt"
if diff -u "$root/Interposer/examples/bar-access.engine.expected" "$out/bar-access.engine.txt"; then
  echo "selftest: bar-access through a trapped BAR mapping: $(wc -l < "$out/bar-access.engine.txt") lines as expected"
else
  echo "selftest: register access through an mmap of an engine BAR differs from Interposer/examples/bar-access.engine.expected (diff above)"
  exit 1
fi

# A BAR mapping taken away page by page: the interposer tells the engine before munmap, so the
# unmapped page is no DMA source any more (type1 maps a BAR's pages), the rest still is, and the
# registers in the remaining pages still answer.
gcc -O2 -Wall -Wextra -Werror -isystem "$headers" -o "$out/bar-unmap" "$root/Interposer/examples/bar-unmap.c"
ABI_ENGINE_CONTAINER=type1 ABI_ENGINE_DEVICES=edu LD_PRELOAD="$preload" "$out/bar-unmap" > "$out/bar-unmap.engine.txt"
if diff -u "$root/Interposer/examples/bar-unmap.engine.expected" "$out/bar-unmap.engine.txt"; then
  echo "selftest: bar-unmap, a BAR mapping unmapped page by page: $(wc -l < "$out/bar-unmap.engine.txt") lines as expected"
else
  echo "selftest: a partly unmapped BAR mapping differs from Interposer/examples/bar-unmap.engine.expected (diff above)"
  exit 1
fi

# A fork() child goes on with its copy of the engine (the kselftest harness runs each test in one):
# arguments the child writes on its heap after the fork are read from the child's memory.
gcc -O2 -Wall -Wextra -Werror -isystem "$headers" -o "$out/fork-child" "$root/Interposer/examples/fork-child.c"
LD_PRELOAD="$preload" "$out/fork-child" > "$out/fork-child.engine.txt"
if diff -u "$root/Interposer/examples/fork-child.engine.expected" "$out/fork-child.engine.txt"; then
  echo "selftest: fork-child uses the engine after fork(): $(wc -l < "$out/fork-child.engine.txt") lines as expected"
else
  echo "selftest: a fork() child's engine calls differ from Interposer/examples/fork-child.engine.expected (diff above)"
  exit 1
fi

# The hugepage variants need free 2 MiB pages (the real-kernel run reserves them on its command line).
# Raised for the run when this user may, put back afterwards.
pool=/proc/sys/vm/nr_hugepages
restore=""
if [ -w "$pool" ] && [ "$(cat "$pool")" -lt 64 ]; then
  restore=$(cat "$pool")
  echo 64 > "$pool" || restore=""
fi
trap '[ -z "$restore" ] || echo "$restore" > "$pool"' EXIT

set +e
LD_PRELOAD="$preload" ABI_ENGINE_IOMMUFD_TEST=1 timeout 900 "$out/iommufd" > "$out/iommufd.tap" 2>&1
status=$?
set -e
totals=$(grep -E '^# Totals:' "$out/iommufd.tap" || true)
[ -n "$totals" ] || { echo "selftest: the run did not finish (exit $status)"; tail -n 20 "$out/iommufd.tap"; exit 1; }

# Compare the failures with the known list (test names, one per line, then " # reason").
grep -E '^not ok ' "$out/iommufd.tap" | sed -E 's/^not ok [0-9]+ //; s/ #.*//' | sort > "$out/failed.txt"
grep -vE '^\s*(#|$)' "$here/known-failures.txt" | sed -E 's/\s*#.*//' | sort > "$out/known.txt"
# Without free huge pages (a machine where the pool cannot be raised) the hugepage variants cannot run.
free_huge=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
if [ "${free_huge:-0}" -lt 64 ]; then
  echo "selftest: only ${free_huge:-0} free 2 MiB huge pages (64 needed); the hugepage variants are expected to fail"
  grep -i huge "$out/failed.txt" >> "$out/known.txt" || true
  sort -o "$out/known.txt" "$out/known.txt"
fi
unexpected=$(comm -23 "$out/failed.txt" "$out/known.txt")
fixed=$(comm -13 "$out/failed.txt" "$out/known.txt")
echo "selftest: iommufd.c from linux-source $version against the engine: ${totals#\# Totals: } ($(( $(date +%s) - start )) s)"
echo "selftest: $(wc -l < "$out/failed.txt") failing, all listed with their reason in scripts/selftest/known-failures.txt: $([ -z "$unexpected" ] && echo yes || echo no)"
if [ -n "$fixed" ]; then
  echo "selftest: listed as failing but passed now (remove them from the list):"
  echo "$fixed" | sed 's/^/  /'
fi

# iommufd_fail_nth.c: each test reruns its sequence failing the 1st, 2nd, ... fault-injection
# point until a run reaches none. ABI_ENGINE_FAIL_NTH=1 gives it the engine's failure points
# through the task's fail-nth file; every test must pass (the trace counts the injected failures).
set +e
LD_PRELOAD="$preload" ABI_ENGINE_IOMMUFD_TEST=1 ABI_ENGINE_FAIL_NTH=1 ABI_ENGINE_TRACE=1 timeout 900 \
  "$out/iommufd_fail_nth" > "$out/iommufd_fail_nth.tap" 2>&1
set -e
nth_totals=$(grep -E '^# Totals:' "$out/iommufd_fail_nth.tap" || true)
injected=$(grep -c 'injected failure' "$out/iommufd_fail_nth.tap" || true)
echo "selftest: iommufd_fail_nth.c against the engine: ${nth_totals#\# Totals: } ($injected failures injected)"
nth_failed=$(grep -E '^not ok ' "$out/iommufd_fail_nth.tap" | sed -E 's/^not ok [0-9]+ //; s/ #.*//' || true)
if [ -z "$nth_totals" ] || [ -n "$nth_failed" ]; then
  echo "selftest: iommufd_fail_nth did not pass:"
  grep -E '^(not ok|# .*(Expected|Assertion))' "$out/iommufd_fail_nth.tap" | head -n 20
  exit 1
fi

if [ -n "$unexpected" ]; then
  echo "selftest: failures not in the list:"
  echo "$unexpected" | sed 's/^/  /'
  grep -B4 -E '^not ok ' "$out/iommufd.tap" | grep -E '^# .*(Expected|Assertion)' | head -n 20
  exit 1
fi
