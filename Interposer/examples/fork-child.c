// A fork() child goes on using the iommufd its parent opened, as the kselftest harness does when it
// runs each test in a child. The child builds its ioctl arguments on the heap after the fork, where
// the parent's copy still holds other values: the answer is right only if the engine reads and
// writes the child's memory, not the parent's. Then the parent, which waited, uses the file too.
// One line per step, for comparison (the output is the same on a kernel).
#include <fcntl.h>
#include <linux/iommufd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int child(int iommufd, struct iommu_ioas_alloc *alloc, struct iommu_ioas_map *map, void *buffer)
{
    // Written only in the child: the parent's pages keep size 0, which the kernel refuses (EINVAL).
    alloc->size = sizeof(*alloc);
    if (ioctl(iommufd, IOMMU_IOAS_ALLOC, alloc)) {
        perror("child: IOMMU_IOAS_ALLOC");
        return 1;
    }
    printf("child: IOAS allocated, id written to the child's memory: %s\n", alloc->out_ioas_id ? "yes" : "no");
    *map = (struct iommu_ioas_map){
        .size = sizeof(*map),
        .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE,
        .ioas_id = alloc->out_ioas_id,
        .user_va = (unsigned long)buffer,
        .length = 4096,
        .iova = 1UL << 20,
    };
    printf("child: map its own page: %s\n", ioctl(iommufd, IOMMU_IOAS_MAP, map) ? "failed" : "ok");
    struct iommu_destroy destroy = {.size = sizeof(destroy), .id = alloc->out_ioas_id};
    printf("child: destroy the IOAS while mapped: %s\n", ioctl(iommufd, IOMMU_DESTROY, &destroy) ? "failed" : "ok");
    return 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
    struct iommu_ioas_alloc *alloc = calloc(1, sizeof(*alloc));
    struct iommu_ioas_map *map = calloc(1, sizeof(*map));
    void *buffer = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (iommufd < 0 || !alloc || !map || buffer == MAP_FAILED) {
        perror("setup");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        int rc = child(iommufd, alloc, map, buffer);
        fflush(stdout);
        _exit(rc);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    printf("parent: child exited with %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    printf("parent: its own copy of the argument is untouched: size %u, id %u\n", alloc->size, alloc->out_ioas_id);
    alloc->size = sizeof(*alloc);
    printf("parent: IOAS allocated after the child: %s\n", ioctl(iommufd, IOMMU_IOAS_ALLOC, alloc) ? "failed" : "ok");
    return close(iommufd) == 0 ? 0 : 1;
}
