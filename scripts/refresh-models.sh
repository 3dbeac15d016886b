#!/usr/bin/env bash
# Regenerates the checked-in models under Abi/Models and the kept diff report from the pinned headers.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

for profile in 7.2 6.12; do
  abi_headers extract --profile "$profile" --out "$ABI_ROOT/Abi/Models/linux-iommufd-vfio.$profile.abi.json"
done
# The flags the seam takes (open, mmap, eventfd, poll, FIONREAD, lseek): x86_64 takes them from asm-generic.
abi_headers extract --profile 7.2 --header asm-generic/fcntl.h --header linux/mman.h --header asm-generic/mman-common.h --header linux/eventfd.h --header asm-generic/poll.h --header asm-generic/ioctls.h --header linux/fs.h --out "$ABI_ROOT/Abi/Models/linux-sys.7.2.abi.json"
abi_headers extract --profile 7.2 --header linux/pci_regs.h --out "$ABI_ROOT/Abi/Models/linux-pci.7.2.abi.json"
abi_headers extract --profile 7.2 --header linux/virtio_config.h --header linux/virtio_ring.h --header linux/virtio_pci.h --header linux/virtio_net.h --header linux/virtio_ids.h --out "$ABI_ROOT/Abi/Models/linux-virtio.7.2.abi.json"
# The selftest's own header (drivers/iommu/iommufd/iommufd_test.h, not UAPI) from the pinned linux-source-7.2,
# for the IOMMU_TEST_CMD mock in Engine/Abi.Engine.Selftest.
selftest_src=$("$ABI_ROOT/scripts/selftest/sources.sh")
abi_headers extract --profile 7.2 --include "$selftest_src/drivers/iommu/iommufd" --header iommufd_test.h --out "$ABI_ROOT/Abi/Models/iommufd-test.7.2.abi.json"
abi_headers extract --profile 7.2 --include "$ABI_ROOT/tests/TestHeaders/include" --header widget.h --out "$ABI_ROOT/tests/TestHeaders/widget.abi.json"
abi_headers diff "$ABI_ROOT/Abi/Models/linux-iommufd-vfio.6.12.abi.json" "$ABI_ROOT/Abi/Models/linux-iommufd-vfio.7.2.abi.json" \
  --out "$ABI_ROOT/tests/Abi.Headers.Tests/Expected/diff-6.12-7.2.txt" > /dev/null
