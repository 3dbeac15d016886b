#!/usr/bin/env bash
# Builds (once) the conformance kernel (or, with --source-deb, only fetches its source package): Debian's linux-source-7.2, tinyconfig plus kernel.config.
# The result is cached under $ABI_CACHE/kernel/<version>-<config hash>/bzImage; prints its path.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${ABI_CACHE:-$HOME/.cache/abi}
package=linux-source-7.2

# The kernel source is pinned like the header packages: one version, one sha256 (scripts/pinned-deb.sh
# says where it is taken from), from Debian sid.
version=7.2.13-1
sha256=30a8c5fc63f9028a62e6d7b3f7f43bee67425dbce2a05fceba83f9b87c92083d
source "$here/../pinned-deb.sh"
fetch_deb() { deb=$(pinned_deb "$package" "$version" "$sha256" sid) || exit 1; }

# --source-deb: only fetch the source package (the selftest build needs it) and print its path.
if [ "${1:-}" = --source-deb ]; then
  fetch_deb
  echo "$deb"
  exit 0
fi

key="$version-$(cat "$here/kernel.config" | sha256sum | cut -c1-12)"
out="$cache/kernel/$key"
if [ -s "$out/bzImage" ]; then
  echo "$out/bzImage"
  exit 0
fi

fetch_deb

work="$cache/kernel/build-$key"
rm -rf "$work" && mkdir -p "$work"
echo "kernel.sh: unpacking $(basename "$deb")" >&2
dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards './usr/src/linux-source-*.tar.xz' | tar -xJ -C "$work"
src=$(ls -d "$work"/linux-source-*)
start=$(date +%s)
(
  cd "$src"
  make -s tinyconfig >&2
  # shellcheck disable=SC2046
  ./scripts/config $(grep -v '^#' "$here/kernel.config" | tr '\n' ' ')
  make -s olddefconfig >&2
  for option in IOMMUFD VFIO_DEVICE_CDEV VFIO_CONTAINER IOMMUFD_TEST INTEL_IOMMU VFIO_PCI VIRTIO_PCI PCI_P2PDMA VFIO_PCI_DMABUF; do
    grep -q "^CONFIG_$option=y" .config || { echo "kernel.sh: CONFIG_$option did not stick" >&2; exit 1; }
  done
  echo "kernel.sh: building bzImage ($(nproc) jobs; about 7 minutes on 2 cores the first time)" >&2
  make -s -j"$(( $(nproc) + 1 ))" bzImage >&2
)
mkdir -p "$out"
cp "$src/arch/x86/boot/bzImage" "$out/bzImage"
cp "$src/.config" "$out/config"
echo "kernel.sh: built in $(( $(date +%s) - start )) s" >&2
rm -rf "$work"
echo "$out/bzImage"
