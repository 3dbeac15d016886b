#!/usr/bin/env bash
# The real-kernel conformance run: builds (once) a 7.2 kernel with iommufd and VFIO cdevs, boots it
# under QEMU (q35, VT-d, QEMU's edu device and two virtio-net devices on one hub), runs the
# NativeAOT conformance runner there against the real kernel and here against the engine, and
# compares the two step by step. Results and the report go to artifacts/conformance/.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/artifacts/conformance"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
start=$(date +%s)

"$here/deps.sh"
kernel=$("$here/kernel.sh")
echo "conformance: kernel $kernel ($(( $(date +%s) - start )) s so far)"

dotnet publish "$root/Conformance/Abi.Conformance" -c Release -r linux-x64 -o "$work/aot" -v quiet -nologo -clp:ErrorsOnly
runner="$work/aot/abi-conformance"
# The C probe: a plain dynamically linked iommufd client, run in the guest and here through the interposer.
cache=${ABI_CACHE:-$HOME/.cache/abi}
gcc -O2 -Wall -isystem "$cache/headers/linux-libc-dev_7.2.13-1/usr/include" -o "$work/aot/ioas-probe" "$root/Interposer/examples/ioas-probe.c"

# The initramfs: static busybox, the init script, the runner and the three libraries it links.
mkdir -p "$work/root"/{bin,dev,proc,sys,tmp,aot,lib64,lib/x86_64-linux-gnu}
cp /bin/busybox "$work/root/bin/busybox"
cp "$here/init" "$work/root/init"
chmod +x "$work/root/init"
cp "$runner" "$work/aot/ioas-probe" "$work/root/aot/"
cp -L /lib64/ld-linux-x86-64.so.2 "$work/root/lib64/"
cp -L /lib/x86_64-linux-gnu/libc.so.6 /lib/x86_64-linux-gnu/libm.so.6 "$work/root/lib/x86_64-linux-gnu/"
(cd "$work/root" && find . | cpio -o -H newc --quiet | gzip -1 > "$work/initrd.gz")

echo "conformance: booting the guest"
timeout 600 qemu-system-x86_64 -machine q35 -accel tcg -cpu max -smp 2 -m 1024 -nographic -no-reboot -nic none \
  -device intel-iommu,aw-bits=48 -device edu -device e1000e,netdev=p2 -netdev hubport,id=p2,hubid=1 \
  -netdev hubport,id=p0,hubid=0 -device virtio-net-pci,netdev=p0,disable-legacy=on,iommu_platform=on,mac=52:54:00:12:34:56 \
  -netdev hubport,id=p1,hubid=0 -device virtio-net-pci,netdev=p1,disable-legacy=on,iommu_platform=on,mac=52:54:00:12:34:57 \
  -kernel "$kernel" -initrd "$work/initrd.gz" -append "console=ttyS0 intel_iommu=on loglevel=4 panic=-1" \
  < /dev/null > "$out/guest-console.log" 2>&1 || true
grep -ao -m1 'guest: .*' "$out/guest-console.log" | tr -d '\r' || true
if ! grep -aq ABI-RESULTS-END "$out/guest-console.log"; then
  # A guest that panicked or timed out must not pass for a short run that differs.
  echo "conformance: the guest did not finish; its console is in $out/guest-console.log" >&2
  tail -n 30 "$out/guest-console.log" >&2
  exit 1
fi
sed -n '/ABI-RESULTS-BEGIN/,/ABI-RESULTS-END/p' "$out/guest-console.log" | tr -d '\r' | grep '^{' > "$out/kernel.jsonl" || true
if [ ! -s "$out/kernel.jsonl" ]; then
  echo "conformance: the guest recorded nothing; its console is in $out/guest-console.log" >&2
  tail -n 30 "$out/guest-console.log" >&2
  exit 1
fi

"$runner" run engine "$out/engine.jsonl"
set +e
"$runner" compare "$out/kernel.jsonl" "$out/engine.jsonl" "$out/report.txt"
status=$?
set -e

# The same C program on the real kernel and on the engine through LD_PRELOAD: the output must be identical.
sed -n '/ABI-PROBE-BEGIN/,/ABI-PROBE-END/p' "$out/guest-console.log" | tr -d '\r' | sed '1d;$d' > "$out/ioas-probe.kernel.txt"
LD_PRELOAD=$("$root/scripts/interposer.sh") "$work/aot/ioas-probe" > "$out/ioas-probe.engine.txt" 2>&1 || true
if [ -s "$out/ioas-probe.kernel.txt" ] && diff -u "$out/ioas-probe.kernel.txt" "$out/ioas-probe.engine.txt" > "$out/ioas-probe.diff"; then
  echo "conformance: ioas-probe (C, LD_PRELOAD interposer): $(wc -l < "$out/ioas-probe.kernel.txt") lines, identical on the kernel and the engine"
else
  echo "conformance: ioas-probe differs between the kernel and the engine (or did not run in the guest):" >&2
  cat "$out/ioas-probe.diff" >&2
  status=1
fi
echo "conformance: done in $(( $(date +%s) - start )) s"
exit $status
