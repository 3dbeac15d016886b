#!/usr/bin/env bash
# Installs everything Abi needs, idempotently, and builds it. Sourced by run.sh and test.sh.
#  - Debian packages: gcc (the layout oracle of the tests, and the C library's headers)
#  - NuGet packages: dotnet restore, libclang among them (libclang.runtime.linux-x64; a system
#    libclang 14 or later, or LIBCLANG_PATH, is the fallback)
#  - the pinned linux-libc-dev headers, into the cache ($ABI_CACHE, else ~/.cache/abi)
set -euo pipefail

ABI_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ABI_ROOT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

missing=()
command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
command -v dpkg-deb >/dev/null 2>&1 || missing+=(dpkg)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Pinned packages kept beside the project, when present, spare a download; they are verified like any other.
if [ -z "${ABI_LOCAL_DEBS:-}" ] && [ -d "$ABI_ROOT/../shared/debs" ]; then
  ABI_LOCAL_DEBS=$(cd "$ABI_ROOT/../shared/debs" && pwd)
  export ABI_LOCAL_DEBS
fi

cd "$ABI_ROOT"
dotnet build Abi.sln -c Release -v quiet -nologo -clp:ErrorsOnly
abi_headers() { dotnet "$ABI_ROOT/Headers/Abi.Headers.Tool/bin/Release/net10.0/abi-headers.dll" "$@"; }
abi_headers fetch
