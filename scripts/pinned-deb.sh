# Sourced: pinned_deb PACKAGE VERSION SHA256 SUITE [ARCH] prints the path of that exact .deb in the cache
# ($ABI_CACHE/apt-SUITE/debs), taking it from the cache, then from local package folders
# ($ABI_LOCAL_DEBS, colon-separated; ../shared/debs when present), then from Debian's SUITE by exact
# version through a private apt configuration against the system's own mirror (the system's
# sources stay untouched). Every copy is checked against SHA256; when Debian no longer serves the
# version, one line says where to put the package, and the caller exits. ARCH is the package's
# architecture as its file name gives it (all by default); an epoch in VERSION is spelled %3a in the
# file name, as apt-get download writes it.
pinned_deb() {
  local package=$1 version=$2 sha256=$3 suite=$4 arch=${5:-all}
  local cache=${ABI_CACHE:-$HOME/.cache/abi}
  local apt_dir="$cache/apt-$suite"
  local deb="$apt_dir/debs/${package}_${version/:/%3a}_${arch}.deb"
  local shared
  shared=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/shared/debs
  local locals=${ABI_LOCAL_DEBS:-}
  [ -n "$locals" ] || [ ! -d "$shared" ] || locals=$shared
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/debs"
  verified() { [ -s "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$sha256" ]; }
  if ! verified "$deb"; then
    rm -f "$deb"
    local dir dirs
    IFS=: read -r -a dirs <<< "$locals"
    for dir in "${dirs[@]}"; do
      if verified "$dir/$(basename "$deb")"; then cp "$dir/$(basename "$deb")" "$deb"; break; fi
    done
  fi
  if ! verified "$deb"; then
    local mirror
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    echo "deb ${mirror:-http://deb.debian.org/debian} $suite main" > "$apt_dir/sources.list"
    local o=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$apt_dir/lists" -o Debug::NoLocking=1)
    apt-get "${o[@]}" update -qq >&2 || true
    if ! (cd "$apt_dir/debs" && apt-get "${o[@]}" download "$package=$version" >&2) || ! verified "$deb"; then
      rm -f "$deb"
      echo "pinned-deb: Debian no longer serves $package $version (sha256 $sha256); put ${package}_${version}_all.deb in ABI_LOCAL_DEBS or $apt_dir/debs and rerun" >&2
      return 1
    fi
  fi
  echo "$deb"
}
