// A plain C iommufd client: opens /dev/iommu, allocates an IOAS, maps a buffer at a fixed and at an
// automatic IOVA, lists the IOVA ranges, copies, unmaps, and tries a few calls the kernel refuses.
// It prints one line per step, so its output can be compared between a real kernel and the engine
// (through the abi-preload interposer). Exit status 0 when every step ran, whatever it answered.
#include <errno.h>
#include <fcntl.h>
#include <linux/iommufd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static int report(const char *step, int rc)
{
    if (rc < 0)
        printf("%-28s -> errno %d (%s)\n", step, errno, strerror(errno));
    else
        printf("%-28s -> ok\n", step);
    return rc;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
    if (report("open /dev/iommu", fd) < 0)
        return 1;

    struct iommu_ioas_alloc alloc = {.size = sizeof(alloc)};
    if (report("IOMMU_IOAS_ALLOC", ioctl(fd, IOMMU_IOAS_ALLOC, &alloc)) < 0)
        return 1;
    printf("  ioas id %u\n", alloc.out_ioas_id);

    // The buffer is 2 MiB aligned: an automatic IOVA keeps the source address's alignment, so a
    // randomly placed buffer would make that line differ from run to run.
    size_t length = 1 << 20;
    char *area = mmap(NULL, length + (2 << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED)
        return 1;
    void *buffer = (void *)(((uintptr_t)area + (2 << 20) - 1) & ~(uintptr_t)((2 << 20) - 1));
    memset(buffer, 0x5a, length);

    struct iommu_ioas_map map = {
        .size = sizeof(map),
        .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
        .ioas_id = alloc.out_ioas_id,
        .user_va = (uintptr_t)buffer,
        .length = length,
        .iova = 0x100000,
    };
    report("MAP fixed 0x100000", ioctl(fd, IOMMU_IOAS_MAP, &map));
    report("MAP fixed again (overlap)", ioctl(fd, IOMMU_IOAS_MAP, &map));

    map.flags = IOMMU_IOAS_MAP_READABLE;
    map.user_va = (uintptr_t)buffer + 0x1000;
    map.length = 0x3000;
    map.iova = 0;
    if (report("MAP automatic 12 KiB", ioctl(fd, IOMMU_IOAS_MAP, &map)) == 0)
        printf("  iova 0x%llx\n", (unsigned long long)map.iova);
    __u64 automatic = map.iova;

    map.flags = 1u << 31;
    report("MAP unknown flag", ioctl(fd, IOMMU_IOAS_MAP, &map));

    struct iommu_iova_range ranges[4];
    struct iommu_ioas_iova_ranges query = {
        .size = sizeof(query),
        .ioas_id = alloc.out_ioas_id,
        .num_iovas = 4,
        .allowed_iovas = (uintptr_t)ranges,
    };
    if (report("IOVA_RANGES", ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &query)) == 0) {
        printf("  %u range(s), alignment 0x%llx\n", query.num_iovas, (unsigned long long)query.out_iova_alignment);
        for (__u32 i = 0; i < query.num_iovas && i < 4; i++)
            printf("  [0x%llx, 0x%llx]\n", (unsigned long long)ranges[i].start, (unsigned long long)ranges[i].last);
    }

    struct iommu_ioas_alloc second = {.size = sizeof(second)};
    report("IOMMU_IOAS_ALLOC second", ioctl(fd, IOMMU_IOAS_ALLOC, &second));
    struct iommu_ioas_copy copy = {
        .size = sizeof(copy),
        .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE,
        .dst_ioas_id = second.out_ioas_id,
        .src_ioas_id = alloc.out_ioas_id,
        .length = 0x10000,
        .dst_iova = 0x400000,
        .src_iova = 0x100000,
    };
    report("COPY 64 KiB to second IOAS", ioctl(fd, IOMMU_IOAS_COPY, &copy));

    struct iommu_ioas_unmap unmap = {
        .size = sizeof(unmap),
        .ioas_id = alloc.out_ioas_id,
        .iova = 0x100000,
        .length = 0x1000,
    };
    report("UNMAP part of an area", ioctl(fd, IOMMU_IOAS_UNMAP, &unmap));
    unmap.length = length;
    if (report("UNMAP whole area", ioctl(fd, IOMMU_IOAS_UNMAP, &unmap)) == 0)
        printf("  unmapped 0x%llx bytes\n", (unsigned long long)unmap.length);
    unmap.iova = automatic;
    unmap.length = 0x3000;
    report("UNMAP automatic area", ioctl(fd, IOMMU_IOAS_UNMAP, &unmap));
    report("UNMAP it again", ioctl(fd, IOMMU_IOAS_UNMAP, &unmap));

    struct iommu_destroy destroy = {.size = sizeof(destroy), .id = alloc.out_ioas_id};
    report("DESTROY first IOAS", ioctl(fd, IOMMU_DESTROY, &destroy));
    report("DESTROY it again", ioctl(fd, IOMMU_DESTROY, &destroy));
    report("close", close(fd));
    munmap(area, length + (2 << 20));
    return 0;
}
