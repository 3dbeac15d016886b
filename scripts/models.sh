#!/usr/bin/env bash
# Sets up, then extracts the iommufd/VFIO ABI models of both kernel profiles from the fetched
# headers and compares them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

out="$ABI_ROOT/artifacts/models"
mkdir -p "$out"
for profile in 7.2 6.12; do
  abi_headers extract --profile "$profile" --out "$out/linux-iommufd-vfio.$profile.abi.json"
done
abi_headers diff "$out/linux-iommufd-vfio.6.12.abi.json" "$out/linux-iommufd-vfio.7.2.abi.json" | tail -n 25
