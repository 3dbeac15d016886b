# Shared by campaign.sh and reduce.sh (sourced): building abi-fuzz, the guest and its boot, and
# naming the first difference between two transcripts. Expects $root and $work.
cache=${ABI_CACHE:-$HOME/.cache/abi}
fuzz_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Builds abi-fuzz and the interposer; sets $fuzz, $preload and $kernel.
fuzz_prepare() {
  "$root/scripts/qemu/deps.sh"
  kernel=$("$root/scripts/qemu/kernel.sh")
  local src
  src=$("$root/scripts/selftest/sources.sh")
  local headers="$cache/headers/linux-libc-dev_7.2.13-1/usr/include"
  [ -d "$headers" ] || { echo "fuzz: the pinned 7.2 headers are missing ($headers); run scripts/setup.sh" >&2; exit 1; }
  fuzz="$work/abi-fuzz"
  gcc -O2 -Wall -Wextra -Werror -isystem "$headers" \
    -I "$src/drivers/iommu/iommufd" -o "$fuzz" "$root/Conformance/Fuzz/abi-fuzz.c"
  preload=$("$root/scripts/interposer.sh")
}

# The initramfs: static busybox, the init script, abi-fuzz, the libraries it links and any scripts in $work/scripts.
fuzz_initrd() {
  rm -rf "$work/root"
  mkdir -p "$work/root"/{bin,dev,proc,sys,tmp,fuzz/scripts,lib64,lib/x86_64-linux-gnu}
  cp /bin/busybox "$work/root/bin/busybox"
  cp "$fuzz_dir/init" "$work/root/init"
  cp "$fuzz" "$work/root/fuzz/"
  [ -d "$work/scripts" ] && cp "$work/scripts/"* "$work/root/fuzz/scripts/" 2>/dev/null || true
  cp -L /lib64/ld-linux-x86-64.so.2 "$work/root/lib64/"
  cp -L /lib/x86_64-linux-gnu/libc.so.6 "$work/root/lib/x86_64-linux-gnu/"
  (cd "$work/root" && find . | cpio -o -H newc --quiet | gzip -1 > "$work/initrd.gz")
}

# fuzz_boot <kernel command line words> <console log>: the guest's output between the markers, on stdout.
fuzz_boot() {
  timeout 3000 qemu-system-x86_64 -machine q35 -accel tcg -cpu max -smp 1 -m 1024 -nographic -no-reboot -nic none \
    -device intel-iommu,aw-bits=48 -device edu ${ABI_FUZZ_TWO_DEVICES:+-device edu} \
    -kernel "$kernel" -initrd "$work/initrd.gz" -append "console=ttyS0 intel_iommu=on loglevel=4 panic=-1 $1${ABI_FUZZ_VFIO:+ abi.vfio=$ABI_FUZZ_VFIO}" \
    < /dev/null > "$2" 2> "$2.qemu" || true
  # QEMU's own messages (intel-iommu reports each translation fault an edu transfer meets) stay out of
  # the console, whose lines between the markers are the transcript.
  if ! grep -aq ABI-FUZZ-END "$2"; then
    echo "fuzz: the guest did not finish; its console is in $2, QEMU's messages in $2.qemu" >&2
    tail -n 30 "$2" "$2.qemu" >&2
    exit 1
  fi
  sed -n '/ABI-FUZZ-BEGIN/,/ABI-FUZZ-END/p' "$2" | tr -d '\r' | sed '1d;$d'
}

# The engine side of one run: abi-fuzz with the interposer, the selftest commands on, QEMU's edu
# exactly as the guest has it (bound to vfio-pci there by the init), and type1 behind /dev/vfio/vfio
# (the guest kernel has VFIO_CONTAINER, not iommufd's container), behind QEMU's intel-iommu. With
# ABI_FUZZ_TWO_DEVICES set, both sides have a second edu, each in a group of its own.
fuzz_engine() { LD_PRELOAD=$preload ABI_ENGINE_IOMMUFD_TEST=1 ABI_ENGINE_DEVICES=edu-qemu${ABI_FUZZ_TWO_DEVICES:+,edu-qemu} ABI_ENGINE_CONTAINER=type1 ABI_ENGINE_VTD=qemu "$fuzz" "$@"; }

# fuzz_first_difference KERNEL ENGINE: prints the kernel's and the engine's first differing lines
# (a missing line reads "(none)"), one per line; nothing when the transcripts are identical.
fuzz_first_difference() {
  awk 'NR==FNR {k[FNR]=$0; n=FNR; next} {e[FNR]=$0; m=FNR}
       END {for (i = 1; i <= (n > m ? n : m); i++) if (k[i] != e[i]) {print (i in k) ? k[i] : "(none)"; print (i in e) ? e[i] : "(none)"; exit}}' "$1" "$2"
}

# fuzz_key KERNEL-LINE ENGINE-LINE: the known-differences key, "name kernel-rc engine-rc".
fuzz_key() {
  local name krc erc
  name=$(echo "$1" | awk '{print $2}')
  [ "$name" = "(none)" ] && name=$(echo "$2" | awk '{print $2}')
  krc=$(echo "$1" | grep -o 'rc=[-0-9a-z]*' | head -1 || true)
  erc=$(echo "$2" | grep -o 'rc=[-0-9a-z]*' | head -1 || true)
  echo "$name ${krc:-rc=none} ${erc:-rc=none}"
}
