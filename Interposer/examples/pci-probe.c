// A plain C look at the PCI functions a machine offers to VFIO, the way VFIO user-space libraries
// find them: /sys/bus/pci/devices listed with opendir/readdir, each function's ids read from its
// attribute files with fopen and fgets, its driver and IOMMU group read with readlink, its VFIO cdev found in vfio-dev/
// and opened (fstat's device number set beside sysfs's, as QEMU checks it), the group's members
// listed, each listing read again after rewinddir; then lseek of an attribute, stat, access and
// statx of the nodes, and lseek of a cdev. One line per fact, sorted, so that runs compare.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

// The entries of a directory without . and .., sorted; the count, or -1 with errno.
static int list(const char *path, char names[][64], int room)
{
    DIR *dir = opendir(path);
    if (!dir)
        return -1;
    int n = 0, again = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) && n < room)
        if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, ".."))
            snprintf(names[n++], 64, "%.63s", entry->d_name);
    // rewinddir starts the listing over (kernfs seeks the directory back to 0).
    rewinddir(dir);
    while ((entry = readdir(dir)))
        again += strcmp(entry->d_name, ".") && strcmp(entry->d_name, "..");
    if (again != n && n < room)
        printf("%s: %d entries, %d after rewinddir\n", path, n, again);
    closedir(dir);
    qsort(names, (size_t)n, 64, by_name);
    return n;
}

// An attribute read as DPDK's eal_parse_sysfs_value reads one: fopen and fgets.
static void attribute(const char *function, const char *name)
{
    char path[512], text[128] = "";
    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", function, name);
    FILE *file = fopen(path, "re");
    int failed = !file || !fgets(text, sizeof(text), file);
    int error = errno;
    if (file)
        fclose(file);
    if (failed) {
        printf("%s %s: errno %d\n", function, name, error);
        return;
    }
    text[strcspn(text, "\n")] = '\0';
    printf("%s %s: %s\n", function, name, text);
}

static void link_name(const char *function, const char *name)
{
    char path[512], target[256];
    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", function, name);
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    if (n < 0) {
        printf("%s %s: errno %d\n", function, name, errno);
        return;
    }
    target[n] = '\0';
    printf("%s %s -> %s\n", function, name, target);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    static char functions[64][64];
    int count = list("/sys/bus/pci/devices", functions, 64);
    if (count < 0) {
        printf("/sys/bus/pci/devices: errno %d\n", errno);
        return 1;
    }
    printf("functions: %d\n", count);
    for (int i = 0; i < count; i++) {
        const char *f = functions[i];
        attribute(f, "vendor");
        attribute(f, "device");
        attribute(f, "class");
        link_name(f, "driver");
        link_name(f, "iommu_group");
        char path[512];
        static char cdevs[64][64];
        snprintf(path, sizeof(path), "/sys/bus/pci/devices/%.63s/vfio-dev", f);
        int n = list(path, cdevs, 64);
        for (int c = 0; c < n; c++) {
            char node[128];
            snprintf(node, sizeof(node), "/dev/vfio/devices/%.63s", cdevs[c]);
            int fd = open(node, O_RDWR | O_CLOEXEC);
            printf("%s cdev %s: %s\n", f, node, fd >= 0 ? "opens" : strerror(errno));
            // As QEMU opens a cdev: fstat's st_rdev must be the number sysfs gives in vfio-dev/*/dev.
            struct stat st;
            char dev[32] = "";
            snprintf(path, sizeof(path), "/sys/bus/pci/devices/%.63s/vfio-dev/%.63s/dev", f, cdevs[c]);
            int attr = open(path, O_RDONLY | O_CLOEXEC);
            ssize_t got = attr < 0 ? -1 : read(attr, dev, sizeof(dev) - 1);
            if (attr >= 0)
                close(attr);
            dev[got > 0 ? got : 0] = '\0';
            dev[strcspn(dev, "\n")] = '\0';
            if (fd >= 0 && fstat(fd, &st) == 0)
                printf("%s cdev %s: %s %u:%u, sysfs dev %s\n", f, node, S_ISCHR(st.st_mode) ? "character device" : "not a character device",
                       major(st.st_rdev), minor(st.st_rdev), dev);
            if (fd >= 0)
                close(fd);
        }
        char group[256];
        snprintf(path, sizeof(path), "/sys/bus/pci/devices/%.63s/iommu_group", f);
        ssize_t g = readlink(path, group, sizeof(group) - 1);
        if (g > 0) {
            group[g] = '\0';
            static char members[64][64];
            snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%s/devices", strrchr(group, '/') + 1);
            int m = list(path, members, 64);
            for (int k = 0; k < m; k++)
                printf("%s group member %s\n", f, members[k]);
        }
    }
    // lseek: a sysfs attribute is a page long and reads from where it is put; VFIO's files cannot seek.
    if (count > 0) {
        char path[512], text[16] = "";
        snprintf(path, sizeof(path), "/sys/bus/pci/devices/%.63s/vendor", functions[0]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        long end = lseek(fd, 0, SEEK_END), at = lseek(fd, 2, SEEK_SET);
        ssize_t n = read(fd, text, sizeof(text) - 1);
        text[n > 0 ? n : 0] = '\0';
        text[strcspn(text, "\n")] = '\0';
        printf("%s vendor: SEEK_END %ld, SEEK_SET 2 %ld, then \"%s\"\n", functions[0], end, at, text);
        close(fd);
        // stat and access of the nodes, as tools check them before they open anything.
        struct stat st;
        int found = stat("/dev/vfio/devices/vfio0", &st);
        printf("/dev/vfio/devices/vfio0 stat: %d, %s %u:%u mode 0%o\n", found, S_ISCHR(st.st_mode) ? "character device" : "other",
               major(st.st_rdev), minor(st.st_rdev), (unsigned)(st.st_mode & 07777));
        int rw = access("/dev/iommu", R_OK | W_OK), x = access("/dev/iommu", X_OK), absent = access("/dev/vfio/99", F_OK);
        printf("/dev/iommu access R_OK|W_OK: %d, X_OK: %d; /dev/vfio/99 F_OK: %d %s\n", rw, x, absent, strerrorname_np(errno));
        fd = open("/dev/vfio/devices/vfio0", O_RDWR | O_CLOEXEC);
        // statx, as Rust's std asks for metadata: of the path and of the open fd.
        struct statx by_path, by_fd;
        int sp = statx(AT_FDCWD, "/dev/vfio/devices/vfio0", 0, STATX_BASIC_STATS, &by_path);
        int sf = statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &by_fd);
        printf("/dev/vfio/devices/vfio0 statx: %d %s %u:%u, of the fd: %d %s %u:%u\n", sp,
               S_ISCHR(by_path.stx_mode) ? "character device" : "other", by_path.stx_rdev_major, by_path.stx_rdev_minor, sf,
               S_ISCHR(by_fd.stx_mode) ? "character device" : "other", by_fd.stx_rdev_major, by_fd.stx_rdev_minor);
        errno = 0;
        long rc = lseek(fd, 0, SEEK_SET);
        printf("/dev/vfio/devices/vfio0 lseek: %ld %s\n", rc, rc < 0 ? strerrorname_np(errno) : "");
        close(fd);
    }
    char mode[8] = "";
    int fd = open("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode", O_RDONLY);
    if (fd >= 0 && read(fd, mode, sizeof(mode) - 1) > 0)
        printf("enable_unsafe_noiommu_mode: %c\n", mode[0]);
    if (fd >= 0)
        close(fd);
    return 0;
}
