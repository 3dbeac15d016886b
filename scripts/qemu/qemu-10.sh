#!/usr/bin/env bash
# Fetches (once) QEMU 10.0 from Debian's bookworm-backports, for the guest that needs its igb device
# (the 82576 that the kernel's VFIO selftest driver programs; Debian 12's QEMU 7.2 has no igb), and
# unpacks it into the cache beside the system's QEMU, which the other guests keep using. Prints the
# path of a qemu-system-x86_64 that runs it. The packages are pinned like the others (one version,
# one sha256 each; scripts/pinned-deb.sh says where they are taken from). Its shared libraries are
# Debian 12's own (the backport is built against them); its loadable modules (displays, USB
# redirection) are not unpacked and not needed by a -nographic guest, and QEMU_MODULE_DIR keeps it
# away from the system QEMU 7.2's modules, which it would refuse.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${ABI_CACHE:-$HOME/.cache/abi}
source "$here/../pinned-deb.sh"
version=1:10.0.2+ds-2+deb13u1~bpo12+1
dir="$cache/qemu-${version#1:}"
if [ ! -x "$dir/qemu-system-x86_64" ]; then
  x86=$(pinned_deb qemu-system-x86 "$version" 4a6b1856c8b0d7df4ff8e70249e12c473ccf8d516aadb4ae14d3d938faed0c65 bookworm-backports amd64)
  data=$(pinned_deb qemu-system-data "$version" 2d831088187087013b3fcbd19bdfb955b182a2d5a08f6dafa0ad1c6d2007fb4e bookworm-backports)
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp/root" "$dir.tmp/modules"
  dpkg-deb -x "$x86" "$dir.tmp/root"
  dpkg-deb -x "$data" "$dir.tmp/root"
  # Firmware QEMU 10 takes from other packages (SeaBIOS, iPXE option ROMs) comes from the system's
  # qemu-system-x86 dependencies, searched after its own data folder.
  cat > "$dir.tmp/qemu-system-x86_64" <<WRAPPER
#!/bin/sh
QEMU_MODULE_DIR="$dir/modules" exec "$dir/root/usr/bin/qemu-system-x86_64" -L "$dir/root/usr/share/qemu" -L /usr/share/qemu -L /usr/share/seabios "\$@"
WRAPPER
  chmod +x "$dir.tmp/qemu-system-x86_64"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
"$dir/qemu-system-x86_64" -device igb,help > /dev/null || { echo "qemu-10: $dir/qemu-system-x86_64 does not run" >&2; exit 1; }
echo "$dir/qemu-system-x86_64"
