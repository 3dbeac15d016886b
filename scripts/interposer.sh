#!/usr/bin/env bash
# Builds the interposer: the engine as a NativeAOT shared library (libabi-engine.so) and the C shim
# (libabi-preload.so) next to it. Prints the shim's path; use it as LD_PRELOAD.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$root/artifacts/interposer"
mkdir -p "$out"
dotnet publish "$root/Interposer/Abi.Interposer" -c Release -r linux-x64 -o "$out/publish" -v quiet -nologo -clp:ErrorsOnly >&2
cp "$out/publish/libabi-engine.so" "$out/libabi-engine.so"
gcc -O2 -Wall -Wextra -Werror -fPIC -shared -o "$out/libabi-preload.so" "$root/Interposer/preload/abi-preload.c" -ldl -lpthread
echo "$out/libabi-preload.so"
