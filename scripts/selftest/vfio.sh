#!/usr/bin/env bash
# The kernel's own VFIO selftests (tools/testing/selftests/vfio from Debian's linux-source-7.3,
# unmodified: libvfio and its seven programs, each fixture over the five IOMMU modes) built with gcc
# against the pinned 7.2 UAPI headers and run on the engine through the abi-preload interposer, with
# QEMU's edu device at 0000:00:03.0 (the 82576 model, igb, at 0000:00:04.0 for the driver test) and
# /dev/vfio/vfio served as the type1 backend (a kernel with
# CONFIG_VFIO_CONTAINER). Prints pass/fail/skip per program and IOMMU mode. Every failing test must be
# listed with its reason in vfio-known-failures.txt; a failure not listed fails this script, and a
# listed test that passes is reported so the list shrinks.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${ABI_CACHE:-$HOME/.cache/abi}
out="$root/artifacts/vfio-selftest"
mkdir -p "$out"
start=$(date +%s)

# libvfio links libuuid (VF tokens), only when missing.
"$root/scripts/install-missing.sh" uuid-dev

src=$("$here/vfio-sources.sh")
headers="$cache/headers/linux-libc-dev_7.2.13-1/usr/include"
[ -d "$headers" ] || { echo "vfio selftest: the pinned 7.2 headers are missing ($headers); run scripts/setup.sh" >&2; exit 1; }
S="$src/tools/testing/selftests"
V="$S/vfio"
programs=(vfio_dma_mapping_test vfio_dma_mapping_mmio_test vfio_iommufd_setup_test vfio_pci_device_test vfio_pci_device_init_perf_test vfio_pci_driver_test vfio_pci_sriov_uapi_test)
# The selftest Makefile's flags (lib.mk adds -D_GNU_SOURCE=; libvfio.mk the include folders).
cflags=(-isystem "$headers" -D_GNU_SOURCE= -I"$S" -I"$V/lib/include" -I"$src/tools/include" -Wall -Werror -O2)
objects=()
mkdir -p "$out/lib"
for c in iommu.c iova_allocator.c libvfio.c sysfs.c vfio_pci_device.c vfio_pci_driver.c drivers/ioat/ioat.c drivers/dsa/dsa.c drivers/nv_falcon/nv_falcon.c drivers/igb/igb.c; do
  o="$out/lib/$(echo "$c" | tr / _ | sed 's/\.c$/.o/')"
  gcc "${cflags[@]}" -c "$V/lib/$c" -o "$o"
  objects+=("$o")
done
for p in "${programs[@]}"; do
  gcc "${cflags[@]}" -pthread "$V/$p.c" "${objects[@]}" -luuid -o "$out/$p"
done
preload=$("$root/scripts/interposer.sh")
# The C# side of the same flows (Conformance/Abi.DeviceFlows): the runtime's device API in the five
# modes against edu, NativeAOT with libc bound directly so that under the interposer its syscalls
# reach the shim; the same binary runs in the guest.
dotnet publish "$root/Conformance/Abi.DeviceFlows" -c Release -r linux-x64 -o "$out/device-flows" -v quiet -nologo -clp:ErrorsOnly >&2
cp "$out/device-flows/abi_device_flows" "$out/abi_device_flows"
programs+=(abi_device_flows)

# The 2 MiB hugetlb variants need free huge pages: raised for the run when this user may, put back afterwards.
pool=/proc/sys/vm/nr_hugepages
restore=""
if [ -w "$pool" ] && [ "$(cat "$pool")" -lt 64 ]; then
  restore=$(cat "$pool")
  echo 64 > "$pool" || restore=""
fi
trap '[ -z "$restore" ] || echo "$restore" > "$pool"' EXIT

# One line per test into $2: result, program, mode, name; $1 is the program's TAP, $3 its exit status.
parse_tap() {
  local p=$1 tap=$2 results=$3 status=$4
  if ! grep -qE '^(not )?ok ' "$tap"; then
    # The program stopped before its tests (exit 4 is kselftest's skip).
    local reason
    reason=$(grep -vE '^(TAP|1\.\.|#)' "$tap" | head -n 1 || true)
    echo "$([ "$status" = 4 ] && echo skip || echo fail) $p - (whole program: ${reason:-exit $status})" >> "$results"
    return
  fi
  grep -E '^(not )?ok ' "$tap" | while read -r line; do
    name=$(echo "$line" | sed -E 's/^(not )?ok [0-9]+ //; s/ #.*//')
    result=pass
    [[ "$line" == not* ]] && result=fail
    [[ "$line" == *"# SKIP"* ]] && result=skip
    # Fixture variants carry the mode in their name; vfio_iommufd_setup_test is all cdev and iommufd.
    mode=-
    for m in iommufd_compat_type1v2 iommufd_compat_type1 vfio_type1v2_iommu vfio_type1_iommu iommufd noiommu; do
      if [[ "$name" =~ \.${m}[._] ]]; then mode=$m; break; fi
    done
    [ "$p" != vfio_iommufd_setup_test ] || mode=iommufd
    echo "$result $p $mode $name" >> "$results"
  done
}

table() {
  local results=$1
  printf '  %-32s' program; for m in vfio_type1_iommu vfio_type1v2_iommu iommufd_compat_type1 iommufd_compat_type1v2 iommufd noiommu -; do printf ' %-23s' "$m"; done; echo
  for p in "${programs[@]}"; do
    printf '  %-32s' "$p"
    for m in vfio_type1_iommu vfio_type1v2_iommu iommufd_compat_type1 iommufd_compat_type1v2 iommufd noiommu -; do
      counts=$(awk -v p="$p" -v m="$m" '$2 == p && $3 == m { c[$1]++ } END { if (c["pass"] + c["fail"] + c["skip"] == 0) print "."; else printf "%d/%d/%d", c["pass"], c["fail"], c["skip"] }' "$results")
      printf ' %-23s' "$counts"
    done
    echo
  done
}

totals() { awk '{ c[$1]++ } END { printf "pass:%d fail:%d skip:%d", c["pass"], c["fail"], c["skip"] }' "$1"; }

: > "$out/results.txt"
for p in "${programs[@]}"; do
  # edu exactly as QEMU models it (no MSI-X, no reset) at 0000:00:03.0, as in the guest; the driver
  # test takes the igb model at 0000:00:04.0 (libvfio has no edu driver), and so does the SR-IOV
  # test (its VFs; vfio-pci's enable_sriov is set, as on the guest's command line).
  bdf=0000:00:03.0
  case "$p" in vfio_pci_driver_test|vfio_pci_sriov_uapi_test) bdf=0000:00:04.0 ;; esac
  set +e
  ABI_BACKEND=kernel ABI_ENGINE_CONTAINER=type1 ABI_ENGINE_DEVICES=edu-qemu,igb ABI_ENGINE_VFIO_PCI_ENABLE_SRIOV=1 LD_PRELOAD="$preload" \
    timeout 600 "$out/$p" "$bdf" > "$out/$p.tap" 2>&1
  status=$?
  set -e
  parse_tap "$p" "$out/$p.tap" "$out/results.txt" "$status"
done
# No-IOMMU mode: a machine without an IOMMU whose vfio module has enable_unsafe_noiommu_mode set.
set +e
ABI_BACKEND=kernel ABI_ENGINE_NOIOMMU=1 ABI_ENGINE_DEVICES=edu-qemu LD_PRELOAD="$preload" timeout 600 "$out/abi_device_flows" 0000:00:03.0 --noiommu > "$out/abi_device_flows.noiommu.tap" 2>&1
status=$?
set -e
parse_tap abi_device_flows "$out/abi_device_flows.noiommu.tap" "$out/results.txt" "$status"

# The kernel's side: the same binaries in the conformance guest (Debian's 7.2 kernel built with VT-d,
# VFIO and iommufd, under QEMU with a VT-d IOMMU and QEMU's edu and igb bound to vfio-pci).
"$root/scripts/qemu/deps.sh"
kernel=$("$root/scripts/qemu/kernel.sh")
work=$(mktemp -d)
trap '[ -z "$restore" ] || echo "$restore" > "$pool"; rm -rf "$work"' EXIT
mkdir -p "$work/root"/{bin,dev,proc,sys,tmp,vfio,lib64,lib/x86_64-linux-gnu}
cp /bin/busybox "$work/root/bin/busybox"
cp "$here/vfio-guest-init" "$work/root/init"
chmod +x "$work/root/init"
for p in "${programs[@]}"; do cp "$out/$p" "$work/root/vfio/"; done
cp -L /lib64/ld-linux-x86-64.so.2 "$work/root/lib64/"
cp -L /lib/x86_64-linux-gnu/libc.so.6 /lib/x86_64-linux-gnu/libm.so.6 /lib/x86_64-linux-gnu/libuuid.so.1 "$work/root/lib/x86_64-linux-gnu/"
(cd "$work/root" && find . | cpio -o -H newc --quiet | gzip -1 > "$work/initrd.gz")
# QEMU 10 from bookworm-backports (scripts/qemu/qemu-10.sh): Debian 12's QEMU 7.2 has no igb. The
# devices sit where the engine puts its models, edu at 00:03.0 and igb at 00:04.0.
qemu=$("$root/scripts/qemu/qemu-10.sh")
# One vCPU: with two, TCG's vCPU threads and QEMU's I/O thread (which runs igb's DMA) compete for
# this machine's two cores, and a CI run saw the guest's RCU starve during the driver test's 1 GiB
# pins and stall there. A guest that does not finish is booted once more; twice is a failure.
boot_guest() {
  timeout 1200 "$qemu" -machine q35 -accel tcg -cpu max -smp 1 -m 3072 -nographic -no-reboot -nic none \
    -device intel-iommu,aw-bits=48 -device edu,addr=03.0 -device igb,addr=04.0,netdev=loop -netdev user,id=loop,restrict=on \
    -kernel "$kernel" -initrd "$work/initrd.gz" -append "console=ttyS0 intel_iommu=on loglevel=4 panic=-1 hugepages=64 vfio_pci.enable_sriov=1" \
    < /dev/null > "$out/guest-console.log" 2>&1 || true
}
boot_guest
if ! grep -aq ABI-VFIO-DONE "$out/guest-console.log"; then
  cp "$out/guest-console.log" "$out/guest-console.first.log"
  echo "vfio selftest: the guest did not finish (console in $out/guest-console.first.log); booting it once more"
  tail -n 5 "$out/guest-console.log"
  boot_guest
fi
# The no-IOMMU guest: no VT-d, vfio's enable_unsafe_noiommu_mode on, edu alone; its init runs the
# C# flows in no-IOMMU mode (abi.noiommu on the command line).
timeout 600 "$qemu" -machine q35 -accel tcg -cpu max -smp 1 -m 1024 -nographic -no-reboot -nic none -device edu,addr=03.0 \
  -kernel "$kernel" -initrd "$work/initrd.gz" -append "console=ttyS0 loglevel=4 panic=-1 vfio.enable_unsafe_noiommu_mode=1 abi.noiommu" \
  < /dev/null > "$out/guest-noiommu-console.log" 2>&1 || true
: > "$out/results-kernel.txt"
if grep -aq ABI-VFIO-DONE "$out/guest-console.log"; then
  tr -d '\r' < "$out/guest-console.log" > "$work/console.txt"
  grep -ao -m1 'guest: .*' "$work/console.txt" || true
  for p in "${programs[@]}"; do
    sed -n "/^ABI-VFIO-BEGIN $p\$/,/^ABI-VFIO-END $p /p" "$work/console.txt" | sed '1d;$d' > "$out/$p.kernel.tap"
    status=$(grep -a "^ABI-VFIO-END $p " "$work/console.txt" | awk '{print $3}')
    parse_tap "$p" "$out/$p.kernel.tap" "$out/results-kernel.txt" "${status:-1}"
  done
else
  echo "vfio selftest: the guest did not finish; its console is in $out/guest-console.log"
  tail -n 20 "$out/guest-console.log"
fi
if grep -aq ABI-VFIO-DONE "$out/guest-noiommu-console.log"; then
  tr -d '\r' < "$out/guest-noiommu-console.log" > "$work/console-noiommu.txt"
  grep -ao -m1 'guest: .*' "$work/console-noiommu.txt" || true
  sed -n "/^ABI-VFIO-BEGIN abi_device_flows\$/,/^ABI-VFIO-END abi_device_flows /p" "$work/console-noiommu.txt" | sed '1d;$d' > "$out/abi_device_flows.noiommu.kernel.tap"
  status=$(grep -a "^ABI-VFIO-END abi_device_flows " "$work/console-noiommu.txt" | awk '{print $3}')
  parse_tap abi_device_flows "$out/abi_device_flows.noiommu.kernel.tap" "$out/results-kernel.txt" "${status:-1}"
else
  echo "vfio selftest: the no-IOMMU guest did not finish; its console is in $out/guest-noiommu-console.log"
  tail -n 20 "$out/guest-noiommu-console.log"
fi

echo "vfio selftest: linux-source $(basename "$src"), pass/fail/skip per IOMMU mode, on the real kernel in QEMU (edu):"
table "$out/results-kernel.txt"
echo "vfio selftest: on the engine (QEMU's edu at 0000:00:03.0, igb at 0000:00:04.0):"
table "$out/results.txt"
echo "vfio selftest: kernel $(totals "$out/results-kernel.txt"); engine $(totals "$out/results.txt") ($(( $(date +%s) - start )) s)"

# What passes on the kernel and not on the engine (the known failures aside) is a difference to explain.
awk '$1 == "pass" { print $2 " " $4 }' "$out/results-kernel.txt" | sort > "$out/kernel-passes.txt"
awk '$1 == "pass" { print $2 " " $4 }' "$out/results.txt" | sort > "$out/engine-passes.txt"
awk '$1 == "fail" { print $2 " " $4 }' "$out/results.txt" | sed 's/ (whole program.*//' | sort > "$out/failed.txt"
{ grep -vE '^\s*(#|$)' "$here/vfio-known-failures.txt" || true; } | sed -E 's/\s*#.*//' | sort > "$out/known.txt"
# "<program> *" in the list stands for every test of that program.
unexpected=$(comm -23 "$out/failed.txt" "$out/known.txt" | awk 'FILENAME != "-" { if ($2 == "*") whole[$1] = 1; next } !($1 in whole)' "$out/known.txt" -)
fixed=$(comm -13 "$out/failed.txt" "$out/known.txt" | awk '$2 != "*"')
only_kernel=$(comm -23 "$out/kernel-passes.txt" "$out/engine-passes.txt")
awk '$1 == "skip" { print $2 " " $4 }' "$out/results-kernel.txt" | sort > "$out/kernel-skips.txt"
awk '$1 == "skip" { print $2 " " $4 }' "$out/results.txt" | sort > "$out/engine-skips.txt"
skips=$(diff "$out/kernel-skips.txt" "$out/engine-skips.txt" | grep -E '^[<>]' | sed 's/^</kernel only:/; s/^>/engine only:/' || true)
[ -z "$skips" ] || { echo "vfio selftest: skipped on one side only:"; echo "$skips" | sed 's/^/  /'; }
[ -z "$only_kernel" ] || { echo "vfio selftest: passing on the kernel, not on the engine:"; echo "$only_kernel" | sed 's/^/  /'; }
[ -z "$fixed" ] || { echo "vfio selftest: listed as failing but passing now (remove from vfio-known-failures.txt):"; echo "$fixed" | sed 's/^/  /'; }
incomplete=""
grep -aq ABI-VFIO-DONE "$out/guest-console.log" || incomplete="the VFIO guest"
grep -aq ABI-VFIO-DONE "$out/guest-noiommu-console.log" || incomplete="${incomplete:+$incomplete and }the no-IOMMU guest"
if [ -n "$incomplete" ]; then
  echo "vfio selftest: the kernel's side is incomplete: $incomplete did not finish"
  exit 1
fi
if [ -n "$unexpected" ]; then
  echo "vfio selftest: failures not in vfio-known-failures.txt:"
  echo "$unexpected" | sed 's/^/  /'
  exit 1
fi
echo "vfio selftest: $(wc -l < "$out/failed.txt") failing on the engine, all listed with their reason in scripts/selftest/vfio-known-failures.txt: yes"
