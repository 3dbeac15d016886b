#!/usr/bin/env bash
# Sets up, then runs the main job: the l2fwd sample forwarding between two virtio-net ports with the
# C# poll-mode driver, on the in-process engine. Arguments go to l2fwd (try --help); the default is a
# 10-second run with live statistics and a closing JSON summary line.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/scripts/setup.sh"

args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--duration 10)
exec dotnet "$ABI_ROOT/Samples/Abi.Samples.L2fwd/bin/Release/net10.0/l2fwd.dll" "${args[@]}"
