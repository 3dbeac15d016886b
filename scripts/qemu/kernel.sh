#!/usr/bin/env bash
# Builds (once) the conformance kernel (or, with --source-deb, only fetches its source package): Debian's linux-source-7.2, tinyconfig plus kernel.config.
# The result is cached under $ABI_CACHE/kernel/<version>-<config hash>/bzImage; prints its path.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${ABI_CACHE:-$HOME/.cache/abi}
package=linux-source-7.2

# A private apt configuration: sid only, against the system's own mirror; the system's sources stay untouched.
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
apt_dir="$cache/apt-sid"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/debs"
echo "deb $mirror sid main" > "$apt_dir/sources.list"
o=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$apt_dir/lists" -o Debug::NoLocking=1)
if [ ! -s "$apt_dir/version" ] || [ -n "$(find "$apt_dir/version" -mmin +1440 2>/dev/null)" ]; then
  apt-get "${o[@]}" update -qq >&2
  apt-cache "${o[@]}" madison "$package" | awk 'NR==1 {print $3}' > "$apt_dir/version"
fi
version=$(cat "$apt_dir/version")
[ -n "$version" ] || { echo "kernel.sh: Debian does not serve $package" >&2; exit 1; }

# Exactly this version's package (apt writes an epoch's colon as %3a), so a newer sid version is downloaded, not shadowed.
deb="$apt_dir/debs/${package}_${version//:/%3a}_all.deb"
fetch_deb() { [ -s "$deb" ] || (cd "$apt_dir/debs" && apt-get "${o[@]}" download "$package=$version" >&2); }
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
  for option in IOMMUFD VFIO_DEVICE_CDEV VFIO_CONTAINER IOMMUFD_TEST INTEL_IOMMU VFIO_PCI VIRTIO_PCI; do
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
