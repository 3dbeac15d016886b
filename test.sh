#!/usr/bin/env bash
# Sets up, then runs every test: formatting, the xunit suites, the kernel's iommufd selftest and
# its VFIO selftests on the engine (through the LD_PRELOAD interposer), the QEMU conformance run, and
# three fixed-seed differential fuzzing campaigns (the same random ioctl streams on the kernel in QEMU and
# on the engine: iommufd with the selftest mock, then with the device and legacy VFIO operations, then
# with the device fd's interrupt, feature, reset and ioeventfd ioctls as well).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/scripts/setup.sh"

echo "checking formatting (dotnet format --verify-no-changes)"
# The format workspace loads projects as Debug; the generator must exist there for the bindings to resolve.
dotnet build Generators/Abi.Generators -c Debug -v quiet -nologo -clp:ErrorsOnly
# The consumer project's bindings come from a build target, which a format workspace does not run:
# its files get the whitespace check here and the style rules in the build.
dotnet format Abi.sln --verify-no-changes --no-restore --exclude tests/Abi.Consumer.Tests
dotnet format whitespace tests/Abi.Consumer.Tests --folder --verify-no-changes

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
dotnet test --solution Abi.sln -c Release --no-build 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One plain closing line for whoever reads only the end.
passed=$(grep -E '^\s+succeeded: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+' || echo 0)
failed=$(grep -E '^\s+failed: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+' || echo 0)
skipped=$(grep -E '^\s+skipped: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+' || echo 0)
echo "Tests: $passed passed, $failed failed, $skipped skipped"

# The kernel's own iommufd selftest, built from Debian's linux-source and run on the engine through the LD_PRELOAD interposer.
set +e
"$ABI_ROOT/scripts/selftest/selftest.sh" 2>&1 | tee "$log"
selftest=${PIPESTATUS[0]}
set -e
selftest_line=$(grep -E '^selftest: iommufd.c' "$log" || echo "selftest: did not finish (exit $selftest)")

# The kernel's VFIO selftests (linux-source-7.3), unmodified, on the engine through the interposer.
set +e
"$ABI_ROOT/scripts/selftest/vfio.sh" 2>&1 | tee "$log"
vfio=${PIPESTATUS[0]}
set -e
vfio_line=$(grep -E '^vfio selftest: kernel pass:' "$log" || echo "vfio selftest: did not finish (exit $vfio)")

# The real-kernel conformance run under QEMU (builds the kernel once, about 7-12 minutes on 2 cores).
set +e
"$ABI_ROOT/scripts/qemu/conformance.sh" 2>&1 | tee "$log"
conformance=${PIPESTATUS[0]}
set -e
conformance_line=$(grep -E '^conformance: [0-9]+ scenarios' "$log" || echo "conformance: did not finish (exit $conformance)")

# Seeds 1-300 of the differential fuzzer, 500 calls each: identical on the kernel and the engine.
set +e
"$ABI_ROOT/scripts/fuzz/campaign.sh" --first 1 --seeds 300 --calls 500 2>&1 | tee "$log"
fuzz=${PIPESTATUS[0]}
set -e
fuzz_line=$(grep -E '^fuzz: ' "$log" || echo "fuzz: did not finish (exit $fuzz)")

# The same seeds with the device and legacy operations (edu bound to vfio-pci, its group, type1 containers).
set +e
"$ABI_ROOT/scripts/fuzz/campaign.sh" --vfio --first 1 --seeds 300 --calls 500 2>&1 | tee "$log"
fuzz_vfio=${PIPESTATUS[0]}
set -e
fuzz_vfio_line=$(grep -E '^fuzz: ' "$log" | sed 's/^fuzz:/fuzz --vfio:/' || echo "fuzz --vfio: did not finish (exit $fuzz_vfio)")

# And with the device fd's interrupts, features, hot resets and ioeventfds (eventfds passed and read back).
set +e
"$ABI_ROOT/scripts/fuzz/campaign.sh" --device --first 1 --seeds 300 --calls 500 2>&1 | tee "$log"
fuzz_device=${PIPESTATUS[0]}
set -e
fuzz_device_line=$(grep -E '^fuzz: ' "$log" | sed 's/^fuzz:/fuzz --device:/' || echo "fuzz --device: did not finish (exit $fuzz_device)")
echo "$conformance_line"
echo "$selftest_line"
echo "$vfio_line"
echo "$fuzz_line"
echo "$fuzz_vfio_line"
echo "$fuzz_device_line"
[ "$status" -eq 0 ] || exit "$status"
[ "$selftest" -eq 0 ] || exit "$selftest"
[ "$vfio" -eq 0 ] || exit "$vfio"
[ "$conformance" -eq 0 ] || exit "$conformance"
[ "$fuzz" -eq 0 ] || exit "$fuzz"
[ "$fuzz_vfio" -eq 0 ] || exit "$fuzz_vfio"
exit "$fuzz_device"
