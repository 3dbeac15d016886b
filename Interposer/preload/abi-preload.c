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
#include <ucontext.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
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

// The pid whose memory the engine's user copies reach (process_vm_readv/writev). A fork() child
// goes on with its own copy of the engine (the state at the fork, its own from then on: the kernel
// would share one state between both processes), and the pthread_atfork handler points the copy at
// the child. The engine starts no threads of its own, so the forking thread is all the copy needs.
// The handler, not a getpid() per call: getpid is a real syscall since glibc 2.25, and it was once
// the largest cost of a call through the shim. A child made by a raw clone(2) without CLONE_VM runs
// no atfork handler; its engine would still reach the parent's memory.
static volatile int engine_pid;
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
    int (*init)(unsigned char *fds, int count, volatile long *generation, volatile int *pid);
    int (*open)(const char *path, int flags, int mode);
    int (*close)(int fd);
    int (*ioctl)(int fd, unsigned long request, void *arg);
    long (*read)(int fd, void *buf, size_t count);
    long (*write)(int fd, const void *buf, size_t count);
    long (*pread)(int fd, void *buf, size_t count, long offset);
    long (*pwrite)(int fd, const void *buf, size_t count, long offset);
    long (*lseek)(int fd, long offset, int whence);
    void (*duplicated)(int fd, int copy);
    int (*fstat)(int fd, struct stat *st);
    int (*stat)(const char *path, int follow, struct stat *st);
    long (*mmap)(void *addr, size_t length, int prot, int flags, int fd, long offset);
    int (*poll)(struct pollfd *fds, unsigned long nfds, int timeout);
    int (*readlink)(const char *path, char *buf, size_t size);
    long (*getdents64)(int fd, void *buf, size_t count);
    int (*mmio)(uintptr_t address, int size, int write, uint64_t *value);
    void (*forget)(void *addr, size_t length);
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
    off_t (*lseek)(int, off_t, int);
    int (*dup)(int);
    int (*dup2)(int, int);
    int (*dup3)(int, int, int);
    int (*fcntl)(int, int, ...);
    int (*fstat)(int, struct stat *);
    int (*fxstat)(int, int, struct stat *);
    int (*stat)(const char *, struct stat *);
    int (*lstat)(const char *, struct stat *);
    int (*xstat)(int, const char *, struct stat *);
    int (*lxstat)(int, const char *, struct stat *);
    int (*fstatat)(int, const char *, struct stat *, int);
    int (*statx)(int, const char *, int, unsigned int, struct statx *);
    int (*access)(const char *, int);
    void *(*mmap)(void *, size_t, int, int, int, off_t);
    int (*munmap)(void *, size_t);
    void *(*mremap)(void *, size_t, size_t, int, ...);
    int (*poll)(struct pollfd *, nfds_t, int);
    int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
    ssize_t (*readlink)(const char *, char *, size_t);
    ssize_t (*readlinkat)(int, const char *, char *, size_t);
    ssize_t (*getdents64)(int, void *, size_t);
    DIR *(*opendir)(const char *);
    struct dirent *(*readdir)(DIR *);
    struct dirent64 *(*readdir64)(DIR *);
    int (*closedir)(DIR *);
    int (*dirfd)(DIR *);
    void (*rewinddir)(DIR *);
    FILE *(*fopen)(const char *, const char *);
    FILE *(*fdopen)(int, const char *);
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
    engine_pid = getpid();
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
    real.lseek = next_symbol("lseek");
    real.dup = next_symbol("dup");
    real.dup2 = next_symbol("dup2");
    real.dup3 = next_symbol("dup3");
    real.fcntl = next_symbol("fcntl");
    real.fstat = next_symbol("fstat");
    real.fxstat = next_symbol("__fxstat64");
    real.stat = next_symbol("stat");
    real.lstat = next_symbol("lstat");
    real.xstat = next_symbol("__xstat64");
    real.lxstat = next_symbol("__lxstat64");
    real.fstatat = next_symbol("fstatat");
    real.statx = next_symbol("statx");
    real.access = next_symbol("access");
    real.mmap = next_symbol("mmap");
    real.munmap = next_symbol("munmap");
    real.mremap = next_symbol("mremap");
    real.poll = next_symbol("poll");
    real.ppoll = next_symbol("ppoll");
    real.readlink = next_symbol("readlink");
    real.readlinkat = next_symbol("readlinkat");
    real.getdents64 = next_symbol("getdents64");
    real.opendir = next_symbol("opendir");
    real.readdir = next_symbol("readdir");
    real.readdir64 = next_symbol("readdir64");
    real.closedir = next_symbol("closedir");
    real.dirfd = next_symbol("dirfd");
    real.rewinddir = next_symbol("rewinddir");
    real.fopen = next_symbol("fopen");
    real.fdopen = next_symbol("fdopen");
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

// Register BARs a program maps are inaccessible pages (the engine's TrapBarMappings): each load or
// store there faults, and this handler performs it on the device model and steps over the
// instruction, as a hypervisor emulates a guest's MMIO. It decodes the MOV forms compilers emit for
// volatile register accesses (readb/w/l/q, writeb/w/l/q): 88, 89, 8A, 8B, C6 /0, C7 /0, 0F B6,
// 0F B7, with 66 and REX prefixes and any ModRM/SIB addressing. Anything else, and any fault
// outside a trapped BAR, goes to the handler that was there before (the runtime's, or the default).
static struct sigaction previous_segv;

struct mmio_instruction {
    int length; // bytes to step over
    int size;   // bytes accessed
    int write;
    int reg;          // register operand (x86 number 0-15), -1 for an immediate
    int high_byte;    // AH, CH, DH, BH
    int zero_extend;  // a 32-bit destination (or movzx): the upper half of the register is cleared
    uint64_t immediate;
};

static const int greg_of[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                                REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};

// The bytes of a ModRM memory operand after the ModRM byte itself (SIB and displacement); -1 for a register operand.
static int operand_bytes(const unsigned char *modrm)
{
    int mod = modrm[0] >> 6, rm = modrm[0] & 7;
    if (mod == 3)
        return -1;
    int n = 0;
    if (rm == 4) {
        n++; // SIB
        if (mod == 0 && (modrm[1] & 7) == 5)
            return n + 4;
    } else if (mod == 0 && rm == 5) {
        return 4; // RIP-relative disp32
    }
    return n + (mod == 1 ? 1 : mod == 2 ? 4 : 0);
}

static int decode_mmio(const unsigned char *code, struct mmio_instruction *in)
{
    const unsigned char *p = code;
    int operand16 = 0, rex = 0;
    for (;; p++) {
        if (*p == 0x66)
            operand16 = 1;
        else if (*p == 0x2e || *p == 0x3e || *p == 0x26 || *p == 0x36 || *p == 0x64 || *p == 0x65)
            continue;
        else
            break;
    }
    if ((*p & 0xf0) == 0x40)
        rex = *p++;
    int wide = rex & 8, r = (rex & 4) << 1;
    int full = wide ? 8 : operand16 ? 2 : 4;
    memset(in, 0, sizeof(*in));
    in->reg = -1;
    int opcode = *p++, two_byte = 0;
    if (opcode == 0x0f) {
        two_byte = 1;
        opcode = *p++;
    }
    const unsigned char *modrm = p;
    int rest = operand_bytes(modrm);
    if (rest < 0)
        return 0;
    p += 1 + rest;
    int reg = ((modrm[0] >> 3) & 7) | r;
    if (!two_byte && (opcode == 0x88 || opcode == 0x8a)) {
        in->size = 1;
        in->write = opcode == 0x88;
        in->reg = reg;
        in->high_byte = !rex && reg >= 4 && reg < 8;
        if (in->high_byte)
            in->reg = reg - 4;
    } else if (!two_byte && (opcode == 0x89 || opcode == 0x8b)) {
        in->size = full;
        in->write = opcode == 0x89;
        in->reg = reg;
        in->zero_extend = full == 4;
    } else if (!two_byte && opcode == 0xc6 && ((modrm[0] >> 3) & 7) == 0) {
        in->size = 1;
        in->write = 1;
        in->immediate = *p++;
    } else if (!two_byte && opcode == 0xc7 && ((modrm[0] >> 3) & 7) == 0) {
        in->size = full;
        in->write = 1;
        if (full == 2) {
            uint16_t v;
            memcpy(&v, p, 2);
            in->immediate = v;
            p += 2;
        } else {
            int32_t v;
            memcpy(&v, p, 4);
            in->immediate = (uint64_t)(int64_t)v; // sign-extended for a 64-bit store
            p += 4;
        }
    } else if (two_byte && (opcode == 0xb6 || opcode == 0xb7)) {
        in->size = opcode == 0xb6 ? 1 : 2;
        in->reg = reg;
        in->zero_extend = 1;
        if (operand16)
            return 0; // movzx into a 16-bit register: not emitted for register accesses
    } else {
        return 0;
    }
    in->length = (int)(p - code);
    return 1;
}

static void chain_segv(int sig, siginfo_t *info, void *context)
{
    if (previous_segv.sa_flags & SA_SIGINFO) {
        previous_segv.sa_sigaction(sig, info, context);
        return;
    }
    if (previous_segv.sa_handler != SIG_DFL && previous_segv.sa_handler != SIG_IGN) {
        previous_segv.sa_handler(sig);
        return;
    }
    // The default action: returning re-runs the access, which now kills the process as it would have.
    signal(SIGSEGV, SIG_DFL);
}

// The device does not decode the access (memory decoding off, low power): vfio-pci's fault handler
// answers VM_FAULT_SIGBUS, which the kernel delivers as force_sig_fault does: BUS_ADRERR at the
// address, and a SIGBUS the thread blocks or ignores is unblocked and back to its default (death).
// Returning re-runs the access, which faults again, as it would.
static void bus_error(void *address, ucontext_t *uc)
{
    struct sigaction now;
    sigaction(SIGBUS, NULL, &now);
    if (now.sa_handler == SIG_IGN || sigismember(&uc->uc_sigmask, SIGBUS)) {
        signal(SIGBUS, SIG_DFL);
        sigdelset(&uc->uc_sigmask, SIGBUS);
    }
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, SIGBUS);
    pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    si.si_signo = SIGBUS;
    si.si_code = BUS_ADRERR;
    si.si_addr = address;
    syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), SIGBUS, &si);
}

static void on_segv(int sig, siginfo_t *info, void *context)
{
    ucontext_t *uc = context;
    greg_t *regs = uc->uc_mcontext.gregs;
    struct mmio_instruction in;
    if (engine_state != 1 || in_engine || !decode_mmio((const unsigned char *)regs[REG_RIP], &in)) {
        chain_segv(sig, info, context);
        return;
    }
    uint64_t value = 0;
    if (in.write) {
        if (in.reg < 0)
            value = in.immediate;
        else
            value = (uint64_t)regs[greg_of[in.reg]] >> (in.high_byte ? 8 : 0);
    }
    int saved = errno;
    in_engine++;
    int rc = api.mmio((uintptr_t)info->si_addr, in.size, in.write, &value);
    in_engine--;
    errno = saved;
    if (rc == -EIO) {
        bus_error(info->si_addr, uc);
        return;
    }
    if (rc != 0) {
        chain_segv(sig, info, context);
        return;
    }
    if (!in.write) {
        if (in.size < 8)
            value &= (1ULL << (in.size * 8)) - 1;
        uint64_t *target = (uint64_t *)&regs[greg_of[in.reg]];
        if (in.zero_extend || in.size == 8)
            *target = value;
        else if (in.high_byte)
            *target = (*target & ~0xff00ULL) | ((value & 0xff) << 8);
        else {
            uint64_t mask = in.size == 1 ? 0xffULL : 0xffffULL;
            *target = (*target & ~mask) | (value & mask);
        }
    }
    regs[REG_RIP] += in.length;
}

static void install_mmio_trap(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_sigaction = on_segv;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &previous_segv);
}

// The runtime and the engine keep a few fds of their own from their start (the runtime's
// /dev/urandom, say). The kernel takes none of the program's numbers, so while the engine starts,
// every free number below ENGINE_FD_FLOOR is held: what it opens then lands above, and the program's
// next fd is the number the kernel would give. Returns how many were held, in held[].
#define ENGINE_FD_FLOOR 256
static int hold_low_fds(int *held)
{
    // Under a low RLIMIT_NOFILE the floor comes down, so the engine still has numbers to start with.
    struct rlimit limit;
    int floor = ENGINE_FD_FLOOR;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < (rlim_t)ENGINE_FD_FLOOR * 2)
        floor = (int)(limit.rlim_cur / 2);
    int n = 0;
    for (;;) {
        int fd = real.open("/dev/null", O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0)
            break;
        if (fd >= floor) {
            real.close(fd);
            break;
        }
        held[n++] = fd;
    }
    return n;
}

static int load_engine(void)
{
    pthread_mutex_lock(&engine_lock);
    if (engine_state == 0) {
        engine_state = -1;
        int held[ENGINE_FD_FLOOR];
        int nheld = hold_low_fds(held);
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
            BIND(lseek, "abi_engine_lseek");
            BIND(duplicated, "abi_engine_duplicated");
            BIND(fstat, "abi_engine_fstat");
            BIND(stat, "abi_engine_stat");
            BIND(mmap, "abi_engine_mmap");
            BIND(poll, "abi_engine_poll");
            BIND(readlink, "abi_engine_readlink");
            BIND(getdents64, "abi_engine_getdents64");
            BIND(mmio, "abi_engine_mmio");
            BIND(forget, "abi_engine_forget");
#undef BIND
            if (!api.init || !api.open || !api.close || !api.ioctl || !api.read || !api.write ||
                !api.pread || !api.pwrite || !api.lseek || !api.duplicated || !api.fstat || !api.stat || !api.mmap || !api.poll || !api.readlink || !api.getdents64 ||
                !api.mmio || !api.forget) {
                fprintf(stderr, "abi-preload: the engine library lacks an entry point\n");
            } else {
                engine_pid = getpid();
                in_engine++;
                int rc = api.init(engine_fds, FD_LIMIT, &memory_generation, &engine_pid);
                in_engine--;
                if (rc < 0)
                    fprintf(stderr, "abi-preload: the engine did not start (%s)\n", strerror(-rc));
                else {
                    engine_state = 1;
                    install_mmio_trap();
                }
            }
        }
        while (nheld > 0)
            real.close(held[--nheld]);
    }
    int state = engine_state;
    pthread_mutex_unlock(&engine_lock);
    return state;
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
        return ENGINE_CALL(engine_call);                                                           \
    } while (0)

// Before a call on an engine path: the engine loaded (ENOENT when it cannot load). 1 when the call
// may go on.
static int engine_for_path(void)
{
    if (load_engine() != 1) {
        errno = ENOENT;
        return 0;
    }
    return 1;
}

static int engine_open(const char *path, int flags, int mode)
{
    if (!engine_for_path())
        return -1;
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

// An engine file answers as its kernel file: ESPIPE for VFIO's and iommufd's (no llseek), a sysfs
// attribute or directory as kernfs, a dma-buf only to find its end.
off_t lseek(int fd, off_t offset, int whence)
{
    ROUTE_FD(fd, real.lseek(fd, offset, whence), api.lseek(fd, offset, whence));
}

off_t lseek64(int fd, off_t offset, int whence) __attribute__((alias("lseek")));

// dup and its kin run on the reserved numbers, so the kernel chooses the new number, sets its flags
// and answers the errors (EBADF, EINVAL, EMFILE); then the engine learns that the copy names the
// same file, or that a copy over one of its fds took that number away.
static int duplicated(int fd, int copy)
{
    if (copy >= 0 && copy != fd && !in_engine && (is_engine_fd(fd) || is_engine_fd(copy))) {
        int saved = errno;
        in_engine++;
        api.duplicated(fd, copy);
        in_engine--;
        errno = saved;
    }
    return copy;
}

int dup(int fd)
{
    return duplicated(fd, real.dup(fd));
}

int dup2(int fd, int target)
{
    return duplicated(fd, real.dup2(fd, target));
}

int dup3(int fd, int target, int flags)
{
    return duplicated(fd, real.dup3(fd, target, flags));
}

// fcntl's third argument is an int or a pointer, as the command says; passed on as glibc reads it.
int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    int rc = real.fcntl(fd, cmd, arg);
    return cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC ? duplicated(fd, rc) : rc;
}

int fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));

// fstat of an engine fd: the reserved /dev/null's answer (owner, times), with the type, mode, device
// number and size of the engine's file, as a program that checks a VFIO cdev's st_rdev against its
// sysfs dev attribute expects.
static int engine_fstat(int fd, struct stat *st, int rc)
{
    if (rc == 0 && !in_engine && is_engine_fd(fd)) {
        in_engine++;
        api.fstat(fd, st);
        in_engine--;
    }
    return rc;
}

int fstat(int fd, struct stat *st)
{
    return engine_fstat(fd, st, real.fstat(fd, st));
}

int fstat64(int fd, struct stat64 *st) __attribute__((alias("fstat")));

// Binaries built against glibc before 2.33 call the versioned wrapper.
int __fxstat64(int version, int fd, struct stat64 *st)
{
    return engine_fstat(fd, (struct stat *)st, real.fxstat(version, fd, (struct stat *)st));
}

int __fxstat(int version, int fd, struct stat *st) __attribute__((alias("__fxstat64")));

// stat and lstat of an engine path: what fstat of the node opened would show, over /dev/null's
// answer (owner, times); ENOENT where the engine has nothing. -2 for a path that is not the engine's.
static int engine_stat(const char *path, struct stat *st, int follow)
{
    if (in_engine || !path || !(is_engine_path(path) || (fail_nth_mode && is_fail_nth_path(path))))
        return -2;
    if (!engine_for_path())
        return -1;
    struct stat base;
    if (real.stat("/dev/null", &base) != 0)
        return -1;
    in_engine++;
    int rc = api.stat(path, follow, &base);
    in_engine--;
    if (rc == 1)
        return -2;
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    *st = base;
    return 0;
}

int stat(const char *path, struct stat *st)
{
    int rc = engine_stat(path, st, 1);
    return rc != -2 ? rc : real.stat(path, st);
}

int stat64(const char *path, struct stat64 *st) __attribute__((alias("stat")));

int lstat(const char *path, struct stat *st)
{
    int rc = engine_stat(path, st, 0);
    return rc != -2 ? rc : real.lstat(path, st);
}

int lstat64(const char *path, struct stat64 *st) __attribute__((alias("lstat")));

int __xstat64(int version, const char *path, struct stat64 *st)
{
    int rc = engine_stat(path, (struct stat *)st, 1);
    return rc != -2 ? rc : real.xstat(version, path, (struct stat *)st);
}

int __xstat(int version, const char *path, struct stat *st) __attribute__((alias("__xstat64")));

int __lxstat64(int version, const char *path, struct stat64 *st)
{
    int rc = engine_stat(path, (struct stat *)st, 0);
    return rc != -2 ? rc : real.lxstat(version, path, (struct stat *)st);
}

int __lxstat(int version, const char *path, struct stat *st) __attribute__((alias("__lxstat64")));

// fstatat: an absolute engine path, or AT_EMPTY_PATH on an engine fd.
int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
    if (path[0] == '\0' && (flags & AT_EMPTY_PATH))
        return engine_fstat(dirfd, st, real.fstatat(dirfd, path, st, flags));
    int rc = path[0] == '/' ? engine_stat(path, st, !(flags & AT_SYMLINK_NOFOLLOW)) : -2;
    return rc != -2 ? rc : real.fstatat(dirfd, path, st, flags);
}

int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags) __attribute__((alias("fstatat")));

// statx (Rust's std asks it for metadata): the real call's answer for the fd's reserved /dev/null, or
// for /dev/null itself in place of an engine path, with the engine node's type, mode, device number,
// size and blocks, the fields fstat gives.
int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *sx)
{
    struct stat st;
    if (path[0] == '\0' && (flags & AT_EMPTY_PATH)) {
        int rc = real.statx(dirfd, path, flags, mask, sx);
        if (rc != 0 || in_engine || !is_engine_fd(dirfd) || engine_fstat(dirfd, &st, real.fstat(dirfd, &st)) != 0)
            return rc;
    } else {
        int rc = path[0] == '/' ? engine_stat(path, &st, !(flags & AT_SYMLINK_NOFOLLOW)) : -2;
        if (rc == -2)
            return real.statx(dirfd, path, flags, mask, sx);
        if (rc != 0 || real.statx(AT_FDCWD, "/dev/null", 0, mask, sx) != 0)
            return -1;
    }
    sx->stx_mode = (uint16_t)st.st_mode;
    sx->stx_rdev_major = major(st.st_rdev);
    sx->stx_rdev_minor = minor(st.st_rdev);
    sx->stx_size = (uint64_t)st.st_size;
    sx->stx_blocks = (uint64_t)st.st_blocks;
    return 0;
}

// access of an engine path: the node's mode bits decide, as generic_permission does (root may read
// and write anything, and execute what has an execute bit or is a directory).
int access(const char *path, int mode)
{
    struct stat st;
    int rc = engine_stat(path, &st, 1);
    if (rc == -2)
        return real.access(path, mode);
    if (rc < 0 || mode == F_OK)
        return rc;
    int granted;
    if (geteuid() == 0)
        granted = R_OK | W_OK | ((st.st_mode & 0111) || S_ISDIR(st.st_mode) ? X_OK : 0);
    else {
        int bits = st.st_uid == geteuid() ? (int)(st.st_mode >> 6) : st.st_gid == getegid() ? (int)(st.st_mode >> 3) : (int)st.st_mode;
        granted = ((bits & 4) ? R_OK : 0) | ((bits & 2) ? W_OK : 0) | ((bits & 1) ? X_OK : 0);
    }
    if ((mode & granted) != mode) {
        errno = EACCES;
        return -1;
    }
    return 0;
}

// The mappings the engine made for the program (BARs, iommufd's pages), page-rounded. Only a munmap,
// MAP_FIXED or mremap that touches one of them concerns the engine: everything else (malloc, the .NET
// runtime's own heap, whose collector maps and unmaps from its own threads) stays out of it, and the
// engine learns the program's memory from /proc/self/maps when the generation moves. If the table
// fills, every such call goes to the engine.
#define ENGINE_MAPS 256
static struct { uintptr_t start, end; } engine_maps[ENGINE_MAPS];
static int engine_maps_count, engine_maps_full, engine_maps_lock;

static void maps_lock(void)
{
    while (__atomic_exchange_n(&engine_maps_lock, 1, __ATOMIC_ACQUIRE))
        ;
}

static void maps_unlock(void) { __atomic_store_n(&engine_maps_lock, 0, __ATOMIC_RELEASE); }

static uintptr_t page_end(uintptr_t start, size_t length)
{
    uintptr_t end = start + ((length + 4095) & ~(size_t)4095);
    return end < start ? UINTPTR_MAX : end;
}

static void remember_engine_map(void *addr, size_t length)
{
    maps_lock();
    if (engine_maps_count < ENGINE_MAPS) {
        engine_maps[engine_maps_count].start = (uintptr_t)addr;
        engine_maps[engine_maps_count].end = page_end((uintptr_t)addr, length);
        engine_maps_count++;
    } else
        engine_maps_full = 1;
    maps_unlock();
}

// Cuts [start, end) out of the table; whether anything there was the engine's.
static int cut_engine_maps(uintptr_t start, uintptr_t end)
{
    int touched = 0;
    maps_lock();
    for (int i = engine_maps_count - 1; i >= 0; i--) {
        uintptr_t first = engine_maps[i].start, past = engine_maps[i].end;
        if (first >= end || start >= past)
            continue;
        touched = 1;
        engine_maps[i] = engine_maps[--engine_maps_count];
        if (first < start)
            engine_maps[engine_maps_count++] = (typeof(engine_maps[0])){first, start};
        if (past > end) {
            if (engine_maps_count < ENGINE_MAPS)
                engine_maps[engine_maps_count++] = (typeof(engine_maps[0])){end, past};
            else
                engine_maps_full = 1;
        }
    }
    touched |= engine_maps_full;
    maps_unlock();
    return touched;
}

// Before the program's own munmap or MAP_FIXED takes memory away (after an mremap moved or shrank
// it): if the engine mapped any of it, the engine forgets the range, waiting for DMA in flight, as
// the kernel zaps the range before the mapping goes. The engine's own calls already did.
static void engine_forget(void *addr, size_t length)
{
    if (__atomic_load_n(&engine_state, __ATOMIC_ACQUIRE) != 1 || in_engine || length == 0 || ((uintptr_t)addr & 4095))
        return;
    if (!cut_engine_maps((uintptr_t)addr, page_end((uintptr_t)addr, length)))
        return;
    in_engine++;
    api.forget(addr, length);
    in_engine--;
}

void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
{
    if (!(flags & MAP_ANONYMOUS) && is_engine_fd(fd)) {
        in_engine++;
        long rc = api.mmap(addr, length, prot, flags, fd, offset);
        in_engine--;
        if (rc < 0 && rc > -4096) {
            errno = (int)-rc;
            return MAP_FAILED;
        }
        remember_engine_map((void *)rc, length);
        return (void *)rc;
    }
    if (flags & MAP_FIXED) {
        engine_forget(addr, length);
        __atomic_add_fetch(&memory_generation, 1, __ATOMIC_RELEASE);
    }
    return real.mmap(addr, length, prot, flags, fd, offset);
}

void *mmap64(void *addr, size_t length, int prot, int flags, int fd, off_t offset) __attribute__((alias("mmap")));

int munmap(void *addr, size_t length)
{
    engine_forget(addr, length);
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
    if (rc != MAP_FAILED) {
        // Shrunk in place, the tail is gone; moved, the engine does not follow the memory.
        if (rc == old && new_size < old_size)
            engine_forget((char *)old + ((new_size + 4095) & ~(size_t)4095), old_size - ((new_size + 4095) & ~(size_t)4095));
        else if (rc != old) {
            engine_forget(old, old_size);
            engine_forget(rc, new_size);
        }
    }
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
    return (int)ENGINE_CALL(api.poll(fds, nfds, timeout));
}

int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout, const sigset_t *sigmask)
{
    if (!any_engine_fd(fds, nfds))
        return real.ppoll(fds, nfds, timeout, sigmask);
    // The engine's poll takes milliseconds; the signal mask is not applied to engine waits.
    int ms = timeout ? (int)(timeout->tv_sec * 1000 + timeout->tv_nsec / 1000000) : -1;
    return (int)ENGINE_CALL(api.poll(fds, nfds, ms));
}

ssize_t readlink(const char *path, char *buf, size_t size)
{
    if (in_engine || !is_engine_sysfs_path(path))
        return real.readlink(path, buf, size);
    if (!engine_for_path())
        return -1;
    return ENGINE_CALL(api.readlink(path, buf, size));
}

ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size)
{
    if (!in_engine && path[0] == '/' && is_engine_sysfs_path(path))
        return readlink(path, buf, size);
    return real.readlinkat(dirfd, path, buf, size);
}

// glibc's getdents64 wrapper (2.30 and later), which programs that read directories through the
// syscall use (.NET's runtime seam among them) rather than readdir.
ssize_t getdents64(int fd, void *buffer, size_t count)
{
    ROUTE_FD(fd, real.getdents64(fd, buffer, count), api.getdents64(fd, buffer, count));
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
static int engine_dirs_open; // how many are registered: while 0, glibc's streams pass without the lock
static pthread_mutex_t engine_dirs_lock = PTHREAD_MUTEX_INITIALIZER;

static struct engine_dir *as_engine_dir(DIR *stream)
{
    if (!__atomic_load_n(&engine_dirs_open, __ATOMIC_ACQUIRE))
        return NULL;
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
            __atomic_add_fetch(&engine_dirs_open, 1, __ATOMIC_RELEASE);
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
        if (engine_dirs[i] == dir) {
            engine_dirs[i] = NULL;
            __atomic_sub_fetch(&engine_dirs_open, 1, __ATOMIC_RELEASE);
        }
    pthread_mutex_unlock(&engine_dirs_lock);
    int rc = close(dir->fd);
    free(dir);
    return rc;
}

// glibc's rewinddir would reset a stream of its own layout: an engine stream seeks its fd back to
// the first entry and drops what it had buffered.
void rewinddir(DIR *stream)
{
    struct engine_dir *dir = as_engine_dir(stream);
    if (!dir) {
        real.rewinddir(stream);
        return;
    }
    int saved = errno;
    lseek(dir->fd, 0, SEEK_SET);
    errno = saved;
    dir->position = dir->length = 0;
}

// Streams over engine files: glibc's fopen opens through an internal call no preload sees, so an
// engine path gets a stream of fopencookie whose reads, writes, seeks and close are this shim's
// (a stream's fileno is then -1). fdopen of an engine fd is one too.
static ssize_t stream_read(void *cookie, char *buffer, size_t size)
{
    return read((int)(intptr_t)cookie, buffer, size);
}

// A short write goes on with the rest, as glibc's own file streams do (a sysfs store takes at most a
// page per write); fopencookie takes 0 for an error.
static ssize_t stream_write(void *cookie, const char *buffer, size_t size)
{
    size_t done = 0;
    while (done < size) {
        ssize_t n = write((int)(intptr_t)cookie, buffer + done, size - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

static int stream_seek(void *cookie, off64_t *offset, int whence)
{
    off_t at = lseek((int)(intptr_t)cookie, *offset, whence);
    if (at < 0)
        return -1;
    *offset = at;
    return 0;
}

static int stream_close(void *cookie)
{
    return close((int)(intptr_t)cookie);
}

// fopencookie reads only the first letter and a '+' right after it (or after a 'b'): the mode it gets
// is those two, with the '+' wherever fopen's mode had it.
static FILE *engine_stream(int fd, const char *mode)
{
    static const cookie_io_functions_t io = { stream_read, stream_write, stream_seek, stream_close };
    char plain[3] = { mode[0], strchr(mode, '+') ? '+' : '\0', '\0' };
    return fopencookie((void *)(intptr_t)fd, plain, io);
}

// fopen's mode as open's flags: r, w, a, each with +; e for O_CLOEXEC, x for O_EXCL.
static int stream_flags(const char *mode)
{
    int flags = mode[0] == 'r' ? O_RDONLY : mode[0] == 'w' ? O_WRONLY | O_CREAT | O_TRUNC : O_WRONLY | O_CREAT | O_APPEND;
    for (const char *m = mode + 1; *m && *m != ','; m++) {
        if (*m == '+')
            flags = (flags & ~O_ACCMODE) | O_RDWR;
        else if (*m == 'e')
            flags |= O_CLOEXEC;
        else if (*m == 'x')
            flags |= O_EXCL;
    }
    return flags;
}

FILE *fopen(const char *path, const char *mode)
{
    if (in_engine || !path || !mode || !(is_engine_path(path) || (fail_nth_mode && is_fail_nth_path(path))) ||
        (mode[0] != 'r' && mode[0] != 'w' && mode[0] != 'a'))
        return real.fopen(path, mode);
    int fd = open(path, stream_flags(mode), 0666);
    if (fd < 0)
        return NULL;
    FILE *stream = engine_stream(fd, mode);
    if (!stream) {
        int saved = errno;
        close(fd);
        errno = saved;
    }
    return stream;
}

FILE *fopen64(const char *path, const char *mode) __attribute__((alias("fopen")));

// glibc's fdopen: a mode the fd's access mode does not allow is EINVAL.
FILE *fdopen(int fd, const char *mode)
{
    if (in_engine || !is_engine_fd(fd))
        return real.fdopen(fd, mode);
    int flags = real.fcntl(fd, F_GETFL);
    if (flags < 0)
        return NULL;
    int wanted = stream_flags(mode) & O_ACCMODE, has = flags & O_ACCMODE;
    if (has != O_RDWR && wanted != has) {
        errno = EINVAL;
        return NULL;
    }
    return engine_stream(fd, mode);
}

int dirfd(DIR *stream)
{
    struct engine_dir *dir = as_engine_dir(stream);
    return dir ? dir->fd : real.dirfd(stream);
}
