#!/usr/bin/env bash
# Fetches (once) Debian's linux-source-7.3 and unpacks what the kernel's VFIO selftests need
# (tools/testing/selftests/vfio, the kselftest harness, tools/include and tools/arch/x86/include, and
# the driver headers its lib/drivers link to). Prints the folder. The package is pinned like the
# others: one version, one sha256 (scripts/pinned-deb.sh says where it is taken from), from Debian's
# trixie-backports.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${ABI_CACHE:-$HOME/.cache/abi}
source "$here/../pinned-deb.sh"
version=7.3.4-1~bpo13+1
deb=$(pinned_deb linux-source-7.3 "$version" 703e369ddd4cce971452f5a593ee55df3a5c10c83caf0fa0df039633ed181ee3 trixie-backports)

src="$cache/vfio-selftest/$version"
if [ ! -s "$src/tools/testing/selftests/vfio/lib/libvfio.c" ]; then
  echo "vfio-sources: unpacking the VFIO selftests from $(basename "$deb")" >&2
  rm -rf "$src.tmp" && mkdir -p "$src.tmp"
  dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards './usr/src/linux-source-*.tar.xz' \
    | tar -xJ -C "$src.tmp" --strip-components=1 --wildcards \
      '*/tools/testing/selftests/vfio/*' '*/tools/testing/selftests/kselftest*' '*/tools/include/*' '*/tools/arch/x86/include/*' \
      '*/include/linux/pci_ids.h' '*/drivers/dma/idxd/registers.h' '*/drivers/dma/ioat/hw.h' '*/drivers/dma/ioat/registers.h' \
      '*/drivers/net/ethernet/intel/igb/e1000_82575.h' '*/drivers/net/ethernet/intel/igb/e1000_defines.h' \
      '*/drivers/net/ethernet/intel/igb/e1000_regs.h'
  rm -rf "$src" && mv "$src.tmp" "$src"
fi
echo "$src"
