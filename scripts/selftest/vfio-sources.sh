#!/usr/bin/env bash
# Fetches (once) Debian's linux-source-7.3 and unpacks what the kernel's VFIO selftests need
# (tools/testing/selftests/vfio, the kselftest harness, tools/include and the driver headers its
# lib/drivers link to). Prints the folder. The package is pinned like the others: one version, one
# sha256; taken from the cache, then from local package folders ($ABI_LOCAL_DEBS), then from
# Debian's trixie-backports through a private apt configuration (the system's sources stay untouched).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${ABI_CACHE:-$HOME/.cache/abi}
package=linux-source-7.3
version=7.3.4-1~bpo13+1
sha256=703e369ddd4cce971452f5a593ee55df3a5c10c83caf0fa0df039633ed181ee3
apt_dir="$cache/apt-trixie-backports"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/debs"
deb="$apt_dir/debs/${package}_${version}_all.deb"
if [ -z "${ABI_LOCAL_DEBS:-}" ] && [ -d "$here/../../../shared/debs" ]; then
  ABI_LOCAL_DEBS=$(cd "$here/../../../shared/debs" && pwd)
fi

verified() { [ -s "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$sha256" ]; }
if ! verified "$deb"; then
  rm -f "$deb"
  IFS=: read -r -a dirs <<< "${ABI_LOCAL_DEBS:-}"
  for dir in "${dirs[@]}"; do
    if verified "$dir/$(basename "$deb")"; then cp "$dir/$(basename "$deb")" "$deb"; break; fi
  done
fi
if ! verified "$deb"; then
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  echo "deb ${mirror:-http://deb.debian.org/debian} trixie-backports main" > "$apt_dir/sources.list"
  o=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$apt_dir/lists" -o Debug::NoLocking=1)
  apt-get "${o[@]}" update -qq >&2 || true
  if ! (cd "$apt_dir/debs" && apt-get "${o[@]}" download "$package=$version" >&2) || ! verified "$deb"; then
    rm -f "$deb"
    echo "vfio-sources: Debian no longer serves $package $version (sha256 $sha256); put ${package}_${version}_all.deb in ABI_LOCAL_DEBS or $apt_dir/debs and rerun" >&2
    exit 1
  fi
fi

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
