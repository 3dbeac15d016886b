#!/usr/bin/env bash
# Builds (once) the conformance kernel (or, with --source-deb, only fetches its source package): Debian's linux-source-7.2, tinyconfig plus kernel.config.
# The result is cached under $ABI_CACHE/kernel/<version>-<config hash>/bzImage; prints its path.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${ABI_CACHE:-$HOME/.cache/abi}
package=linux-source-7.2

# The kernel source is pinned like the header packages: one version, one sha256. It is taken from
# the cache, then from local package folders ($ABI_LOCAL_DEBS, colon-separated; ../shared/debs when
# present), then from Debian sid by exact version; every copy is checked before use.
version=7.2.13-1
sha256=30a8c5fc63f9028a62e6d7b3f7f43bee67425dbce2a05fceba83f9b87c92083d
apt_dir="$cache/apt-sid"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/debs"
deb="$apt_dir/debs/${package}_${version}_all.deb"
if [ -z "${ABI_LOCAL_DEBS:-}" ] && [ -d "$here/../../../shared/debs" ]; then
  ABI_LOCAL_DEBS=$(cd "$here/../../../shared/debs" && pwd)
fi

verified() { [ -s "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$sha256" ]; }
fetch_deb() {
  verified "$deb" && return 0
  rm -f "$deb"
  local dir
  IFS=: read -r -a dirs <<< "${ABI_LOCAL_DEBS:-}"
  for dir in "${dirs[@]}"; do
    if verified "$dir/$(basename "$deb")"; then
      cp "$dir/$(basename "$deb")" "$deb"
      return 0
    fi
  done
  # A private apt configuration: sid only, against the system's own mirror; the system's sources stay untouched.
  local mirror
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  echo "deb ${mirror:-http://deb.debian.org/debian} sid main" > "$apt_dir/sources.list"
  local o=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$apt_dir/lists" -o Debug::NoLocking=1)
  apt-get "${o[@]}" update -qq >&2 || true
  if ! (cd "$apt_dir/debs" && apt-get "${o[@]}" download "$package=$version" >&2) || ! verified "$deb"; then
    rm -f "$deb"
    echo "kernel.sh: Debian no longer serves $package $version (sha256 $sha256); put ${package}_${version}_all.deb in ABI_LOCAL_DEBS or $apt_dir/debs and rerun" >&2
    exit 1
  fi
}

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
