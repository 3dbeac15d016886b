// Register access through an mmap of an engine BAR, as a C driver does it: QEMU's edu device,
// opened through its cdev, BAR0 mapped MAP_SHARED, then plain volatile loads and stores of 1, 2, 4
// and 8 bytes (the identification, liveness and factorial registers). Each access faults into the
// interposer, which performs it on the device model. With memory decoding turned off in the command
// register, a load is SIGBUS, as vfio-pci's fault handler answers. One line per step, for comparison.
#include <fcntl.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static sigjmp_buf bus_error;

static void on_sigbus(int sig)
{
    (void)sig;
    siglongjmp(bus_error, 1);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
    int device = open("/dev/vfio/devices/vfio0", O_RDWR | O_CLOEXEC);
    struct vfio_device_bind_iommufd bind = {.argsz = sizeof(bind), .iommufd = iommufd};
    struct vfio_region_info info = {.argsz = sizeof(info), .index = VFIO_PCI_BAR0_REGION_INDEX};
    if (iommufd < 0 || device < 0 || ioctl(device, VFIO_DEVICE_BIND_IOMMUFD, &bind) ||
        ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &info)) {
        perror("setup");
        return 1;
    }
    void *bar = mmap(NULL, info.size, PROT_READ | PROT_WRITE, MAP_SHARED, device, (off_t)info.offset);
    if (bar == MAP_FAILED) {
        perror("mmap BAR0");
        return 1;
    }
    volatile uint32_t *r32 = bar;
    volatile uint16_t *r16 = bar;
    volatile uint8_t *r8 = bar;
    volatile uint64_t *r64 = bar;
    printf("identification (32-bit load): 0x%08x\n", r32[0]);
    r32[1] = 0x12345678;
    printf("liveness after storing 0x12345678: 0x%08x\n", r32[1]);
    uint32_t high = 0xdeadbeef;
    __asm__ volatile("movl %0, %%eax; movl %%eax, 4(%1)" : : "r"(high), "r"(bar) : "eax", "memory");
    printf("liveness after a store from eax: 0x%08x\n", r32[1]);
    // Narrower accesses never reach the model: QEMU's memory core refuses them to edu (its ops take 4
    // and 8 bytes) and reads give 0.
    printf("8-bit load (edu answers only 4 and 8 bytes): 0x%02x\n", r8[0]);
    printf("16-bit load: 0x%04x\n", r16[0]);
    printf("64-bit load of the identification: 0x%016llx\n", (unsigned long long)r64[0]);
    r32[2] = 7;
    while (r32[8] & 1)
        ;
    printf("factorial of 7: %u\n", r32[2]);

    // Memory decoding off in the command register: vfio-pci's fault handler answers SIGBUS.
    off_t command = ((off_t)VFIO_PCI_CONFIG_REGION_INDEX << 40) + 4;
    uint16_t on = 0;
    if (pread(device, &on, 2, command) != 2)
        return 1;
    uint16_t off = on & ~0x2;
    struct sigaction bus = {.sa_handler = on_sigbus};
    sigaction(SIGBUS, &bus, NULL);
    if (pwrite(device, &off, 2, command) != 2)
        return 1;
    if (sigsetjmp(bus_error, 1) == 0)
        printf("load with memory decoding off: 0x%08x, no SIGBUS\n", r32[0]);
    else
        printf("load with memory decoding off: SIGBUS\n");
    if (pwrite(device, &on, 2, command) != 2)
        return 1;
    printf("identification with decoding back on: 0x%08x\n", r32[0]);
    return munmap(bar, info.size) == 0 ? 0 : 1;
}
