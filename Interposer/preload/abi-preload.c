// LD_PRELOAD shim: serves /dev/iommu and /dev/vfio/* from Abi's in-process engine, and passes
// every other call and fd to libc untouched.
//
// It is C, not managed code, because it runs before the .NET runtime exists and inside the
// runtime's own calls: the runtime opens, maps and unmaps through these same symbols, and a
// managed callback from a GC thread mid-collection would deadlock. So the shim decides in C, with
// no allocation and no locks, whether a call is the engine's (an engine path, or an fd the engine
// handed out), and only those enter managed code. The engine (libabi-engine.so, NativeAOT) is
// loaded with dlopen on the first engine open, so a program that never touches an engine path
// never starts a runtime, and the kselftest harness's per-test fork()s each start their own.
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#define FD_LIMIT 65536

// One byte per descriptor number: set while the engine owns that fd. The engine writes it
// (through the pointer it is given at start) whenever it hands out or releases an fd, including
// fds it creates inside an ioctl (access objects, fault queues).
static unsigned char engine_fds[FD_LIMIT];

// Bumped on every munmap, mremap and MAP_FIXED mmap: the engine drops what it learned from
// /proc/self/maps when it changes. Only an atomic add, so it is safe from any thread, GC included.
static volatile long memory_generation;

// Set in a fork() child (by the pthread_atfork handler) of a process whose engine was loaded: the
// child inherits the fds but not the engine's threads, so its engine calls fail with EIO rather
// than run a half-copied runtime. A flag, not a getpid() per call: getpid is a real syscall since
// glibc 2.25, and it was the largest cost of a call through the shim. A child made by a raw
// clone(2) without CLONE_VM runs no atfork handler; such a child must not call into the engine.
static int engine_inherited;
static int engine_state; // 0 not loaded, 1 loaded, -1 failed to load
static pthread_mutex_t engine_lock = PTHREAD_MUTEX_INITIALIZER;

// ABI_ENGINE_FAIL_NTH=1: the engine's failure points stand in for the kernel's fault injection.
// A task's fail-nth file (/proc/<self>/task/<tid>/fail-nth, /proc/thread-self/fail-nth) is the
// engine's, counting its failure points; the debugfs knobs that tune the kernel's failslab
// (/sys/kernel/debug/fail*) have no engine counterpart and take their writes as /dev/null does.
static int fail_nth_mode;

// Set while this thread is inside the engine: the runtime's own libc calls pass straight through.
static __thread int in_engine __attribute__((tls_model("initial-exec")));

struct engine_api {
    int (*init)(unsigned char *fds, int count, volatile long *generation);
    int (*open)(const char *path, int flags, int mode);
    int (*close)(int fd);
    int (*ioctl)(int fd, unsigned long request, void *arg);
    long (*read)(int fd, void *buf, size_t count);
    long (*write)(int fd, const void *buf, size_t count);
    long (*pread)(int fd, void *buf, size_t count, long offset);
    long (*pwrite)(int fd, const void *buf, size_t count, long offset);
    long (*mmap)(void *addr, size_t length, int prot, int flags, int fd, long offset);
    int (*poll)(struct pollfd *fds, unsigned long nfds, int timeout);
    int (*readlink)(const char *path, char *buf, size_t size);
    long (*getdents64)(int fd, void *buf, size_t count);
};
static struct engine_api api;

struct libc_api {
    int (*open)(const char *, int, ...);
    int (*openat)(int, const char *, int, ...);
    int (*close)(int);
    int (*ioctl)(int, unsigned long, ...);
    ssize_t (*read)(int, void *, size_t);
    ssize_t (*write)(int, const void *, size_t);
    ssize_t (*pread)(int, void *, size_t, off_t);
    ssize_t (*pwrite)(int, const void *, size_t, off_t);
    void *(*mmap)(void *, size_t, int, int, int, off_t);
    int (*munmap)(void *, size_t);
    void *(*mremap)(void *, size_t, size_t, int, ...);
    int (*poll)(struct pollfd *, nfds_t, int);
    int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
    ssize_t (*readlink)(const char *, char *, size_t);
    ssize_t (*readlinkat)(int, const char *, char *, size_t);
    DIR *(*opendir)(const char *);
    struct dirent *(*readdir)(DIR *);
    struct dirent64 *(*readdir64)(DIR *);
    int (*closedir)(DIR *);
    int (*dirfd)(DIR *);
};
static struct libc_api real;

static void *next_symbol(const char *name)
{
    void *symbol = dlsym(RTLD_NEXT, name);
    if (!symbol) {
        static const char message[] = "abi-preload: libc symbol missing\n";
        (void)!write(2, message, sizeof(message) - 1);
        abort();
    }
    return symbol;
}

static void after_fork_in_child(void)
{
    if (engine_state == 1)
        engine_inherited = 1;
}

__attribute__((constructor)) static void resolve_libc(void)
{
    pthread_atfork(NULL, NULL, after_fork_in_child);
    const char *fail_nth = getenv("ABI_ENGINE_FAIL_NTH");
    fail_nth_mode = fail_nth && strcmp(fail_nth, "1") == 0;
    real.open = next_symbol("open");
    real.openat = next_symbol("openat");
    real.close = next_symbol("close");
    real.ioctl = next_symbol("ioctl");
    real.read = next_symbol("read");
    real.write = next_symbol("write");
    real.pread = next_symbol("pread");
    real.pwrite = next_symbol("pwrite");
    real.mmap = next_symbol("mmap");
    real.munmap = next_symbol("munmap");
    real.mremap = next_symbol("mremap");
    real.poll = next_symbol("poll");
    real.ppoll = next_symbol("ppoll");
    real.readlink = next_symbol("readlink");
    real.readlinkat = next_symbol("readlinkat");
    real.opendir = next_symbol("opendir");
    real.readdir = next_symbol("readdir");
    real.readdir64 = next_symbol("readdir64");
    real.closedir = next_symbol("closedir");
    real.dirfd = next_symbol("dirfd");
}

static int is_fail_nth_path(const char *path)
{
    size_t n = strlen(path);
    return strncmp(path, "/proc/", 6) == 0 && n > 9 && strcmp(path + n - 9, "/fail-nth") == 0;
}

static int is_fault_knob_path(const char *path)
{
    return strncmp(path, "/sys/kernel/debug/fail", 22) == 0;
}

// The absolute path openat() means, when dirfd names a directory: "<dir>/<path>" in buffer.
static const char *absolute_path(int dirfd, const char *path, char *buffer, size_t size)
{
    if (path[0] == '/' || dirfd == AT_FDCWD)
        return path;
    char link[32];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
    ssize_t n = readlink(link, buffer, size - 1);
    if (n <= 0 || (size_t)n + 1 + strlen(path) >= size)
        return path;
    buffer[n] = '/';
    strcpy(buffer + n + 1, path);
    return buffer;
}

// path is prefix itself or lies below it.
static int under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

// The sysfs subtrees the engine serves whole (its machine's PCI functions, IOMMU groups, vfio's
// parameters); the rest of /sys stays the real kernel's.
static int is_engine_sysfs_path(const char *path)
{
    return path && (under(path, "/sys/bus/pci") || under(path, "/sys/devices/pci0000:00") ||
                    under(path, "/sys/kernel/iommu_groups") || under(path, "/sys/module/vfio"));
}

static int is_engine_path(const char *path)
{
    return path && (strcmp(path, "/dev/iommu") == 0 || strcmp(path, "/dev/vfio") == 0 ||
                    strncmp(path, "/dev/vfio/", 10) == 0 || is_engine_sysfs_path(path));
}

static int is_engine_fd(int fd)
{
    return fd >= 0 && fd < FD_LIMIT && __atomic_load_n(&engine_fds[fd], __ATOMIC_ACQUIRE) && !in_engine;
}

// The engine library sits next to this one unless ABI_ENGINE_LIBRARY names it.
static void *open_engine_library(void)
{
    const char *configured = getenv("ABI_ENGINE_LIBRARY");
    if (configured && *configured)
        return dlopen(configured, RTLD_NOW | RTLD_LOCAL);

    Dl_info self;
    if (!dladdr((void *)&open_engine_library, &self) || !self.dli_fname)
        return NULL;
    char path[4096];
    const char *slash = strrchr(self.dli_fname, '/');
    size_t dir = slash ? (size_t)(slash - self.dli_fname + 1) : 0;
    if (dir + sizeof("libabi-engine.so") > sizeof(path))
        return NULL;
    memcpy(path, self.dli_fname, dir);
    strcpy(path + dir, "libabi-engine.so");
    return dlopen(path, RTLD_NOW | RTLD_LOCAL);
}

static int load_engine(void)
{
    pthread_mutex_lock(&engine_lock);
    if (engine_state == 0) {
        engine_state = -1;
        void *library = open_engine_library();
        if (!library) {
            fprintf(stderr, "abi-preload: cannot load the engine: %s\n", dlerror());
        } else {
#define BIND(field, name) *(void **)&api.field = dlsym(library, name)
            BIND(init, "abi_engine_init");
            BIND(open, "abi_engine_open");
            BIND(close, "abi_engine_close");
            BIND(ioctl, "abi_engine_ioctl");
            BIND(read, "abi_engine_read");
            BIND(write, "abi_engine_write");
            BIND(pread, "abi_engine_pread");
            BIND(pwrite, "abi_engine_pwrite");
            BIND(mmap, "abi_engine_mmap");
            BIND(poll, "abi_engine_poll");
            BIND(readlink, "abi_engine_readlink");
            BIND(getdents64, "abi_engine_getdents64");
#undef BIND
            if (!api.init || !api.open || !api.close || !api.ioctl || !api.read || !api.write ||
                !api.pread || !api.pwrite || !api.mmap || !api.poll || !api.readlink || !api.getdents64) {
                fprintf(stderr, "abi-preload: the engine library lacks an entry point\n");
            } else {
                in_engine++;
                int rc = api.init(engine_fds, FD_LIMIT, &memory_generation);
                in_engine--;
                if (rc < 0)
                    fprintf(stderr, "abi-preload: the engine did not start (%s)\n", strerror(-rc));
                else
                    engine_state = 1;
            }
        }
    }
    int state = engine_state;
    pthread_mutex_unlock(&engine_lock);
    return state;
}

// Whether the engine may run in this process: loaded here, not inherited through fork().
static int engine_here(void)
{
    if (engine_state == 1 && !engine_inherited)
        return 1;
    errno = EIO;
    return 0;
}

static long finish(long rc)
{
    if (rc < 0) {
        errno = (int)-rc;
        return -1;
    }
    return rc;
}

#define ENGINE_CALL(expr)                                                                          \
    ({                                                                                             \
        in_engine++;                                                                               \
        long rc_ = (expr);                                                                         \
        in_engine--;                                                                               \
        finish(rc_);                                                                               \
    })

static int needs_mode(int flags)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

// open's optional third argument, read only when the flags say it is there.
#define OPEN_MODE(flags)                                                                           \
    ({                                                                                             \
        int mode_ = 0;                                                                             \
        if (needs_mode(flags)) {                                                                   \
            va_list ap_;                                                                           \
            va_start(ap_, flags);                                                                  \
            mode_ = va_arg(ap_, int);                                                              \
            va_end(ap_);                                                                           \
        }                                                                                          \
        mode_;                                                                                     \
    })

// A call on an fd: libc's unless the engine owns the fd here.
#define ROUTE_FD(fd, real_call, engine_call)                                                       \
    do {                                                                                           \
        if (!is_engine_fd(fd))                                                                     \
            return real_call;                                                                      \
        if (!engine_here())                                                                        \
            return -1;                                                                             \
        return ENGINE_CALL(engine_call);                                                           \
    } while (0)

static int engine_open(const char *path, int flags, int mode)
{
    if (engine_state == 1 && engine_inherited) {
        errno = EIO;
        return -1;
    }
    if (load_engine() != 1) {
        errno = ENOENT;
        return -1;
    }
    return (int)ENGINE_CALL(api.open(path, flags, mode));
}

// The fault-injection files of ABI_ENGINE_FAIL_NTH: -2 when path is not one of them.
static int fault_injection_open(const char *path, int flags, int mode)
{
    if (!fail_nth_mode || !path)
        return -2;
    if (is_fault_knob_path(path))
        return real.open("/dev/null", O_WRONLY | (flags & O_CLOEXEC), 0);
    if (is_fail_nth_path(path))
        return engine_open(path, flags, mode);
    return -2;
}

int open(const char *path, int flags, ...)
{
    int mode = OPEN_MODE(flags);
    if (!in_engine && is_engine_path(path))
        return engine_open(path, flags, mode);
    int fd = in_engine ? -2 : fault_injection_open(path, flags, mode);
    return fd != -2 ? fd : real.open(path, flags, mode);
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int openat(int dirfd, const char *path, int flags, ...)
{
    int mode = OPEN_MODE(flags);
    // An absolute path ignores dirfd, so only those can name an engine node.
    if (!in_engine && is_engine_path(path))
        return engine_open(path, flags, mode);
    if (!in_engine && fail_nth_mode) {
        char buffer[PATH_MAX];
        int fd = fault_injection_open(absolute_path(dirfd, path, buffer, sizeof(buffer)), flags, mode);
        if (fd != -2)
            return fd;
    }
    return real.openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

// _FORTIFY_SOURCE builds call these instead of open/openat.
int __open_2(const char *path, int flags)
{
    return open(path, flags);
}

int __open64_2(const char *path, int flags) __attribute__((alias("__open_2")));

int __openat_2(int dirfd, const char *path, int flags)
{
    return openat(dirfd, path, flags);
}

int __openat64_2(int dirfd, const char *path, int flags) __attribute__((alias("__openat_2")));

int close(int fd)
{
    if (!is_engine_fd(fd))
        return real.close(fd);
    if (engine_inherited) {
        // A fork() child: the number is a plain /dev/null descriptor here; give it back.
        __atomic_store_n(&engine_fds[fd], 0, __ATOMIC_RELEASE);
        return real.close(fd);
    }
    return (int)ENGINE_CALL(api.close(fd));
}

int ioctl(int fd, unsigned long request, ...)
{
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    ROUTE_FD(fd, real.ioctl(fd, request, arg), api.ioctl(fd, request, arg));
}

ssize_t read(int fd, void *buf, size_t count)
{
    ROUTE_FD(fd, real.read(fd, buf, count), api.read(fd, buf, count));
}

ssize_t write(int fd, const void *buf, size_t count)
{
    ROUTE_FD(fd, real.write(fd, buf, count), api.write(fd, buf, count));
}

ssize_t pread(int fd, void *buf, size_t count, off_t offset)
{
    ROUTE_FD(fd, real.pread(fd, buf, count, offset), api.pread(fd, buf, count, offset));
}

ssize_t pread64(int fd, void *buf, size_t count, off_t offset) __attribute__((alias("pread")));

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
{
    ROUTE_FD(fd, real.pwrite(fd, buf, count, offset), api.pwrite(fd, buf, count, offset));
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset) __attribute__((alias("pwrite")));

void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
{
    if (!(flags & MAP_ANONYMOUS) && is_engine_fd(fd)) {
        if (!engine_here())
            return MAP_FAILED;
        in_engine++;
        long rc = api.mmap(addr, length, prot, flags, fd, offset);
        in_engine--;
        if (rc < 0 && rc > -4096) {
            errno = (int)-rc;
            return MAP_FAILED;
        }
        return (void *)rc;
    }
    if (flags & MAP_FIXED)
        __atomic_add_fetch(&memory_generation, 1, __ATOMIC_RELEASE);
    return real.mmap(addr, length, prot, flags, fd, offset);
}

void *mmap64(void *addr, size_t length, int prot, int flags, int fd, off_t offset) __attribute__((alias("mmap")));

int munmap(void *addr, size_t length)
{
    int rc = real.munmap(addr, length);
    __atomic_add_fetch(&memory_generation, 1, __ATOMIC_RELEASE);
    return rc;
}

void *mremap(void *old, size_t old_size, size_t new_size, int flags, ...)
{
    void *target = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        target = va_arg(ap, void *);
        va_end(ap);
    }
    void *rc = real.mremap(old, old_size, new_size, flags, target);
    __atomic_add_fetch(&memory_generation, 1, __ATOMIC_RELEASE);
    return rc;
}

static int any_engine_fd(const struct pollfd *fds, nfds_t nfds)
{
    for (nfds_t i = 0; i < nfds; i++)
        if (is_engine_fd(fds[i].fd))
            return 1;
    return 0;
}

int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
    if (!any_engine_fd(fds, nfds))
        return real.poll(fds, nfds, timeout);
    if (!engine_here())
        return -1;
    return (int)ENGINE_CALL(api.poll(fds, nfds, timeout));
}

int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout, const sigset_t *sigmask)
{
    if (!any_engine_fd(fds, nfds))
        return real.ppoll(fds, nfds, timeout, sigmask);
    if (!engine_here())
        return -1;
    // The engine's poll takes milliseconds; the signal mask is not applied to engine waits.
    int ms = timeout ? (int)(timeout->tv_sec * 1000 + timeout->tv_nsec / 1000000) : -1;
    return (int)ENGINE_CALL(api.poll(fds, nfds, ms));
}

ssize_t readlink(const char *path, char *buf, size_t size)
{
    if (in_engine || !is_engine_sysfs_path(path))
        return real.readlink(path, buf, size);
    if (engine_state == 1 && engine_inherited) {
        errno = EIO;
        return -1;
    }
    if (load_engine() != 1) {
        errno = ENOENT;
        return -1;
    }
    return ENGINE_CALL(api.readlink(path, buf, size));
}

ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size)
{
    if (!in_engine && path[0] == '/' && is_engine_sysfs_path(path))
        return readlink(path, buf, size);
    return real.readlinkat(dirfd, path, buf, size);
}

// A directory stream over an engine directory: glibc's opendir and readdir reach the kernel through
// internal calls no preload can see, so engine directories get streams of their own, told apart
// from glibc's by a registry of the streams this shim handed out.
struct engine_dir {
    int fd;
    int position, length;
    char records[4096];
    struct dirent64 entry;
};

#define ENGINE_DIR_LIMIT 64
static struct engine_dir *engine_dirs[ENGINE_DIR_LIMIT];
static pthread_mutex_t engine_dirs_lock = PTHREAD_MUTEX_INITIALIZER;

static struct engine_dir *as_engine_dir(DIR *stream)
{
    struct engine_dir *found = NULL;
    pthread_mutex_lock(&engine_dirs_lock);
    for (int i = 0; i < ENGINE_DIR_LIMIT && !found; i++)
        if (engine_dirs[i] == (struct engine_dir *)stream)
            found = engine_dirs[i];
    pthread_mutex_unlock(&engine_dirs_lock);
    return found;
}

DIR *opendir(const char *path)
{
    if (in_engine || !is_engine_sysfs_path(path))
        return real.opendir(path);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct engine_dir *dir = calloc(1, sizeof(*dir));
    int slot = -1;
    pthread_mutex_lock(&engine_dirs_lock);
    for (int i = 0; i < ENGINE_DIR_LIMIT && dir && slot < 0; i++)
        if (!engine_dirs[i]) {
            engine_dirs[i] = dir;
            slot = i;
        }
    pthread_mutex_unlock(&engine_dirs_lock);
    if (slot < 0) {
        free(dir);
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    dir->fd = fd;
    return (DIR *)dir;
}

struct dirent64 *readdir64(DIR *stream)
{
    struct engine_dir *dir = as_engine_dir(stream);
    if (!dir)
        return real.readdir64(stream);
    if (dir->position >= dir->length) {
        if (!engine_here())
            return NULL;
        long n = ENGINE_CALL(api.getdents64(dir->fd, dir->records, sizeof(dir->records)));
        if (n <= 0)
            return NULL; // the end (errno untouched), or the error in errno
        dir->length = (int)n;
        dir->position = 0;
    }
    // linux_dirent64 and glibc's struct dirent64 share their layout up to the name.
    const char *record = dir->records + dir->position;
    unsigned short size;
    memcpy(&size, record + offsetof(struct dirent64, d_reclen), sizeof(size));
    size_t name_room = size - offsetof(struct dirent64, d_name);
    if (name_room > sizeof(dir->entry.d_name))
        name_room = sizeof(dir->entry.d_name);
    memcpy(&dir->entry, record, offsetof(struct dirent64, d_name));
    memcpy(dir->entry.d_name, record + offsetof(struct dirent64, d_name), name_room);
    dir->entry.d_name[sizeof(dir->entry.d_name) - 1] = '\0';
    dir->position += size;
    return &dir->entry;
}

// x86_64: struct dirent is struct dirent64.
struct dirent *readdir(DIR *stream)
{
    if (!as_engine_dir(stream))
        return real.readdir(stream);
    return (struct dirent *)readdir64(stream);
}

int closedir(DIR *stream)
{
    struct engine_dir *dir = as_engine_dir(stream);
    if (!dir)
        return real.closedir(stream);
    pthread_mutex_lock(&engine_dirs_lock);
    for (int i = 0; i < ENGINE_DIR_LIMIT; i++)
        if (engine_dirs[i] == dir)
            engine_dirs[i] = NULL;
    pthread_mutex_unlock(&engine_dirs_lock);
    int rc = close(dir->fd);
    free(dir);
    return rc;
}

int dirfd(DIR *stream)
{
    struct engine_dir *dir = as_engine_dir(stream);
    return dir ? dir->fd : real.dirfd(stream);
}
