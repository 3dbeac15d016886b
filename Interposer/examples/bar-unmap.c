// A BAR mapping that the program takes away, part by part, as a C driver's teardown does: QEMU's edu
// device in a type1 container, BAR0 mapped MAP_SHARED and given to the IOMMU (peer-to-peer DMA maps a
// BAR's pages), then one page unmapped with munmap. That page can no longer be mapped for DMA (EFAULT,
// as there is nothing at the address), while the pages on either side still can, and the registers
// in the first page still answer. One line per step, for comparison.
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <errno.h>

#define PAGE 4096UL

static int map_dma(int container, uint64_t vaddr, uint64_t iova)
{
    struct vfio_iommu_type1_dma_map map = {
        .argsz = sizeof(map),
        .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
        .vaddr = vaddr,
        .iova = iova,
        .size = PAGE,
    };
    return ioctl(container, VFIO_IOMMU_MAP_DMA, &map) ? -errno : 0;
}

static int unmap_dma(int container, uint64_t iova)
{
    struct vfio_iommu_type1_dma_unmap unmap = {.argsz = sizeof(unmap), .iova = iova, .size = PAGE};
    return ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap) ? -errno : 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
    int group = open("/dev/vfio/0", O_RDWR | O_CLOEXEC);
    if (container < 0 || group < 0 || ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) ||
        ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) {
        perror("container");
        return 1;
    }
    int device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, "0000:00:03.0");
    struct vfio_region_info info = {.argsz = sizeof(info), .index = VFIO_PCI_BAR0_REGION_INDEX};
    if (device < 0 || ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &info)) {
        perror("device");
        return 1;
    }
    char *bar = mmap(NULL, info.size, PROT_READ | PROT_WRITE, MAP_SHARED, device, (off_t)info.offset);
    if (bar == MAP_FAILED) {
        perror("mmap BAR0");
        return 1;
    }
    printf("map BAR0's second page for DMA: %d\n", map_dma(container, (uint64_t)(bar + PAGE), 0x100000));
    printf("unmap it: %d\n", unmap_dma(container, 0x100000));
    printf("munmap BAR0's second page: %d\n", munmap(bar + PAGE, PAGE));
    printf("map the unmapped page for DMA: %d\n", map_dma(container, (uint64_t)(bar + PAGE), 0x100000));
    printf("map the first page: %d\n", map_dma(container, (uint64_t)bar, 0x200000));
    printf("map the third page: %d\n", map_dma(container, (uint64_t)(bar + 2 * PAGE), 0x300000));
    printf("identification through the first page: 0x%08x\n", *(volatile uint32_t *)bar);
    munmap(bar, PAGE);
    munmap(bar + 2 * PAGE, info.size - 2 * PAGE);
    printf("map the first page after munmap: %d\n", map_dma(container, (uint64_t)bar, 0x400000));
    return 0;
}
