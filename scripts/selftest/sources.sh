#!/usr/bin/env bash
# Unpacks (once) what the project takes from Debian's linux-source-7.2 besides the kernel build: the
# iommufd selftests and the selftest UAPI header (drivers/iommu/iommufd/iommufd_test.h). Prints the folder.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${ABI_CACHE:-$HOME/.cache/abi}
deb=$("$root/scripts/qemu/kernel.sh" --source-deb)
version=$(basename "$deb" | sed -E 's/^linux-source-[0-9.]+_(.*)_all\.deb$/\1/')
src="$cache/selftest/$version"
if [ ! -s "$src/tools/testing/selftests/iommu/iommufd.c" ] || [ ! -s "$src/drivers/iommu/iommufd/iommufd_test.h" ]; then
  echo "sources: unpacking the selftest sources from $(basename "$deb")" >&2
  rm -rf "$src.tmp" && mkdir -p "$src.tmp"
  dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards './usr/src/linux-source-*.tar.xz' \
    | tar -xJ -C "$src.tmp" --strip-components=1 --wildcards \
      '*/tools/testing/selftests/iommu/*' '*/tools/testing/selftests/kselftest*' '*/drivers/iommu/iommufd/iommufd_test.h'
  rm -rf "$src" && mv "$src.tmp" "$src"
fi
echo "$src"
