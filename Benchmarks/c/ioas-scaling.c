// The C side of the map+unmap benchmark: what a C program pays per iommufd call through the
// abi-preload interposer. For 1, 10^3 and 10^6 live areas (one 4 KiB page on every other page of
// IOVA, all backed by the same page of this process's memory), it times a map+unmap pair into the
// hole in the middle, and, as the baseline of the same run, the cheapest ioctl that succeeds
// (VFIO_GET_API_VERSION, which iommufd's compat layer answers with a constant): the cost of a call
// into the engine and back, with nothing to do there.
// Then the same pair from two threads at once (one IOAS each, 1000 live areas): each with its own
// /dev/iommu, and both on one shared /dev/iommu, against one thread alone in the same run. The
// ratio says what the engine serialises: nothing shared between two iommufd files, the context's
// lock within one (the kernel has no such lock; its IOASes have their own).
// Output: one line per size, "areas N pair_ns X null_ns Y", then "threads ...".
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define BASE 0x100000UL

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static uint32_t new_ioas(int fd)
{
    struct iommu_ioas_alloc alloc = {.size = sizeof(alloc)};
    if (ioctl(fd, IOMMU_IOAS_ALLOC, &alloc))
        die("IOMMU_IOAS_ALLOC");
    return alloc.out_ioas_id;
}

static int map(int fd, uint32_t ioas, void *va, uint64_t iova)
{
    struct iommu_ioas_map m = {
        .size = sizeof(m),
        .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
        .ioas_id = ioas,
        .user_va = (uintptr_t)va,
        .length = PAGE,
        .iova = iova,
    };
    return ioctl(fd, IOMMU_IOAS_MAP, &m);
}

static int unmap(int fd, uint32_t ioas, uint64_t iova)
{
    struct iommu_ioas_unmap u = {.size = sizeof(u), .ioas_id = ioas, .iova = iova, .length = PAGE};
    return ioctl(fd, IOMMU_IOAS_UNMAP, &u);
}

struct worker {
    int fd;
    uint32_t ioas;
    void *page;
    long iterations;
    pthread_barrier_t *start;
};

static void *run_pairs(void *argument)
{
    struct worker *w = argument;
    pthread_barrier_wait(w->start);
    for (long i = 0; i < w->iterations; i++)
        if (map(w->fd, w->ioas, w->page, BASE - 2 * PAGE) || unmap(w->fd, w->ioas, BASE - 2 * PAGE))
            die("map+unmap pair (threads)");
    return NULL;
}

// Pairs per microsecond, all threads together: the best of three rounds.
static double pairs_per_us(struct worker *workers, int count)
{
    double best = 0;
    for (int round = 0; round < 3; round++) {
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, (unsigned)count + 1);
        pthread_t threads[2];
        for (int i = 0; i < count; i++) {
            workers[i].start = &start;
            pthread_create(&threads[i], NULL, run_pairs, &workers[i]);
        }
        pthread_barrier_wait(&start);
        double t0 = now_ns();
        for (int i = 0; i < count; i++)
            pthread_join(threads[i], NULL);
        double rate = (double)workers[0].iterations * count / ((now_ns() - t0) / 1000);
        pthread_barrier_destroy(&start);
        if (rate > best)
            best = rate;
    }
    return best;
}

static uint32_t filled_ioas(int fd, void *page, long areas)
{
    uint32_t ioas = new_ioas(fd);
    for (long i = 0; i < areas; i++)
        if (map(fd, ioas, page, BASE + (uint64_t)i * 2 * PAGE))
            die("IOMMU_IOAS_MAP (fill)");
    return ioas;
}

// Arguments: iterations per round (200000), how many of the sizes to run (3).
int main(int argc, char **argv)
{
    long iterations = argc > 1 ? atol(argv[1]) : 200000;
    int fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        die("open /dev/iommu");
    void *page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (page == MAP_FAILED)
        die("mmap");

    static const long sizes[] = {1, 1000, 1000000};
    unsigned count = argc > 2 ? (unsigned)atoi(argv[2]) : sizeof(sizes) / sizeof(sizes[0]);
    for (unsigned s = 0; s < count; s++) {
        long areas = sizes[s];
        uint32_t ioas = new_ioas(fd);
        for (long i = 0; i < areas; i++)
            if (map(fd, ioas, page, BASE + (uint64_t)i * 2 * PAGE))
                die("IOMMU_IOAS_MAP (fill)");
        uint64_t hole = BASE + (uint64_t)(areas / 2) * 2 * PAGE - PAGE;

        // Warm up, then time; the best of five rounds, as the machine is shared.
        double best_pair = 1e300, best_null = 1e300;
        for (int round = 0; round < 6; round++) {
            double t0 = now_ns();
            for (long i = 0; i < iterations; i++)
                if (map(fd, ioas, page, hole) || unmap(fd, ioas, hole))
                    die("map+unmap pair");
            double t1 = now_ns();
            for (long i = 0; i < iterations; i++)
                if (ioctl(fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
                    die("VFIO_GET_API_VERSION");
            double t2 = now_ns();
            if (round == 0)
                continue;
            if ((t1 - t0) / iterations < best_pair)
                best_pair = (t1 - t0) / iterations;
            if ((t2 - t1) / iterations < best_null)
                best_null = (t2 - t1) / iterations;
        }
        printf("areas %ld pair_ns %.1f null_ns %.1f\n", areas, best_pair, best_null);
        struct iommu_destroy d = {.size = sizeof(d), .id = ioas};
        if (ioctl(fd, IOMMU_DESTROY, &d))
            die("IOMMU_DESTROY");
    }

    int second = open("/dev/iommu", O_RDWR | O_CLOEXEC);
    if (second < 0)
        die("open /dev/iommu (second)");
    struct worker own[2] = {
        {.fd = fd, .ioas = filled_ioas(fd, page, 1000), .page = page, .iterations = iterations},
        {.fd = second, .ioas = filled_ioas(second, page, 1000), .page = page, .iterations = iterations},
    };
    struct worker shared[2] = {own[0], {.fd = fd, .ioas = filled_ioas(fd, page, 1000), .page = page, .iterations = iterations}};
    double one = pairs_per_us(own, 1);
    double two_files = pairs_per_us(own, 2);
    double one_file = pairs_per_us(shared, 2);
    printf("threads one_mpairs_s %.2f two_files_mpairs_s %.2f ratio %.2f two_on_one_file_mpairs_s %.2f ratio %.2f\n",
           one, two_files, two_files / one, one_file, one_file / one);
    return 0;
}
