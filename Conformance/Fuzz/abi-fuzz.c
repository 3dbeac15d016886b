// abi-fuzz: seeded random ioctl streams over /dev/iommu (iommufd with the IOMMU_TEST_CMD mock, and
// the VFIO container ioctls iommufd's compat layer serves) and over a VFIO device cdev (QEMU's edu
// bound to vfio-pci, found through sysfs: bind, attach, detach, device/region/IRQ info, reset,
// config space) and over the legacy VFIO path (containers of /dev/vfio/vfio with type1, edu's group:
// status, set/unset container, device fds, map/unmap/info/dirty pages on a container), the same
// program on the real kernel and
// on the engine through the LD_PRELOAD interposer. Every call prints one line that does not depend
// on where things landed in memory (its arena sits at a fixed address, fds are printed as indexes),
// so the two transcripts compare line by line.
//
//   abi-fuzz run FIRST COUNT CALLS [--full]  one seed per child process: a digest line per seed, or
//                                            (--full) every call's line; a child killed by a signal
//                                            is reported as a death
//   abi-fuzz seed SEED CALLS                 one seed's transcript (what run's children do)
//   abi-fuzz script SEED CALLS               the calls a seed generates, one per line
//   abi-fuzz replay FILE                     runs a script (a reduced one, say) and prints its transcript
//   abi-fuzz play FILE                       the same in this process (what replay's child does)
//
// Before the children start, RLIMIT_MEMLOCK is set to 1 MiB and CAP_IPC_LOCK and CAP_SYS_RESOURCE
// leave the bounding set, so pinned-page accounting is charged and limited the same way on both sides.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>
#include "iommufd_test.h"
#include <linux/dma-buf.h>

#define PAGE 4096UL
#define ARENA_BASE 0x300000000000UL
#define ARENA_PAGES 132
// Page layout of the arena.
#define DATA_PAGE 0      // 64 RW pages, patterned: what maps and accesses point at
#define RO_PAGE 64       // 16 read-only pages
#define NONE_PAGE 80     // one PROT_NONE page
#define DATA2_PAGE 81    // 16 RW pages
#define HOLE_PAGE 97     // 16 pages never mapped
#define OUT_PAGE 113     // 16 RW pages for nested outputs (ranges, hw info, bitmaps)
#define ARG_PAGE 129     // the argument page, followed by a PROT_NONE page
#define ARGEND_PAGE 130
#define ARGRO_PAGE 131   // a read-only argument page
// Through a variable, so the compiler does not treat the fixed address as an object of size 0.
static uint8_t *arena = (uint8_t *)ARENA_BASE;
#define AT(page) (arena + (page) * PAGE)

enum { MAX_CALLS = 4096, NARGS = 8, POOL = 64 };

struct call {
	int op;
	uint64_t a[NARGS];
	int argkind;   // where the argument lies: 0 ok, 1 NULL, 2 hole, 3 straddling a hole, 4 read-only, 5 non-canonical, 6 kernel half, 7 PROT_NONE
	int sizekind;  // iommufd size field: 0 exact, 1 short, 2 longer zero tail, 3 longer non-zero tail, 4 huge
};

static int iommufd = -1, memfd = -1;
static uint32_t ids[POOL];
static int nids;
static int fds[POOL];
static int nfds;
// The VFIO cdevs of the functions vfio-pci has (up to two, in the order of their PCI names), found as
// VFIO libraries find them (sysfs), and each function's group and name for the legacy path.
enum { MAX_DEVICES = 2 };
static char cdev_paths[MAX_DEVICES][64];
static char group_paths[MAX_DEVICES][64];
static char device_names[MAX_DEVICES][64];
static int ndevices;
static int cdevs[POOL];  // device fds: opened cdevs and fds VFIO_GROUP_GET_DEVICE_FD returned
static int ncdevs;
static int containers[POOL], ncontainers;
// Eventfds (ABI_FUZZ_VFIO=2): irq_efds go to SET_IRQS and are read back; io_efds go only to
// VFIO_DEVICE_IOEVENTFD and are never signalled, so no ioeventfd ever writes to the device.
static int irq_efds[POOL], nirq_efds;
static int io_efds[POOL], nio_efds;
static int groups[POOL], ngroups;
static int vfio_mode;    // ABI_FUZZ_VFIO=1 (the device and legacy paths), 2 (and the device's interrupts, features, resets, ioeventfds)
static uint64_t transcript_hash = 1469598103934665603ULL;
static int print_lines = 1;
static int call_index;
static int verbose;  // ABI_FUZZ_VERBOSE=1: each argument's words on stderr

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...)
{
	char line[512];
	int head = snprintf(line, sizeof(line), "%d ", call_index);
	va_list ap;
	va_start(ap, fmt);
	int n = head + vsnprintf(line + head, sizeof(line) - head, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n >= (int)sizeof(line))
		n = sizeof(line) - 1;
	transcript_hash = fnv(transcript_hash, line, n);
	if (print_lines) {
		line[n] = '\n';
		if (write(1, line, n + 1) < 0)
			_exit(3);
	}
}

// splitmix64: a seed gives the same stream everywhere.
static uint64_t rng_state;
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}
static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }

// ---------------------------------------------------------------- the arena

static void arena_setup(void)
{
	void *p = mmap((void *)ARENA_BASE, ARENA_PAGES * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != (void *)ARENA_BASE) {
		perror("abi-fuzz: arena");
		exit(2);
	}
	for (unsigned i = 0; i < ARENA_PAGES * PAGE; i += 8)
		*(uint64_t *)(AT(0) + i) = 0xA5A5000000000000ULL | i;
	mprotect(AT(RO_PAGE), 16 * PAGE, PROT_READ);
	mprotect(AT(NONE_PAGE), PAGE, PROT_NONE);
	munmap(AT(HOLE_PAGE), 16 * PAGE);
	memset(AT(OUT_PAGE), 0, 16 * PAGE);
	mprotect(AT(ARGEND_PAGE), PAGE, PROT_NONE);
	mprotect(AT(ARGRO_PAGE), PAGE, PROT_READ);
}

// A user address for a map, an access or a nested pointer: mostly good memory, sometimes each kind of bad.
static uint64_t user_address(uint64_t r)
{
	uint64_t off = (r >> 8) % (64 * PAGE);
	switch (r % 16) {
	case 0: return 0;
	case 1: return (uint64_t)AT(RO_PAGE) + (off % (16 * PAGE) & ~(PAGE - 1));
	case 2: return (uint64_t)AT(NONE_PAGE);
	case 3: return (uint64_t)AT(HOLE_PAGE) + (off % (16 * PAGE));
	case 4: return (uint64_t)AT(DATA2_PAGE) + 15 * PAGE;   // runs into the hole after 1 page
	case 5: return 0x8000000000000000ULL;
	case 6: return (uint64_t)AT(DATA_PAGE) + off;            // unaligned
	default: return (uint64_t)AT(DATA_PAGE) + (off & ~(PAGE - 1));
	}
}

static uint64_t length_of(uint64_t r)
{
	switch (r % 8) {
	case 0: return 0;
	case 1: return (r >> 4) % (8 * PAGE) + 1;
	case 2: return ~0ULL - (r >> 60);
	case 3: return 64 * PAGE;
	default: return ((r >> 4) % 8 + 1) * PAGE;
	}
}

static uint64_t iova_of(uint64_t r)
{
	switch (r % 8) {
	case 0: return 0;
	case 1: return (r >> 4) % (1ULL << 20);
	case 2: return ~0ULL - PAGE + 1;
	case 3: return (uint64_t)MOCK_APERTURE_START + ((r >> 4) % 64) * PAGE;
	case 4: return (uint64_t)MOCK_APERTURE_LAST + 1 - PAGE;
	default: return (1ULL << 24) + ((r >> 4) % 256) * PAGE;
	}
}

// An object id: mostly one a call returned, sometimes 0, a wild one or the largest.
static uint32_t id_of(uint64_t r)
{
	if (r % 8 < 6 && nids)
		return ids[(r >> 3) % nids];
	switch (r % 4) {
	case 0: return 0;
	case 1: return (uint32_t)(r >> 8) % 40;
	case 2: return UINT32_MAX;
	default: return 1;
	}
}

static int fd_of(uint64_t r)
{
	if (r % 4 < 3 && nfds)
		return fds[(r >> 2) % nfds];
	switch (r % 3) {
	case 0: return -1;
	case 1: return iommufd;
	default: return 1000;
	}
}

static int fd_index(int fd)
{
	for (int i = 0; i < nfds; i++)
		if (fds[i] == fd)
			return i;
	return -1;
}

static uint32_t highest_id;

static void remember_id(uint32_t id)
{
	if (id > highest_id && id < MAX_CALLS)
		highest_id = id;
	if (nids < POOL)
		ids[nids++] = id;
}

// The ids again by kind, for the nesting and vIOMMU operations, which mostly pick one of the kind
// they need (id_of's mixed pool seldom gives a nesting parent and a device that fit together). The
// other operations never read these, so their streams are what they were.
// K_PSTDEV: mock devices that take PASIDs; K_PCOMPAT: HWPTs allocated with IOMMU_HWPT_ALLOC_PASID.
enum { K_IOAS, K_HWPT, K_PARENT, K_NESTED, K_DEV, K_STDEV, K_VIOMMU, K_VDEV, K_FAULT, K_PSTDEV, K_PCOMPAT, K_KINDS };
// What a nesting parent is built on (its IOAS) and what a vIOMMU is built on (its parent): a HW
// queue's IOVA is mapped into that IOAS.
struct built_on { uint32_t id, on; };
static struct built_on parents[16], viommus[16];
static int nparents, nviommus;

static void remember_built_on(struct built_on *list, int *n, uint32_t id, uint32_t on)
{
	if (*n < 16)
		list[(*n)++] = (struct built_on){ id, on };
}

static uint32_t built_on(const struct built_on *list, int n, uint32_t id)
{
	for (int i = 0; i < n; i++)
		if (list[i].id == id)
			return list[i].on;
	return 0;
}
static uint32_t kind_ids[K_KINDS][16];
static int nkind[K_KINDS];

// An id of a second kind (a PASID-capable stdev, a PASID-compatible HWPT): the kind's pool only, as
// the mixed pool has it already.
static void remember_also(int kind, uint32_t id)
{
	if (nkind[kind] < 16)
		kind_ids[kind][nkind[kind]++] = id;
	else
		kind_ids[kind][id % 16] = id;
}

static void remember_kind(int kind, uint32_t id)
{
	remember_id(id);
	remember_also(kind, id);
}

static uint32_t id_of_kind(int kind, uint64_t r)
{
	if (r % 4 && nkind[kind])
		return kind_ids[kind][(r >> 2) % nkind[kind]];
	return id_of(r >> 2);
}

// The PASIDs attached through the mock (stdev, pasid). The 7.2 kernel's selftest destroy of a mock
// device detaches only its RID (selftest.c: iommufd_selftest_destroy): with a PASID still attached
// the device object stays in the table (IOMMU_DESTROY answers 0, a later lookup of its id finds it)
// and a later page request oopses the kernel (seed 2 of the first 2000-call run of these
// operations). So a mock device's PASIDs are detached before it is destroyed, and at the end.
static struct { uint32_t stdev, pasid; } attached_pasids[1024];
static int nattached_pasids;

static void note_pasid(uint32_t stdev, uint32_t pasid, int attached)
{
	for (int i = 0; i < nattached_pasids; i++)
		if (attached_pasids[i].stdev == stdev && attached_pasids[i].pasid == pasid) {
			if (!attached)
				attached_pasids[i] = attached_pasids[--nattached_pasids];
			return;
		}
	if (attached && nattached_pasids < 1024) {
		attached_pasids[nattached_pasids].stdev = stdev;
		attached_pasids[nattached_pasids++].pasid = pasid;
	}
}

// Detaches every PASID noted for stdev (any stdev with all); returns how many.
static int detach_pasids(uint32_t stdev, int all)
{
	int n = 0;
	for (int i = nattached_pasids - 1; i >= 0; i--) {
		if (!all && attached_pasids[i].stdev != stdev)
			continue;
		struct iommu_test_cmd x = { .size = sizeof(x), .op = IOMMU_TEST_OP_PASID_DETACH, .id = attached_pasids[i].stdev };
		x.pasid_detach.pasid = attached_pasids[i].pasid;
		ioctl(iommufd, IOMMU_TEST_CMD, &x);
		attached_pasids[i] = attached_pasids[--nattached_pasids];
		n++;
	}
	return n;
}

static void remember_fd(int fd)
{
	if (verbose)
		fprintf(stderr, "%d fd %d\n", call_index, fd);
	if (nfds < POOL && fd >= 0)
		fds[nfds++] = fd;
}

// ---------------------------------------------------------------- placing an argument

struct placed {
	void *ptr;
	uint8_t *copy; // where the bytes the kernel may write back live (NULL: nowhere readable)
	size_t len;
};

static struct placed place(const struct call *c, void *arg, size_t size)
{
	struct placed p = { 0 };
	switch (c->argkind) {
	case 1: p.ptr = NULL; break;
	case 2: p.ptr = AT(HOLE_PAGE) + 8; break;
	case 3: {
		size_t k = size > 1 ? 1 + c->a[7] % (size - 1) : 1;  // the first k bytes are readable
		p.ptr = AT(ARGEND_PAGE) - k;
		memcpy(p.ptr, arg, k);
		p.copy = p.ptr;
		p.len = k;
		break;
	}
	case 4:
		mprotect(AT(ARGRO_PAGE), PAGE, PROT_READ | PROT_WRITE);
		memset(AT(ARGRO_PAGE), 0, PAGE);
		memcpy(AT(ARGRO_PAGE), arg, size);
		mprotect(AT(ARGRO_PAGE), PAGE, PROT_READ);
		p.ptr = p.copy = AT(ARGRO_PAGE);
		p.len = size;
		break;
	case 5: p.ptr = (void *)0x8000000000001000ULL; break;
	case 6: p.ptr = (void *)0xffff888000001000ULL; break;
	case 7: p.ptr = AT(NONE_PAGE) + 16; break;
	default:
		// The argument ends 512 bytes before the PROT_NONE page: room for a longer size's tail, and a
		// huge size runs into the hole.
		memset(AT(ARG_PAGE), 0, PAGE);
		p.ptr = p.copy = AT(ARGEND_PAGE) - 512 - ((size + 7) & ~7UL);
		memcpy(p.ptr, arg, size);
		p.len = size + 64 > 512 + ((size + 7) & ~7UL) ? size : size + 64;
		break;
	}
	return p;
}

// The size field of an iommufd struct, mutated as sizekind says (the tail bytes live in the argument page).
static void size_field(const struct call *c, uint32_t *size, uint32_t exact, uint32_t min)
{
	switch (c->sizekind) {
	case 1: *size = (uint32_t)(c->a[6] % (min ? min : 1)); break;
	case 2: *size = exact + 8 * (1 + c->a[6] % 8); break;
	case 3: *size = exact + 8 * (1 + c->a[6] % 8); break;
	case 4: *size = 1U << 16; break;
	default: *size = exact; break;
	}
}

static int returns_fd;  // the next ioctl returns an fd (printed as 1000 + its device-pool index)
static int returns_dmabuf;  // the next ioctl may return a dma-buf's fd (printed as 2000 + its index)
static int dmabufs[POOL], ndmabufs;
static size_t digest_limit;  // when set, the argument's digest covers only its first bytes (fds follow them)

// Performs the ioctl with the argument placed; returns -errno or the result; prints the call's line.
// fd_offset: where the kernel writes an fd back (printed as an index); in_fd_offset: where the caller
// passed one. Both are left out of the argument's digest, as fd numbers differ between the two sides.
static long do_ioctl_on(int fd, const struct call *c, const char *name, unsigned long request, void *arg, size_t size,
			int fd_offset, int in_fd_offset)
{
	struct placed p = place(c, arg, size);
	if (c->sizekind == 3 && p.copy == AT(ARGEND_PAGE) - 512 - ((size + 7) & ~7UL))
		p.copy[size + 8 * (c->a[6] % 8)] = 0x5A;  // a non-zero byte in the tail
	long rc = ioctl(fd, request, p.ptr);
	if (rc < 0)
		rc = -errno;
	if (rc >= 0 && returns_fd) {
		// VFIO_GROUP_GET_DEVICE_FD: the fd becomes a device fd of the pool, printed as its index.
		if (verbose)
			fprintf(stderr, "%d device fd %ld\n", call_index, rc);
		if (ncdevs < POOL)
			cdevs[ncdevs++] = (int)rc;
		rc = 1000 + ncdevs - 1;
	}
	if (rc > 0 && returns_dmabuf) {
		if (ndmabufs < POOL)
			dmabufs[ndmabufs++] = (int)rc;
		remember_fd((int)rc);
		rc = 2000 + ndmabufs - 1;
	}
	if (verbose) {
		// The argument as the call left it, in 32-bit words, to stderr (not part of the transcript).
		fprintf(stderr, "%d %s:", call_index, name);
		size_t shown = p.copy ? (p.len < size ? p.len : size) : size;
		for (size_t i = 0; i + 4 <= shown && i < 64; i += 4)
			fprintf(stderr, " %x", *(uint32_t *)((p.copy ? p.copy : (uint8_t *)arg) + i));
		fprintf(stderr, "\n");
	}
	char out[80] = "";
	if (p.copy) {
		uint8_t snapshot[PAGE];
		memcpy(snapshot, p.copy, p.len);
		if (fd_offset >= 0 && (size_t)fd_offset + 4 <= p.len) {
			int fd;
			memcpy(&fd, snapshot + fd_offset, 4);
			if (rc >= 0)
				remember_fd(fd);
			int index = rc >= 0 ? fd_index(fd) : -2;
			memset(snapshot + fd_offset, 0, 4);
			snprintf(out, sizeof(out), " fd#%d", index);
		}
		if (in_fd_offset >= 0 && (size_t)in_fd_offset < p.len)
			memset(snapshot + in_fd_offset, 0, p.len - in_fd_offset < 4 ? p.len - in_fd_offset : 4);
		if (returns_fd)
			memset(snapshot, 0, p.len < size ? p.len : size);  // the device's name differs between the sides
		char hash[40];
		size_t digested = digest_limit && digest_limit < p.len ? digest_limit : p.len;
		snprintf(hash, sizeof(hash), " arg=%016" PRIx64, fnv(1469598103934665603ULL, snapshot, digested));
		strncat(out, hash, sizeof(out) - strlen(out) - 1);
	}
	emit("%s rc=%ld%s", name, rc, out);
	digest_limit = 0;
	if (p.copy && p.copy != (uint8_t *)arg)
		memcpy(arg, p.copy, p.len < size ? p.len : size);
	return rc;
}

static long do_ioctl(const struct call *c, const char *name, unsigned long request, void *arg, size_t size,
		     int fd_offset, int in_fd_offset)
{
	return do_ioctl_on(iommufd, c, name, request, arg, size, fd_offset, in_fd_offset);
}

// Wires a mock device (its stdev and idev) so that a trigger reaches a queue: for a page request,
// a nested HWPT with a fault queue on a nesting parent, the device replaced onto it; for a vEVENT, a
// vDEVICE on a vIOMMU, a nested HWPT on that vIOMMU, the device replaced onto it, and a vEVENTQ.
// Each step prints its answer; what it makes joins the pools.
static void wire_device(uint32_t stdev, uint32_t idev, int page_request, uint64_t r)
{
	uint32_t iotlb[2] = { 0, 0 };
	uint32_t nested = 0;
	long rc;
	if (page_request) {
		if (!nkind[K_FAULT] || !nkind[K_PARENT]) {
			emit("  wire: no fault queue or parent");
			return;
		}
		struct iommu_hwpt_alloc h = {
			.size = sizeof(h), .flags = IOMMU_HWPT_FAULT_ID_VALID, .dev_id = idev, .pt_id = kind_ids[K_PARENT][r % nkind[K_PARENT]],
			.data_type = IOMMU_HWPT_DATA_SELFTEST, .data_len = sizeof(iotlb), .data_uptr = (uint64_t)iotlb,
			.fault_id = kind_ids[K_FAULT][(r >> 8) % nkind[K_FAULT]],
		};
		rc = ioctl(iommufd, IOMMU_HWPT_ALLOC, &h) < 0 ? -errno : 0;
		emit("  wire: nested with a fault queue rc=%ld", rc);
		if (rc)
			return;
		remember_kind(K_NESTED, nested = h.out_hwpt_id);
	} else {
		if (!nkind[K_VIOMMU]) {
			emit("  wire: no vIOMMU");
			return;
		}
		uint32_t viommu = kind_ids[K_VIOMMU][r % nkind[K_VIOMMU]];
		struct iommu_vdevice_alloc v = { .size = sizeof(v), .viommu_id = viommu, .dev_id = idev, .virt_id = (r >> 8) % 4 };
		rc = ioctl(iommufd, IOMMU_VDEVICE_ALLOC, &v) < 0 ? -errno : 0;
		emit("  wire: vdevice rc=%ld", rc);
		if (rc == 0)
			remember_kind(K_VDEV, v.out_vdevice_id);
		struct iommu_hwpt_alloc h = {
			.size = sizeof(h), .dev_id = idev, .pt_id = viommu,
			.data_type = IOMMU_HWPT_DATA_SELFTEST, .data_len = sizeof(iotlb), .data_uptr = (uint64_t)iotlb,
		};
		rc = ioctl(iommufd, IOMMU_HWPT_ALLOC, &h) < 0 ? -errno : 0;
		emit("  wire: nested on the vIOMMU rc=%ld", rc);
		if (rc)
			return;
		remember_kind(K_NESTED, nested = h.out_hwpt_id);
		struct iommu_veventq_alloc q = { .size = sizeof(q), .viommu_id = viommu, .type = IOMMU_VEVENTQ_TYPE_SELFTEST, .veventq_depth = 2 };
		rc = ioctl(iommufd, IOMMU_VEVENTQ_ALLOC, &q) < 0 ? -errno : 0;
		emit("  wire: veventq rc=%ld", rc);
		if (rc == 0) {
			remember_id(q.out_veventq_id);
			remember_fd((int)q.out_veventq_fd);
		}
	}
	struct iommu_test_cmd m = { .size = sizeof(m), .op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, .id = stdev };
	m.mock_domain_replace.pt_id = nested;
	emit("  wire: replace rc=%ld", ioctl(iommufd, IOMMU_TEST_CMD, &m) < 0 ? -(long)errno : 0L);
}

static int by_name(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static void find_cdevs(void)
{
	// opendir/readdir, not scandir: glibc's scandir reads the directory through internal calls the
	// interposer never sees, so the engine's sysfs would not answer it.
	static char names[64][64];
	int n = 0;
	DIR *devices = opendir("/sys/bus/pci/devices");
	struct dirent *d;
	while (devices && n < 64 && (d = readdir(devices)))
		if (d->d_name[0] != '.')
			snprintf(names[n++], sizeof(names[0]), "%.60s", d->d_name);
	if (devices)
		closedir(devices);
	qsort(names, (size_t)n, sizeof(names[0]), by_name);
	for (int i = 0; i < n && ndevices < MAX_DEVICES; i++) {
		char path[300];
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%.64s/vfio-dev", names[i]);
		DIR *vfio = opendir(path);
		struct dirent *v;
		char *cdev = cdev_paths[ndevices];
		while (vfio && (v = readdir(vfio)))
			if (!strncmp(v->d_name, "vfio", 4))
				snprintf(cdev, sizeof(cdev_paths[0]), "/dev/vfio/devices/%.40s", v->d_name);
		if (vfio)
			closedir(vfio);
		if (!cdev[0])
			continue;
		char link[300], target[300];
		snprintf(link, sizeof(link), "/sys/bus/pci/devices/%.64s/iommu_group", names[i]);
		ssize_t len = readlink(link, target, sizeof(target) - 1);
		if (len > 0) {
			target[len] = 0;
			const char *slash = strrchr(target, '/');
			snprintf(group_paths[ndevices], sizeof(group_paths[0]), "/dev/vfio/%.40s", slash ? slash + 1 : target);
		}
		snprintf(device_names[ndevices], sizeof(device_names[0]), "%.60s", names[i]);
		ndevices++;
	}
}

// Which of the devices an operation names (the only one, mostly), and how its line says so: nothing
// with one device, so that one-device transcripts stay as they were.
static int device_of(uint64_t r)
{
	return ndevices > 1 ? (int)(r % (uint64_t)ndevices) : 0;
}

static const char *device_tag(int device)
{
	static char tag[16];
	snprintf(tag, sizeof(tag), " dev#%d", device);
	return ndevices > 1 ? tag : "";
}

// A device fd: mostly one OP_CDEV_OPEN returned, sometimes the iommufd, a closed or a wild one.
static int cdev_of(uint64_t r)
{
	if (r % 8 < 6 && ncdevs)
		return cdevs[(r >> 3) % ncdevs];
	switch (r % 3) {
	case 0: return iommufd;
	case 1: return -1;
	default: return 1000;
	}
}

// A container fd for the container ioctls: without ABI_FUZZ_VFIO always iommufd (its compat layer,
// as in earlier campaigns); with it mostly an opened /dev/vfio/vfio, sometimes iommufd.
static int container_of(uint64_t r)
{
	if (!vfio_mode || r % 4 == 0 || !ncontainers)
		return iommufd;
	return containers[(r >> 2) % ncontainers];
}

// How the container ioctls' lines name the fd: nothing for iommufd outside ABI_FUZZ_VFIO (the lines
// of earlier campaigns), "(iommufd)" or "(c#N)" with it.
static const char *container_name(int fd)
{
	static char name[24];
	name[0] = 0;
	if (!vfio_mode)
		return name;
	if (fd == iommufd) {
		snprintf(name, sizeof(name), "(iommufd)");
		return name;
	}
	for (int i = 0; i < ncontainers; i++)
		if (containers[i] == fd)
			snprintf(name, sizeof(name), "(c#%d)", i);
	return name;
}

// For the device fd's own ioctls (ABI_FUZZ_VFIO=2): mostly the stream's first device fd, which it
// bound first, otherwise any as cdev_of picks them.
static int device_fd_of(uint64_t r)
{
	if (r % 4 && ncdevs)
		return cdevs[0];
	return cdev_of(r >> 2);
}

static int group_of(uint64_t r)
{
	if (r % 8 < 7 && ngroups)
		return groups[(r >> 3) % ngroups];
	return r % 2 ? iommufd : -1;
}

// pwrite of a device fd's region, then the aligned dword there read back: pwrite's answer, with
// the read's in *rb (-errno for either).
static long write_read_back(int fd, const void *buf, size_t len, off_t off, uint32_t *back, long *rb)
{
	long rc = pwrite(fd, buf, len, off);
	if (rc < 0)
		rc = -errno;
	*rb = pread(fd, back, 4, off & ~3L);
	if (*rb < 0)
		*rb = -errno;
	return rc;
}

// A file of one kind the stream holds, for the file operations (lseek, dup): iommufd, a device fd, a
// group, a container, a dma-buf, or any pooled fd.
static int file_of_kind(int kind, uint64_t r)
{
	switch (kind) {
	case 0: return iommufd;
	case 1: return vfio_mode ? cdev_of(r) : fd_of(r);
	case 2: return vfio_mode ? group_of(r) : fd_of(r);
	case 3: return container_of(r);
	case 4: return ndmabufs ? dmabufs[r % ndmabufs] : iommufd;
	default: return fd_of(r);
	}
}

static int group_index(int fd)
{
	for (int i = 0; i < ngroups; i++)
		if (groups[i] == fd)
			return i;
	return fd == iommufd ? 99 : -1;
}

static int cdev_index(int fd)
{
	for (int i = 0; i < ncdevs; i++)
		if (cdevs[i] == fd)
			return i;
	return fd == iommufd ? 99 : -1;
}

// IOVAs that maps succeeded at (the ones they were given or chose), for transfers to aim at (mostly).
static struct { uint64_t iova; uint32_t ioas; } mapped[16];   // ioas 0: a container's map
static int nmapped;

static void note_mapped(uint64_t iova, uint32_t ioas)
{
	int i = nmapped < 16 ? nmapped++ : (int)(iova % 16);
	mapped[i].iova = iova;
	mapped[i].ioas = ioas;
}

// IOVA ranges a dma-buf was ever mapped at, in any IOAS (a MAP_FILE of one, or a copy of a range that
// overlaps one): a transfer never goes there. DMA to a dma-buf of edu's BAR reaches edu's registers in
// QEMU, which the engine does not model (its peer-to-peer reaches BARs of plain memory only), and
// which could start another transfer. Unmaps do not shrink the list.
static struct { uint64_t iova, last; } peer_ranges[POOL];
static int npeer_ranges, peer_ranges_full;  // full: no transfer runs any more

static int overlaps_peer(uint64_t iova, uint64_t length)
{
	if (peer_ranges_full)
		return 1;
	uint64_t last = length ? iova + length - 1 : iova;
	for (int i = 0; i < npeer_ranges; i++)
		if (iova <= peer_ranges[i].last && peer_ranges[i].iova <= last)
			return 1;
	return last < iova && npeer_ranges > 0;
}

static void note_peer(uint64_t iova, uint64_t length)
{
	if (npeer_ranges == POOL) {
		peer_ranges_full = 1;
		return;
	}
	int i = npeer_ranges++;
	peer_ranges[i].iova = iova;
	peer_ranges[i].last = length ? iova + length - 1 : iova;
}

static int is_dmabuf(int fd)
{
	if (fd < 0)
		return 0;
	for (int i = 0; i < ndmabufs; i++)
		if (dmabufs[i] == fd)
			return 1;
	return 0;
}

// What a device's transfer into memory can reach: the arena's readable pages and the memfd's.
static uint64_t memory_digest(void)
{
	static uint8_t file[32 * PAGE];
	uint64_t h = fnv(1469598103934665603ULL, AT(DATA_PAGE), 80 * PAGE);
	h = fnv(h, AT(DATA2_PAGE), 16 * PAGE);
	ssize_t n = pread(memfd, file, sizeof(file), 0);
	return n > 0 ? fnv(h, file, (size_t)n) : h;
}

// Sets bits in a device's command register through its config region (read, or, write back): the
// write's answer, or the read's when it was short, -errno for a failure.
static long set_command_bits(int fd, uint16_t bits)
{
	off_t at = ((off_t)VFIO_PCI_CONFIG_REGION_INDEX << 40) + 4;
	uint16_t command = 0;
	long rc = pread(fd, &command, 2, at);
	command |= bits;
	if (rc == 2)
		rc = pwrite(fd, &command, 2, at);
	return rc < 0 ? -errno : rc;
}

// Starts an edu transfer (source, destination, count, command written to BAR0's 0x80-0x98) and polls
// the command register until its run bit clears (QEMU runs the transfer from a 100 ms timer; the
// engine's bit is clear at once): the last register write's answer (-errno for a failure), and in
// *command the command register as last read.
static long edu_transfer(int fd, const uint64_t regs[4], uint64_t *command)
{
	long rc = 0;
	for (int i = 0; i < 4 && rc >= 0; i++)
		if ((rc = pwrite(fd, &regs[i], 8, 0x80 + 8 * i)) < 0)
			rc = -errno;
	*command = 1;
	for (int polls = 0; rc >= 0 && (*command & 1) && polls < 3000; polls++) {
		if (pread(fd, command, 8, 0x98) != 8)
			break;
		if (*command & 1)
			usleep(1000);
	}
	return rc;
}

// A nested output buffer's digest, printed after the call that wrote it.
static void emit_out(const char *what, uint64_t addr, size_t len)
{
	if (addr < (uint64_t)AT(OUT_PAGE) || addr + len > (uint64_t)AT(OUT_PAGE + 16))
		return;
	emit("  %s=%016" PRIx64, what, fnv(1469598103934665603ULL, (void *)addr, len));
}

static uint64_t out_pointer(uint64_t r, size_t *len)
{
	*len = (r >> 8) % 512 * 8;
	if (r % 8 == 0)
		return user_address(r >> 3);
	memset(AT(OUT_PAGE), 0, 16 * PAGE);
	return (uint64_t)AT(OUT_PAGE);
}

// An fd for an interrupt's eventfd: mostly one of irq_efds, sometimes -1, below -1, not an eventfd, closed.
static int32_t irq_fd_of(uint64_t r)
{
	if (r % 8 < 6 && nirq_efds)
		return irq_efds[(r >> 3) % nirq_efds];
	switch (r % 5) {
	case 0: return -1;
	case 1: return -2 - (int32_t)((r >> 8) % 100);
	case 2: return memfd;
	case 3: return 1000;
	default: return iommufd;
	}
}

// An argsz for a variable-length VFIO argument of exact bytes (min its fixed head), mutated as sizekind says;
// with sizekind 0, now and then one byte short of the data.
static uint32_t vfio_argsz(const struct call *c, uint32_t exact, uint32_t min)
{
	uint32_t size;
	size_field(c, &size, exact, min);
	if (c->sizekind == 0 && exact > min && c->a[6] % 8 == 0)
		size = exact - 1;
	return size;
}

// ---------------------------------------------------------------- the operations

enum {
	OP_IOAS_ALLOC, OP_DESTROY, OP_IOAS_MAP, OP_IOAS_UNMAP, OP_IOAS_COPY, OP_IOVA_RANGES, OP_ALLOW_IOVAS,
	OP_OPTION, OP_VFIO_IOAS, OP_HWPT_ALLOC, OP_HW_INFO, OP_DIRTY_TRACKING, OP_DIRTY_BITMAP, OP_MOCK_DOMAIN,
	OP_ADD_RESERVED, OP_CREATE_ACCESS, OP_ACCESS_PAGES, OP_ACCESS_RW, OP_DOMAIN_REPLACE, OP_CHECK_EXTENSION,
	OP_SET_IOMMU, OP_COMPAT_INFO, OP_COMPAT_MAP, OP_COMPAT_UNMAP, OP_JUNK, OP_MAP_FILE, OP_FAULT_ALLOC,
	OP_CLOSE, OP_DESTROY_ACCESS_PAGES, OP_READ, OP_WRITE, OP_MMAP, OP_CDEV_OPEN, OP_CDEV_BIND, OP_CDEV_ATTACH,
	OP_CDEV_DETACH, OP_CDEV_INFO, OP_CDEV_RESET, OP_CDEV_CONFIG, OP_CONTAINER_OPEN, OP_GROUP_OPEN, OP_GROUP_STATUS,
	OP_GROUP_SET_CONTAINER, OP_GROUP_UNSET_CONTAINER, OP_GROUP_DEVICE_FD, OP_API_VERSION, OP_CONTAINER_DIRTY,
	OP_EVENTFD, OP_EVENTFD_READ, OP_SET_IRQS, OP_FEATURE, OP_HOT_RESET, OP_IOEVENTFD, OP_CDEV_BAR, OP_CDEV_MMAP, OP_CONFIG_WRITE, OP_EDU_DMA, OP_DMABUF,
	OP_SEEK, OP_FAULTING_WRITE, OP_DUP, OP_MAP_KIND,
	OP_NESTED, OP_INVALIDATE, OP_CHECK_CACHE, OP_VIOMMU, OP_VDEVICE, OP_VEVENTQ, OP_HW_QUEUE, OP_TRIGGER,
	OP_FAULT_RESPOND, OP_PASID, OP_TEST_DIRTY, OP_TEST_DMABUF,
	OP_COUNT
};

// How often each operation is drawn (out of the sum). The device and legacy-path operations are drawn
// only with ABI_FUZZ_VFIO=1 (campaign.sh --vfio), whose weights replace these (-1: never); without it
// the streams are those of earlier campaigns.
static int weight[OP_COUNT] = {
	[OP_IOAS_ALLOC] = 8, [OP_DESTROY] = 5, [OP_IOAS_MAP] = 14, [OP_IOAS_UNMAP] = 8, [OP_IOAS_COPY] = 5,
	[OP_IOVA_RANGES] = 4, [OP_ALLOW_IOVAS] = 4, [OP_OPTION] = 3, [OP_VFIO_IOAS] = 3, [OP_HWPT_ALLOC] = 4,
	[OP_HW_INFO] = 2, [OP_DIRTY_TRACKING] = 2, [OP_DIRTY_BITMAP] = 2, [OP_MOCK_DOMAIN] = 6,
	[OP_ADD_RESERVED] = 3, [OP_CREATE_ACCESS] = 3, [OP_ACCESS_PAGES] = 4, [OP_ACCESS_RW] = 3,
	[OP_DOMAIN_REPLACE] = 2, [OP_CHECK_EXTENSION] = 1, [OP_SET_IOMMU] = 1, [OP_COMPAT_INFO] = 2,
	[OP_COMPAT_MAP] = 4, [OP_COMPAT_UNMAP] = 3, [OP_JUNK] = 3, [OP_MAP_FILE] = 3, [OP_FAULT_ALLOC] = 1,
	[OP_CLOSE] = 1, [OP_DESTROY_ACCESS_PAGES] = 1, [OP_READ] = 2, [OP_WRITE] = 2, [OP_MMAP] = 2,
	[OP_SEEK] = 1, [OP_DUP] = 1, [OP_MAP_KIND] = 1,
	// Nesting and the vIOMMU on the mock: parents and nested HWPTs with the mock's data, invalidations
	// of both, the vIOMMU and its vDEVICEs, vEVENTQs and HW queues, faults and events the mock raises
	// and their responses, PASID attachments, dirty bits the mock sets and its own dma-bufs.
	[OP_NESTED] = 5, [OP_INVALIDATE] = 4, [OP_CHECK_CACHE] = 2, [OP_VIOMMU] = 4, [OP_VDEVICE] = 3,
	[OP_VEVENTQ] = 2, [OP_HW_QUEUE] = 2, [OP_TRIGGER] = 3, [OP_FAULT_RESPOND] = 2, [OP_PASID] = 4,
	[OP_TEST_DIRTY] = 2, [OP_TEST_DMABUF] = 2,
};

static const int vfio_weight[OP_COUNT] = {
	[OP_CDEV_OPEN] = 2, [OP_CDEV_BIND] = 3, [OP_CDEV_ATTACH] = 3, [OP_CDEV_DETACH] = 1, [OP_CDEV_INFO] = 3,
	[OP_CDEV_RESET] = 1, [OP_CDEV_CONFIG] = 2, [OP_CONTAINER_OPEN] = 2, [OP_GROUP_OPEN] = 2, [OP_GROUP_STATUS] = 2,
	[OP_GROUP_SET_CONTAINER] = 3, [OP_GROUP_UNSET_CONTAINER] = 1, [OP_GROUP_DEVICE_FD] = 3, [OP_API_VERSION] = 1,
	[OP_CONTAINER_DIRTY] = 2, [OP_SET_IOMMU] = 3, [OP_COMPAT_MAP] = 6,
	// No mock devices beside the real one: the 7.2 kernel's mock IOMMU takes any device a replace hands
	// it for its own (selftest.c, mock_domain_nop_attach: to_mock_dev on edu's pci_dev) and the guest
	// hangs, as seed 46 of the first --vfio campaign did (edu replaced onto a mock domain's HWPT).
	[OP_MOCK_DOMAIN] = -1, [OP_DOMAIN_REPLACE] = -1,
	// The mock's nesting, vIOMMU, fault and PASID operations: without mock devices they would only
	// fail, and TRIGGER_VEVENT takes any device for a mock one (iommufd_test_trigger_vevent). The
	// --vfio and --device streams stay what they were.
	[OP_NESTED] = -1, [OP_INVALIDATE] = -1, [OP_CHECK_CACHE] = -1, [OP_VIOMMU] = -1, [OP_VDEVICE] = -1,
	[OP_VEVENTQ] = -1, [OP_HW_QUEUE] = -1, [OP_TRIGGER] = -1, [OP_FAULT_RESPOND] = -1, [OP_PASID] = -1,
	[OP_TEST_DIRTY] = -1, [OP_TEST_DMABUF] = -1,
};

// ABI_FUZZ_VFIO=2 (campaign.sh --device): the --vfio streams' operations and the device fd's interrupt,
// feature, hot reset and ioeventfd ioctls, with eventfds to hand them and to read loopback signals from.
static const int device_weight[OP_COUNT] = {
	[OP_EVENTFD] = 2, [OP_EVENTFD_READ] = 3, [OP_SET_IRQS] = 10, [OP_FEATURE] = 4, [OP_HOT_RESET] = 2,
	[OP_IOEVENTFD] = 4, [OP_CDEV_BAR] = 4, [OP_CDEV_MMAP] = 3, [OP_CONFIG_WRITE] = 4,
	// Each transfer waits on QEMU's edu, which runs it from a 100 ms timer: few of them.
	[OP_EDU_DMA] = 1,
	[OP_DMABUF] = 4,
	[OP_FAULTING_WRITE] = 2,
};

static struct call generate(void)
{
	struct call c = { 0 };
	int total = 0;
	for (int i = 0; i < OP_COUNT; i++)
		total += weight[i];
	int pick = (int)below(total);
	for (c.op = 0; pick >= weight[c.op]; c.op++)
		pick -= weight[c.op];
	for (int i = 0; i < NARGS; i++)
		c.a[i] = rnd();
	uint64_t r = below(100);
	c.argkind = r < 80 ? 0 : (int)(1 + below(7));
	r = below(100);
	c.sizekind = r < 85 ? 0 : (int)(1 + below(4));
	return c;
}

#define SIZED(var, exact, min) size_field(c, &(var).size, exact, min)

static void run_call(const struct call *c)
{
	const uint64_t *a = c->a;
	switch (c->op) {
	case OP_IOAS_ALLOC: {
		struct iommu_ioas_alloc x = { .flags = a[0] % 16 == 0 ? 1 : 0 };
		SIZED(x, sizeof(x), 12);
		if (do_ioctl(c, "ioas_alloc", IOMMU_IOAS_ALLOC, &x, sizeof(x), -1, -1) == 0)
			remember_kind(K_IOAS, x.out_ioas_id);
		break;
	}
	case OP_DESTROY: {
		struct iommu_destroy x = { .id = id_of(a[0]) };
		if (nattached_pasids && detach_pasids(x.id, 0))
			emit("  pasids detached first");
		SIZED(x, sizeof(x), 8);
		do_ioctl(c, "destroy", IOMMU_DESTROY, &x, sizeof(x), -1, -1);
		break;
	}
	case OP_IOAS_MAP: {
		struct iommu_ioas_map x = {
			.flags = a[0] % 8 == 0 ? (uint32_t)(a[0] >> 3) : (uint32_t)(a[0] >> 3) % 8,
			.ioas_id = id_of(a[1]), .user_va = user_address(a[2]), .length = length_of(a[3]), .iova = iova_of(a[4]),
		};
		SIZED(x, sizeof(x), 40);
		if (do_ioctl(c, "ioas_map", IOMMU_IOAS_MAP, &x, sizeof(x), -1, -1) == 0)
			note_mapped(x.iova, x.ioas_id);
		break;
	}
	case OP_MAP_FILE: {
		int file = a[2] % 4 ? memfd : fd_of(a[2] >> 2);
		// A dma-buf of a BAR, when the stream exported one (OP_DMABUF, --device only).
		if (ndmabufs && a[2] % 4 == 1)
			file = dmabufs[(a[2] >> 2) % ndmabufs];
		// Never a group: an area keeps its file, and a group whose file sits in an IOAS of the iommufd
		// the group holds (VFIO_GROUP_SET_CONTAINER with an iommufd) is a reference cycle the kernel
		// never breaks: the group stays open after the process exits and every later seed's group
		// open is EBUSY. An engine ends with its process; the kernel's leak would outlive it.
		for (int i = 0; i < ngroups; i++)
			if (groups[i] == file)
				file = memfd;
		struct iommu_ioas_map_file x = {
			.flags = (uint32_t)(a[0] % 8), .ioas_id = id_of(a[1]), .fd = file,
			.start = a[3] % 4 ? ((a[3] >> 2) % 16) * PAGE : (a[3] >> 2) % (64 * PAGE), .length = length_of(a[4]),
			.iova = iova_of(a[5]),
		};
		// A dma-buf holds a few pages: mostly the first one or two of it.
		if (verbose && is_dmabuf(file))
			fprintf(stderr, "%d map_file of a dma-buf\n", call_index);
		if (is_dmabuf(file) && a[6] % 4) {
			x.start = 0;
			x.length = (1 + a[6] % 2) * PAGE;
		}
		SIZED(x, sizeof(x), 40);
		if (do_ioctl(c, "ioas_map_file", IOMMU_IOAS_MAP_FILE, &x, sizeof(x), -1, 12) == 0) {
			if (is_dmabuf(file))
				note_peer(x.iova, x.length);
			else
				note_mapped(x.iova, x.ioas_id);
		}
		break;
	}
	case OP_IOAS_UNMAP: {
		struct iommu_ioas_unmap x = { .ioas_id = id_of(a[0]), .iova = iova_of(a[1]), .length = a[2] % 8 == 0 ? ~0ULL : length_of(a[2]) };
		if (a[3] % 8 == 0) {
			x.iova = 0;
			x.length = ~0ULL;
		}
		SIZED(x, sizeof(x), 24);
		do_ioctl(c, "ioas_unmap", IOMMU_IOAS_UNMAP, &x, sizeof(x), -1, -1);
		break;
	}
	case OP_IOAS_COPY: {
		struct iommu_ioas_copy x = {
			.flags = (uint32_t)(a[0] % 16), .dst_ioas_id = id_of(a[1]), .src_ioas_id = id_of(a[2]),
			.length = length_of(a[3]), .dst_iova = iova_of(a[4]), .src_iova = iova_of(a[5]),
		};
		SIZED(x, sizeof(x), 40);
		if (do_ioctl(c, "ioas_copy", IOMMU_IOAS_COPY, &x, sizeof(x), -1, -1) == 0) {
			if (overlaps_peer(x.src_iova, x.length))
				note_peer(x.dst_iova, x.length);
			else
				note_mapped(x.dst_iova, x.dst_ioas_id);
		}
		break;
	}
	case OP_IOVA_RANGES: {
		size_t len;
		uint64_t out = out_pointer(a[2], &len);
		struct iommu_ioas_iova_ranges x = { .ioas_id = id_of(a[0]), .num_iovas = (uint32_t)(a[1] % 6), .allowed_iovas = out };
		SIZED(x, sizeof(x), 32);
		do_ioctl(c, "iova_ranges", IOMMU_IOAS_IOVA_RANGES, &x, sizeof(x), -1, -1);
		emit_out("ranges", out, 6 * 16);
		break;
	}
	case OP_ALLOW_IOVAS: {
		uint64_t *ranges = (uint64_t *)(AT(DATA2_PAGE));
		uint32_t n = (uint32_t)(a[1] % 4);
		for (uint32_t i = 0; i < n; i++) {
			ranges[2 * i] = iova_of(a[2 + i]);
			ranges[2 * i + 1] = a[2 + i] % 4 ? ranges[2 * i] + length_of(a[5]) - 1 : iova_of(a[5]);
		}
		struct iommu_ioas_allow_iovas x = { .ioas_id = id_of(a[0]), .num_iovas = n, .allowed_iovas = a[6] % 8 ? (uint64_t)ranges : user_address(a[6] >> 3) };
		SIZED(x, sizeof(x), 24);
		do_ioctl(c, "allow_iovas", IOMMU_IOAS_ALLOW_IOVAS, &x, sizeof(x), -1, -1);
		break;
	}
	case OP_OPTION: {
		struct iommu_option x = {
			.option_id = (uint32_t)(a[0] % 3), .op = (uint16_t)(a[1] % 3), .object_id = a[2] % 3 ? id_of(a[2]) : 0,
			.val64 = a[3] % 4,
		};
		SIZED(x, sizeof(x), 24);
		do_ioctl(c, "option", IOMMU_OPTION, &x, sizeof(x), -1, -1);
		break;
	}
	case OP_VFIO_IOAS: {
		struct iommu_vfio_ioas x = { .ioas_id = id_of(a[0]), .op = (uint16_t)(a[1] % 4) };
		SIZED(x, sizeof(x), 12);
		do_ioctl(c, "vfio_ioas", IOMMU_VFIO_IOAS, &x, sizeof(x), -1, -1);
		break;
	}
	case OP_HWPT_ALLOC: {
		struct iommu_hwpt_alloc x = {
			.flags = a[0] % 4 ? (uint32_t)(a[0] % 8) : (uint32_t)(a[0] >> 2) % 64, .dev_id = id_of(a[1]),
			.pt_id = id_of(a[2]), .data_type = a[3] % 4 == 0 ? (uint32_t)(a[3] >> 2) % 4 : 0,
			.data_len = a[4] % 4 == 0 ? (uint32_t)(a[4] >> 2) % 32 : 0, .data_uptr = a[4] % 4 == 0 ? user_address(a[5]) : 0,
			.fault_id = id_of(a[6]),
		};
		SIZED(x, sizeof(x), 24);
		if (do_ioctl(c, "hwpt_alloc", IOMMU_HWPT_ALLOC, &x, sizeof(x), -1, -1) == 0) {
			remember_kind(K_HWPT, x.out_hwpt_id);
			if (x.flags & IOMMU_HWPT_ALLOC_PASID)
				remember_also(K_PCOMPAT, x.out_hwpt_id);
		}
		break;
	}
	case OP_HW_INFO: {
		size_t len;
		uint64_t out = out_pointer(a[2], &len);
		struct iommu_hw_info x = { .flags = (uint32_t)(a[0] % 4 == 0), .dev_id = id_of(a[1]), .data_len = (uint32_t)(a[3] % 64), .data_uptr = out };
		SIZED(x, sizeof(x), 32);
		do_ioctl(c, "hw_info", IOMMU_GET_HW_INFO, &x, sizeof(x), -1, -1);
		emit_out("data", out, 64);
		break;
	}
	case OP_DIRTY_TRACKING: {
		struct iommu_hwpt_set_dirty_tracking x = { .flags = (uint32_t)(a[0] % 3), .hwpt_id = id_of(a[1]) };
		SIZED(x, sizeof(x), 16);
		do_ioctl(c, "dirty_tracking", IOMMU_HWPT_SET_DIRTY_TRACKING, &x, sizeof(x), -1, -1);
		break;
	}
	case OP_DIRTY_BITMAP: {
		size_t len;
		uint64_t out = out_pointer(a[5], &len);
		struct iommu_hwpt_get_dirty_bitmap x = {
			.hwpt_id = id_of(a[0]), .flags = (uint32_t)(a[1] % 3), .iova = iova_of(a[2]), .length = length_of(a[3]),
			.page_size = a[4] % 4 ? PAGE : (a[4] >> 2) % 3 ? MOCK_PAGE_SIZE : 3, .data = out,
		};
		SIZED(x, sizeof(x), 48);
		do_ioctl(c, "dirty_bitmap", IOMMU_HWPT_GET_DIRTY_BITMAP, &x, sizeof(x), -1, -1);
		emit_out("bitmap", out, 256);
		break;
	}
	case OP_MOCK_DOMAIN: {
		struct iommu_test_cmd x = { .op = a[0] % 3 ? IOMMU_TEST_OP_MOCK_DOMAIN : IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, .id = id_of(a[1]) };
		x.mock_domain_flags.dev_flags = (uint32_t)(a[2] % 8);
		SIZED(x, sizeof(x), sizeof(x));
		if (do_ioctl(c, "mock_domain", IOMMU_TEST_CMD, &x, sizeof(x), -1, -1) == 0) {
			remember_kind(K_STDEV, x.mock_domain.out_stdev_id);
			remember_kind(K_HWPT, x.mock_domain.out_hwpt_id);
			remember_kind(K_DEV, x.mock_domain.out_idev_id);
			if (x.op == IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS && (x.mock_domain_flags.dev_flags & MOCK_FLAGS_DEVICE_PASID))
				remember_also(K_PSTDEV, x.mock_domain.out_stdev_id);
		}
		break;
	}
	case OP_DOMAIN_REPLACE: {
		struct iommu_test_cmd x = { .op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, .id = id_of(a[0]) };
		x.mock_domain_replace.pt_id = id_of(a[1]);
		SIZED(x, sizeof(x), sizeof(x));
		do_ioctl(c, "domain_replace", IOMMU_TEST_CMD, &x, sizeof(x), -1, -1);
		break;
	}
	case OP_ADD_RESERVED: {
		struct iommu_test_cmd x = { .op = IOMMU_TEST_OP_ADD_RESERVED, .id = id_of(a[0]) };
		x.add_reserved.start = iova_of(a[1]);
		x.add_reserved.length = length_of(a[2]);
		SIZED(x, sizeof(x), sizeof(x));
		do_ioctl(c, "add_reserved", IOMMU_TEST_CMD, &x, sizeof(x), -1, -1);
		break;
	}
	case OP_CREATE_ACCESS: {
		struct iommu_test_cmd x = { .op = IOMMU_TEST_OP_CREATE_ACCESS, .id = id_of(a[0]) };
		x.create_access.flags = (uint32_t)(a[1] % 3);
		SIZED(x, sizeof(x), sizeof(x));
		do_ioctl(c, "create_access", IOMMU_TEST_CMD, &x, sizeof(x), 16, -1);
		break;
	}
	case OP_ACCESS_PAGES: {
		struct iommu_test_cmd x = { .op = IOMMU_TEST_OP_ACCESS_PAGES, .id = (uint32_t)fd_of(a[0]) };
		x.access_pages.flags = (uint32_t)(a[1] % 3);
		x.access_pages.iova = iova_of(a[2]);
		x.access_pages.length = a[3] % 2 ? ((a[3] >> 1) % 4 + 1) * PAGE : length_of(a[3] >> 1);
		x.access_pages.uptr = user_address(a[4]);
		SIZED(x, sizeof(x), sizeof(x));
		if (do_ioctl(c, "access_pages", IOMMU_TEST_CMD, &x, sizeof(x), -1, 8) == 0)
			remember_id(x.access_pages.out_access_pages_id);
		break;
	}
	case OP_DESTROY_ACCESS_PAGES: {
		struct iommu_test_cmd x = { .op = IOMMU_TEST_OP_DESTROY_ACCESS_PAGES, .id = (uint32_t)fd_of(a[0]) };
		x.destroy_access_pages.access_pages_id = id_of(a[1]);
		SIZED(x, sizeof(x), sizeof(x));
		do_ioctl(c, "destroy_access_pages", IOMMU_TEST_CMD, &x, sizeof(x), -1, 8);
		break;
	}
	case OP_ACCESS_RW: {
		struct iommu_test_cmd x = { .op = IOMMU_TEST_OP_ACCESS_RW, .id = (uint32_t)fd_of(a[0]) };
		x.access_rw.iova = iova_of(a[1]);
		x.access_rw.length = (a[2] % 2) ? (a[2] >> 1) % (2 * PAGE) + 1 : length_of(a[2] >> 1);
		x.access_rw.uptr = a[3] % 4 ? (uint64_t)AT(DATA2_PAGE) : user_address(a[3] >> 2);
		x.access_rw.flags = (uint32_t)(a[4] % 8);
		SIZED(x, sizeof(x), sizeof(x));
		do_ioctl(c, "access_rw", IOMMU_TEST_CMD, &x, sizeof(x), -1, 8);
		emit("  data2=%016" PRIx64, fnv(1469598103934665603ULL, AT(DATA2_PAGE), 2 * PAGE));
		break;
	}
	case OP_CHECK_EXTENSION: {
		int fd = container_of(a[5]);
		long rc = ioctl(fd, VFIO_CHECK_EXTENSION, (unsigned long)(a[0] % 12));
		emit("check_extension%s(%" PRIu64 ") rc=%ld", container_name(fd), a[0] % 12, rc < 0 ? -(long)errno : rc);
		break;
	}
	case OP_SET_IOMMU: {
		int fd = container_of(a[5]);
		// With ABI_FUZZ_VFIO, half the calls ask for type1 or type1v2, so containers get a backend.
		uint64_t type = vfio_mode && a[6] % 2 ? (a[6] % 4 == 1 ? VFIO_TYPE1_IOMMU : VFIO_TYPE1v2_IOMMU) : a[0] % 12;
		long rc = ioctl(fd, VFIO_SET_IOMMU, (unsigned long)type);
		emit("set_iommu%s(%" PRIu64 ") rc=%ld", container_name(fd), type, rc < 0 ? -(long)errno : rc);
		break;
	}
	case OP_API_VERSION: {
		int fd = container_of(a[5]);
		long rc = ioctl(fd, VFIO_GET_API_VERSION);
		emit("api_version%s rc=%ld", container_name(fd), rc < 0 ? -(long)errno : rc);
		break;
	}
	case OP_COMPAT_INFO: {
		int fd = container_of(a[5]);
		char name[40];
		snprintf(name, sizeof(name), "compat_info%s", container_name(fd));
		uint8_t buf[512] = { 0 };
		struct vfio_iommu_type1_info *x = (void *)buf;
		x->argsz = a[0] % 2 ? (uint32_t)(a[0] >> 1) % 200 : sizeof(*x);
		size_t n = x->argsz < sizeof(buf) ? (x->argsz > 24 ? x->argsz : 24) : sizeof(buf);
		do_ioctl_on(fd, c, name, VFIO_IOMMU_GET_INFO, buf, n, -1, -1);
		break;
	}
	case OP_COMPAT_MAP: {
		int fd = container_of(a[5]);
		char name[40];
		snprintf(name, sizeof(name), "compat_map%s", container_name(fd));
		struct vfio_iommu_type1_dma_map x = {
			.argsz = a[0] % 8 ? sizeof(x) : (uint32_t)(a[0] >> 3) % 40, .flags = (uint32_t)(a[1] % 8),
			.vaddr = user_address(a[2]), .iova = iova_of(a[3]), .size = length_of(a[4]),
		};
		if (do_ioctl_on(fd, c, name, VFIO_IOMMU_MAP_DMA, &x, sizeof(x), -1, -1) == 0)
			note_mapped(x.iova, 0);
		break;
	}
	case OP_COMPAT_UNMAP: {
		int fd = container_of(a[5]);
		char name[40];
		snprintf(name, sizeof(name), "compat_unmap%s", container_name(fd));
		uint8_t buf[sizeof(struct vfio_iommu_type1_dma_unmap) + sizeof(struct vfio_bitmap)] = { 0 };
		struct vfio_iommu_type1_dma_unmap *x = (void *)buf;
		*x = (struct vfio_iommu_type1_dma_unmap){
			.argsz = a[0] % 8 ? sizeof(*x) : (uint32_t)(a[0] >> 3) % 40, .flags = a[1] % 4 ? 0 : (uint32_t)(a[1] >> 2) % 8,
			.iova = iova_of(a[2]), .size = length_of(a[3]),
		};
		size_t n = sizeof(*x);
		if (vfio_mode && a[6] % 4 == 0) {
			// A dirty bitmap after the struct (VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP's data).
			size_t len;
			struct vfio_bitmap *bitmap = (void *)(buf + sizeof(*x));
			bitmap->pgsize = a[7] % 4 ? PAGE : a[7] % 3 ? 2 * PAGE : 512;
			bitmap->data = (__u64 *)out_pointer(a[7] >> 2, &len);
			bitmap->size = (a[7] >> 16) % 4 ? len : (a[7] >> 18) % 64;
			x->argsz = a[0] % 8 ? sizeof(buf) : x->argsz;
			n = sizeof(buf);
		}
		do_ioctl_on(fd, c, name, VFIO_IOMMU_UNMAP_DMA, buf, n, -1, -1);
		if (n > sizeof(*x))
			emit_out("bitmap", (uint64_t)((struct vfio_bitmap *)(buf + sizeof(*x)))->data, 256);
		break;
	}
	case OP_CONTAINER_DIRTY: {
		// VFIO_IOMMU_DIRTY_PAGES: start, stop or a bitmap, with any flags and sizes.
		int fd = container_of(a[0]);
		char name[40];
		snprintf(name, sizeof(name), "container_dirty%s", container_name(fd));
		uint8_t buf[sizeof(struct vfio_iommu_type1_dirty_bitmap) + sizeof(struct vfio_iommu_type1_dirty_bitmap_get)] = { 0 };
		struct vfio_iommu_type1_dirty_bitmap *x = (void *)buf;
		struct vfio_iommu_type1_dirty_bitmap_get *get = (void *)(buf + sizeof(*x));
		static const uint32_t flags[] = { VFIO_IOMMU_DIRTY_PAGES_FLAG_START, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP,
						  VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP, VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP };
		x->flags = a[1] % 8 ? flags[(a[1] >> 3) % 4] : (uint32_t)(a[1] >> 3) % 16;
		size_t len;
		get->iova = iova_of(a[2]);
		get->size = length_of(a[3]);
		get->bitmap.pgsize = a[4] % 4 ? PAGE : a[4] % 3 ? 2 * PAGE : 512;
		get->bitmap.data = (__u64 *)out_pointer(a[5], &len);
		get->bitmap.size = (a[4] >> 2) % 4 ? len : (a[4] >> 4) % 64;
		x->argsz = a[6] % 8 ? (x->flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP ? sizeof(buf) : sizeof(*x)) : (uint32_t)(a[6] >> 3) % 48;
		do_ioctl_on(fd, c, name, VFIO_IOMMU_DIRTY_PAGES, buf, sizeof(buf), -1, -1);
		emit_out("bitmap", (uint64_t)get->bitmap.data, 256);
		break;
	}
	case OP_CONTAINER_OPEN: {
		int fd = open("/dev/vfio/vfio", a[0] % 4 ? O_RDWR | O_CLOEXEC : O_RDONLY | O_CLOEXEC);
		int rc = fd < 0 ? -errno : 0;
		if (fd >= 0 && ncontainers < POOL) {
			containers[ncontainers++] = fd;
			remember_fd(fd);
		}
		emit("container_open rc=%d c#%d", rc, fd >= 0 ? ncontainers - 1 : -1);
		break;
	}
	case OP_GROUP_OPEN: {
		int dev = device_of(a[0] >> 2);
		const char *group_path = group_paths[dev];
		int fd = group_path[0] ? open(group_path, a[0] % 4 ? O_RDWR | O_CLOEXEC : O_RDONLY | O_CLOEXEC) : -1;
		int rc = fd < 0 ? -errno : 0;
		if (fd >= 0 && ngroups < POOL) {
			groups[ngroups++] = fd;
			remember_fd(fd);
		}
		emit("group_open%s rc=%d g#%d", device_tag(dev), group_path[0] ? rc : -1000, fd >= 0 ? ngroups - 1 : -1);
		break;
	}
	case OP_GROUP_STATUS: {
		int fd = group_of(a[0]);
		struct vfio_group_status x = { .flags = a[1] % 4 ? 0 : (uint32_t)(a[1] >> 2) };
		size_field(c, &x.argsz, sizeof(x), 8);
		char name[32];
		snprintf(name, sizeof(name), "group_status(g#%d)", group_index(fd));
		do_ioctl_on(fd, c, name, VFIO_GROUP_GET_STATUS, &x, sizeof(x), -1, -1);
		break;
	}
	case OP_GROUP_SET_CONTAINER: {
		int fd = group_of(a[0]);
		int container;
		switch (a[1] % 8) {
		case 0: container = iommufd; break;
		case 1: container = memfd; break;
		case 2: container = a[1] % 16 < 8 ? -1 : 1000; break;
		default: container = ncontainers ? containers[(a[1] >> 3) % ncontainers] : iommufd; break;
		}
		char name[32];
		snprintf(name, sizeof(name), "group_set_container(g#%d)", group_index(fd));
		do_ioctl_on(fd, c, name, VFIO_GROUP_SET_CONTAINER, &container, sizeof(container), -1, 0);
		break;
	}
	case OP_GROUP_UNSET_CONTAINER: {
		int fd = group_of(a[0]);
		long rc = ioctl(fd, VFIO_GROUP_UNSET_CONTAINER);
		emit("group_unset_container(g#%d) rc=%ld", group_index(fd), rc < 0 ? -(long)errno : rc);
		break;
	}
	case OP_GROUP_DEVICE_FD: {
		// The device's name, another function's, an empty one, one with a VF token, or junk.
		int fd = group_of(a[0]);
		const char *device_name = device_names[device_of(a[1] >> 3)];
		char name_arg[128] = { 0 };
		switch (a[1] % 8) {
		case 0: snprintf(name_arg, sizeof(name_arg), "0000:00:1f.0"); break;
		case 1: break;
		case 2: snprintf(name_arg, sizeof(name_arg), "%.60s vf_token=9c3d1c4e-2f1a-4b55-8d0e-6b1f5a7c9e01", device_name); break;
		case 3: snprintf(name_arg, sizeof(name_arg), "%.60s ", device_name); break;
		default: snprintf(name_arg, sizeof(name_arg), "%.60s", device_name); break;
		}
		char name[32];
		snprintf(name, sizeof(name), "group_device_fd(g#%d)", group_index(fd));
		returns_fd = 1;
		do_ioctl_on(fd, c, name, VFIO_GROUP_GET_DEVICE_FD, name_arg, strlen(name_arg) + 1, -1, -1);
		returns_fd = 0;
		break;
	}
	case OP_JUNK: {
		// Any number near iommufd's and VFIO's, any direction and size bits, a small argument.
		uint32_t nr = 0x60 + (uint32_t)(a[0] % 0x48);
		uint32_t type = a[1] % 4 ? ';' : (uint32_t)(a[1] >> 2) % 256;
		uint32_t dir = a[2] % 4 ? 0 : (uint32_t)(a[2] >> 2) % 4;
		uint32_t size = dir ? (uint32_t)(a[3] % 64) : 0;
		unsigned long request = ((unsigned long)dir << 30) | ((unsigned long)size << 16) | (type << 8) | nr;
		uint8_t buf[64] = { 0 };
		uint32_t sz = (uint32_t)(a[4] % 80);
		memcpy(buf, &sz, 4);
		char name[48];
		snprintf(name, sizeof(name), "junk(0x%lx)", request);
		// A number that lands on FAULT_QUEUE_ALLOC or VEVENTQ_ALLOC returns an fd.
		int fd_at = request == IOMMU_FAULT_QUEUE_ALLOC ? 12 : request == IOMMU_VEVENTQ_ALLOC ? 24 : -1;
		do_ioctl(c, name, request, buf, sizeof(buf), fd_at, -1);
		break;
	}
	case OP_FAULT_ALLOC: {
		struct iommu_fault_alloc x = { .flags = a[0] % 8 == 0 };
		SIZED(x, sizeof(x), 16);
		if (do_ioctl(c, "fault_alloc", IOMMU_FAULT_QUEUE_ALLOC, &x, sizeof(x), 12, -1) == 0)
			remember_kind(K_FAULT, x.out_fault_id);
		break;
	}
	case OP_READ:
	case OP_WRITE: {
		// read or write an fd the calls made (fault queues, accesses) or iommufd itself, into any memory.
		int fd = a[0] % 3 ? fd_of(a[0] >> 2) : iommufd;
		// With --device, a read of a device fd now and then (never a write: its position starts in BAR0's registers):
		// read goes where the fd's position is, which only reads and writes move.
		int device = c->op == OP_READ && vfio_mode == 2 && ncdevs && a[3] % 8 == 7 ? (int)((a[3] >> 3) % (uint64_t)ncdevs) : -1;
		if (device >= 0)
			fd = cdevs[device];
		uint64_t buf = a[1] % 4 ? (uint64_t)AT(OUT_PAGE) : user_address(a[1] >> 2);
		size_t len = a[2] % 4 ? (size_t)(a[2] >> 2) % 256 : (size_t)(a[2] >> 2) % (64 * PAGE);
		if (c->op == OP_WRITE && a[3] % 2)
			memset(AT(OUT_PAGE), (int)(a[3] >> 1), 256);
		else if (c->op == OP_READ)
			memset(AT(OUT_PAGE), 0, 16 * PAGE);
		long rc = c->op == OP_READ ? read(fd, (void *)buf, len) : write(fd, (void *)buf, len);
		if (device >= 0)
			emit("read(cdev#%d, %zu) rc=%ld", device, len, rc < 0 ? -(long)errno : rc);
		else
			emit("%s(fd#%d, %zu) rc=%ld", c->op == OP_READ ? "read" : "write", fd == iommufd ? 99 : fd_index(fd), len, rc < 0 ? -(long)errno : rc);
		if (c->op == OP_READ)
			emit_out("read", (uint64_t)AT(OUT_PAGE), 256);
		break;
	}
	case OP_MMAP: {
		// mmap of iommufd (the vIOMMU's pages live at offsets it reports) or another fd, then unmapped.
		int fd = a[0] % 2 ? iommufd : fd_of(a[0] >> 1);
		size_t len = a[1] % 4 ? ((a[1] >> 2) % 4 + 1) * PAGE : (size_t)(a[1] >> 2) % (8 * PAGE);
		int prot = (int)(a[2] % 4);
		int flags = a[3] % 4 ? MAP_SHARED : MAP_PRIVATE;
		off_t off = a[4] % 2 ? (off_t)(((a[4] >> 1) % 8) * PAGE) : (off_t)(a[4] >> 1) % (1 << 20);
		void *p = mmap(NULL, len, prot, flags, fd, off);
		long rc = p == MAP_FAILED ? -(long)errno : 0;
		if (p != MAP_FAILED)
			munmap(p, len);
		emit("mmap(fd#%d, %zu, %d, %d, 0x%lx) rc=%ld", fd == iommufd ? 99 : fd_index(fd), len, prot, flags, (long)off, rc);
		break;
	}
	case OP_CDEV_OPEN: {
		int dev = device_of(a[0] >> 2);
		const char *cdev_path = cdev_paths[dev];
		int fd = cdev_path[0] ? open(cdev_path, a[0] % 4 ? O_RDWR | O_CLOEXEC : O_RDONLY | O_CLOEXEC) : -1;
		int rc = fd < 0 ? -errno : 0;
		if (verbose && fd >= 0)
			fprintf(stderr, "%d cdev fd %d\n", call_index, fd);
		if (fd >= 0 && ncdevs < POOL)
			cdevs[ncdevs++] = fd;
		emit("cdev_open%s rc=%d fd#%d", device_tag(dev), cdev_path[0] ? rc : -1000, fd >= 0 ? ncdevs - 1 : -1);
		break;
	}
	case OP_CDEV_BIND: {
		int fd = cdev_of(a[0]);
		struct vfio_device_bind_iommufd x = {
			.flags = a[1] % 4 ? 0 : (uint32_t)(a[1] >> 2) % 4, .iommufd = a[2] % 4 ? iommufd : a[2] % 8 == 4 ? memfd : -1,
		};
		size_field(c, &x.argsz, sizeof(x), 16);
		char name[32];
		snprintf(name, sizeof(name), "cdev_bind(fd#%d)", cdev_index(fd));
		long rc = do_ioctl_on(fd, c, name, VFIO_DEVICE_BIND_IOMMUFD, &x, sizeof(x), -1, 8);
		if (rc == 0)
			remember_id(x.out_devid);
		break;
	}
	case OP_CDEV_ATTACH: {
		int fd = cdev_of(a[0]);
		struct vfio_device_attach_iommufd_pt x = { .flags = a[1] % 4 ? 0 : (uint32_t)(a[1] >> 2) % 4, .pt_id = id_of(a[2]), .pasid = (uint32_t)(a[3] % 4) };
		size_field(c, &x.argsz, sizeof(x), 12);
		char name[32];
		snprintf(name, sizeof(name), "cdev_attach(fd#%d)", cdev_index(fd));
		do_ioctl_on(fd, c, name, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &x, sizeof(x), -1, -1);
		break;
	}
	case OP_CDEV_DETACH: {
		int fd = cdev_of(a[0]);
		struct vfio_device_detach_iommufd_pt x = { .flags = a[1] % 4 ? 0 : (uint32_t)(a[1] >> 2) % 4, .pasid = (uint32_t)(a[3] % 4) };
		size_field(c, &x.argsz, sizeof(x), 8);
		char name[32];
		snprintf(name, sizeof(name), "cdev_detach(fd#%d)", cdev_index(fd));
		do_ioctl_on(fd, c, name, VFIO_DEVICE_DETACH_IOMMUFD_PT, &x, sizeof(x), -1, -1);
		break;
	}
	case OP_CDEV_INFO: {
		int fd = cdev_of(a[0]);
		char name[40];
		switch (a[1] % 3) {
		case 0: {
			struct vfio_device_info x = { .flags = (uint32_t)(a[2] % 4 ? 0 : a[2] >> 2) };
			size_field(c, &x.argsz, sizeof(x), 16);
			snprintf(name, sizeof(name), "cdev_info(fd#%d)", cdev_index(fd));
			do_ioctl_on(fd, c, name, VFIO_DEVICE_GET_INFO, &x, sizeof(x), -1, -1);
			break;
		}
		case 1: {
			struct vfio_region_info x = { .index = (uint32_t)(a[2] % 4 ? a[2] % 12 : a[2] >> 2) };
			size_field(c, &x.argsz, sizeof(x), 16);
			snprintf(name, sizeof(name), "cdev_region_info(fd#%d)", cdev_index(fd));
			do_ioctl_on(fd, c, name, VFIO_DEVICE_GET_REGION_INFO, &x, sizeof(x), -1, -1);
			break;
		}
		default: {
			struct vfio_irq_info x = { .index = (uint32_t)(a[2] % 4 ? a[2] % 8 : a[2] >> 2) };
			size_field(c, &x.argsz, sizeof(x), 16);
			snprintf(name, sizeof(name), "cdev_irq_info(fd#%d)", cdev_index(fd));
			do_ioctl_on(fd, c, name, VFIO_DEVICE_GET_IRQ_INFO, &x, sizeof(x), -1, -1);
			break;
		}
		}
		break;
	}
	case OP_CDEV_RESET: {
		int fd = cdev_of(a[0]);
		long rc = ioctl(fd, VFIO_DEVICE_RESET);
		emit("cdev_reset(fd#%d) rc=%ld", cdev_index(fd), rc < 0 ? -(long)errno : rc);
		break;
	}
	case OP_CDEV_CONFIG: {
		// Config space (region 7) through pread/pwrite, at any offset and length, into or from the arena.
		int fd = cdev_of(a[0]);
		off_t off = ((off_t)VFIO_PCI_CONFIG_REGION_INDEX << 40) + (off_t)(a[1] % 4 ? a[1] % 256 : a[1] % 8192);
		size_t len = a[2] % 4 ? (size_t)(1 << (a[2] % 3)) << 1 : (size_t)(a[2] >> 2) % 300;
		uint8_t *buf = a[3] % 8 ? AT(OUT_PAGE) : (uint8_t *)user_address(a[3] >> 3);
		long rc;
		if (a[4] % 4 == 0) {
			// Writes only to the read-only id registers and the cache line size: nothing that moves the device.
			off = ((off_t)VFIO_PCI_CONFIG_REGION_INDEX << 40) + (a[5] % 2 ? 0 : 0x0c);
			memset(AT(OUT_PAGE), 0x5a, 64);
			rc = pwrite(fd, buf, len > 4 ? 4 : len, off);
		} else {
			memset(AT(OUT_PAGE), 0, 16 * PAGE);
			rc = pread(fd, buf, len, off);
		}
		if (rc < 0)
			rc = -errno;
		emit("cdev_config(fd#%d, %s, 0x%lx, %zu) rc=%ld", cdev_index(fd), a[4] % 4 == 0 ? "w" : "r", (long)(off & 0xffffffffff), len, rc);
		if (a[4] % 4 != 0 && rc > 0) {
			// The BARs' address bits are what the guest's firmware assigned (vfio-pci shows them); the
			// engine's functions were never placed. Their type bits stay in the digest. They are masked
			// wherever the read put them (the call wrote them, so the memory is writable): left in a
			// data page, a later call that reads that memory would see them (seed 1184 of the first
			// 4000-call --device run passed them to IOAS_ALLOW_IOVAS as a range's start).
			long base = (long)(off & 0xffffffffff);
			for (long i = 0; i < rc; i++) {
				long at = base + i;
				if ((at >= 0x10 && at < 0x28) || (at >= 0x30 && at < 0x34))
					buf[i] &= at % 4 ? 0 : at >= 0x30 ? 0x01 : 0x0f;
			}
			emit_out("config", (uint64_t)buf, (size_t)rc);
			if (verbose) {
				fprintf(stderr, "%d config:", call_index);
				for (long i = 0; i < rc; i++)
					fprintf(stderr, " %02x", buf[i]);
				fprintf(stderr, "\n");
			}
		}
		break;
	}
	case OP_CONFIG_WRITE: {
		// A write of random bytes anywhere vfio-pci's config virtualization decides what happens: the
		// command and status registers, the BARs (virtual), the ROM BAR, the interrupt line and pin,
		// BIST, edu's MSI capability at 0x40 and the bytes after it, and past config space; then the
		// register's aligned word read back.
		int fd = device_fd_of(a[0]);
		static const uint32_t bases[] = { 0x04, 0x04, 0x06, 0x0c, 0x10, 0x30, 0x3c, 0x40, 0x40, 0x50, 0x80, 0xfc, 0x100 };
		uint32_t at = bases[a[1] % 13] + (uint32_t)((a[1] >> 8) % (a[1] % 13 == 4 ? 24 : a[1] % 13 == 7 ? 14 : 4));
		size_t len = (size_t)1 << (a[2] % 3);
		if (a[2] % 16 == 15)
			len = 3;
		if (at >= 0x10 && at < 0x28) {
			// A whole BAR register, so what reads back is the value under the size mask, not the
			// address bits the guest's firmware assigned (the engine's functions were never placed).
			at &= ~3u;
			len = 4;
		}
		memcpy(AT(OUT_PAGE), &a[3], 8);
		off_t off = ((off_t)VFIO_PCI_CONFIG_REGION_INDEX << 40) + at;
		uint32_t back = 0;
		long rb, rc = write_read_back(fd, AT(OUT_PAGE), len, off, &back, &rb);
		emit("config_write(fd#%d, 0x%x, %zu, 0x%" PRIx64 ") rc=%ld read back rc=%ld 0x%08x", cdev_index(fd), at, len, a[3], rc, rb,
		     rb == 4 ? back : 0);
		break;
	}
	case OP_EVENTFD: {
		// a[0] % 2 == 0: one for ioeventfds; otherwise one for interrupts.
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		int io = a[0] % 2 == 0;
		if (fd >= 0 && io && nio_efds < POOL)
			io_efds[nio_efds++] = fd;
		else if (fd >= 0 && !io && nirq_efds < POOL)
			irq_efds[nirq_efds++] = fd;
		emit("eventfd(%s) rc=%d", io ? "io" : "irq", fd < 0 ? -errno : 0);
		break;
	}
	case OP_EVENTFD_READ: {
		// What loopback triggers signalled: the counter, which the read resets.
		if (!nirq_efds) {
			emit("eventfd_read rc=none");
			break;
		}
		int i = (int)(a[0] % nirq_efds);
		uint64_t value = 0;
		long rc = read(irq_efds[i], &value, sizeof(value));
		emit("eventfd_read(e#%d) rc=%ld value=%" PRIu64, i, rc < 0 ? -(long)errno : rc, value);
		break;
	}
	case OP_SET_IRQS: {
		int fd = device_fd_of(a[0]);
		static const uint32_t types[] = { VFIO_IRQ_SET_DATA_NONE, VFIO_IRQ_SET_DATA_BOOL, VFIO_IRQ_SET_DATA_EVENTFD,
						  VFIO_IRQ_SET_DATA_EVENTFD };
		static const uint32_t actions[] = { VFIO_IRQ_SET_ACTION_MASK, VFIO_IRQ_SET_ACTION_UNMASK, VFIO_IRQ_SET_ACTION_TRIGGER,
						    VFIO_IRQ_SET_ACTION_TRIGGER };
		struct {
			struct vfio_irq_set h;
			uint8_t data[64];
		} x;
		memset(&x, 0, sizeof(x));
		x.h.flags = a[1] % 8 ? types[(a[1] >> 3) % 4] | actions[(a[1] >> 5) % 4] : (uint32_t)(a[1] >> 3) % 64 | (a[1] % 16 ? 0 : 1U << (a[1] >> 10) % 32);
		// Mostly INTx, MSI and REQ, which edu has; MSI-X and ERR, which it has not, and past the last.
		static const uint32_t indexes[] = { 0, 0, 1, 1, 1, 4, 2, 3 };
		x.h.index = a[2] % 8 < 7 ? indexes[(a[2] >> 3) % 8] : a[2] % 16 == 7 ? UINT32_MAX : 5 + (uint32_t)(a[2] >> 4) % 4;
		x.h.start = a[3] % 8 ? 0 : a[3] % 16 == 8 ? UINT32_MAX - (uint32_t)(a[3] >> 8) % 4 : (uint32_t)(a[3] >> 4) % 4;
		switch (a[4] % 8) {
		case 6: x.h.count = (uint32_t)(a[4] >> 3) % 17; break;
		case 7: x.h.count = UINT32_MAX - (uint32_t)(a[4] >> 8) % 4; break;
		default: x.h.count = (uint32_t)(a[4] >> 3) % 8 == 7 ? 2 : (uint32_t)(a[4] >> 3) % 8 >= 5 ? 0 : 1; break;
		}
		uint32_t element = (x.h.flags & VFIO_IRQ_SET_DATA_TYPE_MASK) == VFIO_IRQ_SET_DATA_BOOL ? 1
				   : (x.h.flags & VFIO_IRQ_SET_DATA_TYPE_MASK) == VFIO_IRQ_SET_DATA_EVENTFD ? 4 : 0;
		uint32_t n = x.h.count < 16 ? x.h.count : 16;
		for (uint32_t i = 0; i < 16; i++) {
			if (element == 4)
				((int32_t *)x.data)[i] = irq_fd_of(a[5] >> (i % 8 * 8) ^ i);
			else
				x.data[i] = (uint8_t)(a[5] >> (i * 4) & 1);
		}
		x.h.argsz = vfio_argsz(c, (uint32_t)sizeof(x.h) + element * n, (uint32_t)sizeof(x.h));
		char name[40];
		snprintf(name, sizeof(name), "set_irqs(fd#%d)", cdev_index(fd));
		digest_limit = sizeof(x.h);  // the fds after the head are numbers of this process
		do_ioctl_on(fd, c, name, VFIO_DEVICE_SET_IRQS, &x, sizeof(x.h) + 16 * 4, -1, -1);
		break;
	}
	case OP_FEATURE: {
		int fd = device_fd_of(a[0]);
		struct {
			struct vfio_device_feature h;
			uint64_t data[8];
		} x;
		memset(&x, 0, sizeof(x));
		uint32_t feature = a[1] % 4 ? (uint32_t)(a[1] >> 2) % 13 : (uint32_t)(a[1] >> 2) % 0x10000;
		uint32_t ops = a[2] % 8 ? (uint32_t)(a[2] >> 3) % 8 << 16 : (uint32_t)(a[2] >> 3) % 64 << 16;
		// Low power entered for real lets the guest runtime-suspend the device, which masks INTx in its
		// command register and, with a wakeup eventfd, leaves low power again on the next ioctl: when
		// depends on the guest's timing. An entry is only ever probed.
		if (feature == VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY && (ops & VFIO_DEVICE_FEATURE_SET))
			ops |= VFIO_DEVICE_FEATURE_PROBE;
		x.h.flags = feature | ops;
		for (int i = 0; i < 8; i++)
			x.data[i] = a[4] % 2 ? 0 : a[4] * (uint64_t)(i + 1);
		// The wakeup eventfd (LOW_POWER_ENTRY_WITH_WAKEUP's first word): never a live eventfd, as above.
		static const int32_t wakeups[] = { -1, -5, 1000 };
		int32_t wakeup = a[3] % 4 == 0 ? memfd : a[3] % 4 == 1 ? iommufd : wakeups[(a[3] >> 2) % 3];
		memcpy(&x.data[0], &wakeup, sizeof(wakeup));
		uint32_t length = (uint32_t)(a[5] % 8) * 8;
		x.h.argsz = vfio_argsz(c, (uint32_t)sizeof(x.h) + length, (uint32_t)sizeof(x.h));
		char name[40];
		snprintf(name, sizeof(name), "feature(fd#%d)", cdev_index(fd));
		do_ioctl_on(fd, c, name, VFIO_DEVICE_FEATURE, &x, sizeof(x), -1, 8);
		break;
	}
	case OP_HOT_RESET: {
		int fd = device_fd_of(a[0]);
		char name[40];
		if (a[1] % 2) {
			struct {
				struct vfio_pci_hot_reset_info h;
				struct vfio_pci_dependent_device devices[4];
			} x;
			memset(&x, 0, sizeof(x));
			x.h.flags = a[2] % 4 ? 0 : (uint32_t)(a[2] >> 2);
			x.h.count = a[3] % 4 ? 0 : (uint32_t)(a[3] >> 2) % 8;
			x.h.argsz = vfio_argsz(c, (uint32_t)sizeof(x.h) + (uint32_t)(a[4] % 5) * (uint32_t)sizeof(x.devices[0]), (uint32_t)sizeof(x.h));
			snprintf(name, sizeof(name), "hot_reset_info(fd#%d)", cdev_index(fd));
			do_ioctl_on(fd, c, name, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &x, sizeof(x), -1, -1);
		} else {
			struct {
				struct vfio_pci_hot_reset h;
				int32_t fds[4];
			} x;
			memset(&x, 0, sizeof(x));
			x.h.flags = a[2] % 4 ? 0 : (uint32_t)(a[2] >> 2);
			x.h.count = a[3] % 4 ? (uint32_t)(a[3] >> 2) % 3 : (uint32_t)(a[3] >> 2);
			for (int i = 0; i < 4; i++)
				x.fds[i] = (a[5] >> (8 * i)) % 4 == 0 ? iommufd : (a[5] >> (8 * i)) % 4 == 1 ? -1 : group_of(a[5] >> (8 * i + 2));
			x.h.argsz = vfio_argsz(c, (uint32_t)sizeof(x.h) + 4 * (x.h.count < 4 ? x.h.count : 4), (uint32_t)sizeof(x.h));
			snprintf(name, sizeof(name), "hot_reset(fd#%d)", cdev_index(fd));
			digest_limit = sizeof(x.h);
			do_ioctl_on(fd, c, name, VFIO_DEVICE_PCI_HOT_RESET, &x, sizeof(x), -1, -1);
		}
		break;
	}
	case OP_IOEVENTFD: {
		int fd = device_fd_of(a[0]);
		struct vfio_device_ioeventfd x = { 0 };
		x.flags = a[1] % 8 ? 1U << (a[1] >> 3) % 4 : (uint32_t)(a[1] >> 3) % 64;
		uint64_t index = a[2] % 8 < 6 ? 0 : (a[2] >> 3) % 10;
		uint64_t pos = a[3] % 8 ? ((a[3] >> 3) % 8) * 4 : a[3] % 16 == 8 ? (1 << 20) - (a[3] >> 4) % 8 : (a[3] >> 4) % (1 << 21);
		x.offset = index << 40 | pos;
		x.data = a[4] % 4 ? (a[4] >> 2) % 3 : a[4];
		if (a[5] % 8 < 5 && nio_efds)
			x.fd = io_efds[(a[5] >> 3) % nio_efds];
		else
			x.fd = a[5] % 8 == 5 ? -1 : a[5] % 8 == 6 ? -2 - (int32_t)(a[5] >> 8) % 4 : a[5] % 16 == 7 ? memfd : 1000;
		x.reserved = a[6] % 8 == 1 ? 1 : 0;
		size_field(c, &x.argsz, sizeof(x), 28);
		char name[40];
		snprintf(name, sizeof(name), "ioeventfd(fd#%d)", cdev_index(fd));
		do_ioctl_on(fd, c, name, VFIO_DEVICE_IOEVENTFD, &x, sizeof(x), -1, 24);
		break;
	}
	case OP_CDEV_MMAP: {
		// An mmap of a device fd as vfio_pci_core_mmap checks it: edu's 1 MiB BAR0 from any page, or
		// past its end, absent BARs, the ROM, config space, VGA, past the last region; shared or
		// private. Unmapped at once and never touched (with memory decoding off a touch is SIGBUS).
		int fd = device_fd_of(a[0]);
		static const uint64_t regions[] = { 0, 0, 0, 0, 1, 5, 6, 7, 8, 9 };
		static const uint64_t pages[] = { 0, 1, 2, 255, 256 };
		static const size_t lengths[] = { PAGE, 2 * PAGE, 100, 256 * PAGE, 257 * PAGE, 0 };
		uint64_t index = regions[a[1] % 10];
		uint64_t at = pages[a[2] % 5] * PAGE + (a[2] % 7 == 0 ? 0x10 : 0);
		size_t len = lengths[a[3] % 6];
		int prot = a[4] % 4 == 0 ? PROT_READ : PROT_READ | PROT_WRITE;
		int flags = a[5] % 5 == 0 ? MAP_PRIVATE : MAP_SHARED;
		void *p = mmap(NULL, len, prot, flags, fd, (off_t)(index << 40 | at));
		long rc = p == MAP_FAILED ? -(long)errno : 0;
		if (p != MAP_FAILED)
			munmap(p, len);
		emit("cdev_mmap(fd#%d) region %" PRIu64 " +0x%" PRIx64 " %zu prot %d flags %d rc=%ld", cdev_index(fd), index, at, len, prot,
		     flags, rc);
		break;
	}
	case OP_CDEV_BAR: {
		// Regions other than config space through pread/pwrite: edu's BAR0 read anywhere (its MMIO
		// answers ~0 to what it does not know), written only at the liveness register and where nothing
		// is (nothing that computes, interrupts or starts DMA); the ROM, absent BARs, VGA, past the last.
		int fd = device_fd_of(a[0]);
		static const uint64_t reads[] = { 0x00, 0x04, 0x08, 0x20, 0x24, 0x80, 0x88, 0x90, 0x98, 0x40000, 0xffff8, 0xffffc, 0x100000, 0x3 };
		static const uint64_t writes[] = { 0x04, 0x04, 0x04, 0x40000, 0xffffc, 0x100000 };
		static const size_t lengths[] = { 4, 4, 1, 2, 8, 3, 16, 0, 64 };
		static const uint64_t regions[] = { 0, 0, 0, 0, 0, 1, 5, 6, 8, 9 };
		int write = a[4] % 4 == 0;
		uint64_t index = regions[(a[1] >> 1) % 10];
		uint64_t at = write ? writes[a[2] % 6] : reads[a[2] % 14];
		size_t len = lengths[a[3] % 9];
		if (write && at == 0x04 && len > 4)
			len = 4;  // 0x08 is the factorial register
		uint8_t *buf = a[5] % 8 ? AT(OUT_PAGE) : (uint8_t *)user_address(a[5] >> 3);
		off_t off = (off_t)(index << 40 | at);
		long rc;
		if (write) {
			memset(AT(OUT_PAGE), (int)(a[6] % 256), 64);
			rc = pwrite(fd, buf, len, off);
		} else {
			memset(AT(OUT_PAGE), 0, 16 * PAGE);
			rc = pread(fd, buf, len, off);
		}
		if (rc < 0)
			rc = -errno;
		char name[40];
		snprintf(name, sizeof(name), "cdev_bar(fd#%d)", cdev_index(fd));
		emit("%s %s region %" PRIu64 " +0x%" PRIx64 " %zu rc=%ld", name, write ? "w" : "r", index, at, len, rc);
		if (!write && rc > 0) {
			emit_out("bar", (uint64_t)buf, (size_t)rc);
			if (verbose && buf >= AT(OUT_PAGE) && buf + rc <= AT(OUT_PAGE + 16)) {
				fprintf(stderr, "%d bar:", call_index);
				for (long i = 0; i < rc; i++)
					fprintf(stderr, " %02x", buf[i]);
				fprintf(stderr, "\n");
			}
		}
		break;
	}
	case OP_EDU_DMA: {
		// One edu transfer between the device buffer and memory through the IOMMU: what the stream's
		// maps, copies, unmaps, attaches and detaches left the device able to reach, and the command
		// register's bus master bit (set first with memory decoding, mostly). QEMU runs the transfer
		// from a timer, so the command register is polled until its run bit clears (the engine's is
		// clear at once). Then a digest of the arena's and the memfd's pages, which a transfer into
		// memory may have written.
		int fd = device_fd_of(a[0]);
		// The guest's QEMU (7.2) aborts on a transfer of nothing, or one that reaches the buffer's last
		// byte (edu_check_range's off-by-one): every transfer stays within its first 4095 bytes.
		static const uint64_t counts[] = { 1, 8, 100, 0x800, 0xfff, 0xfff };
		static const uint64_t offsets[] = { 0, 0, 0x10, 0x800, 0xff8 };
		// Mostly into memory: what a transfer into the buffer read shows only when one copies it out.
		int to_ram = a[1] % 3 != 0;
		int target = a[2] % 4 && nmapped ? (int)((a[2] >> 2) % nmapped) : -1;
		uint64_t ram = (target >= 0 ? mapped[target].iova : iova_of(a[2] >> 2)) + ((a[2] >> 40) % 3 == 0 ? (a[2] >> 44) % (2 * PAGE) : 0);
		// Within edu's 28-bit DMA mask: the guest's QEMU (7.2) prints a line on its console, which is
		// the transcript, for every address it clamps.
		ram &= (1ULL << 28) - 1;
		uint64_t off = offsets[a[3] % 5];
		uint64_t cnt = counts[(a[3] >> 8) % 6];
		if (off + cnt > 0xfff)
			cnt = 0xfff - off;
		if (overlaps_peer(ram, cnt)) {
			emit("edu_dma(fd#%d) ram 0x%" PRIx64 " count 0x%" PRIx64 ": not run, a dma-buf may be mapped there", cdev_index(fd), ram, cnt);
			break;
		}
		// Mostly, the device is first attached to the IOAS the aimed-at map went to.
		long attached = 0;
		if (target >= 0 && mapped[target].ioas && a[5] % 4) {
			struct vfio_device_attach_iommufd_pt x = { .argsz = sizeof(x), .pt_id = mapped[target].ioas };
			attached = ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &x) < 0 ? -errno : 1;
		}
		// PCI_COMMAND_MEMORY (random config writes often clear it) and PCI_COMMAND_MASTER.
		long master = a[4] % 4 ? set_command_bits(fd, 6) : 0;
		uint64_t before = memory_digest();
		uint64_t regs[4] = { to_ram ? 0x40000 + off : ram, to_ram ? ram : 0x40000 + off, cnt, 1 | (uint64_t)to_ram << 1 };
		uint64_t command;
		long rc = edu_transfer(fd, regs, &command);
		uint64_t after = memory_digest();
		emit("edu_dma(fd#%d) %s ram 0x%" PRIx64 " buffer +0x%" PRIx64 " count 0x%" PRIx64 " attach rc=%ld master rc=%ld rc=%ld %s memory %s %016" PRIx64,
		     cdev_index(fd), to_ram ? "to memory" : "from memory", ram, off, cnt, attached, master, rc,
		     rc < 0 ? "-" : command & 1 ? "running" : "done", after == before ? "unchanged" : "written", after);
		break;
	}
	case OP_DMABUF: {
		// VFIO_DEVICE_FEATURE_DMA_BUF: mostly a GET of one page-aligned range of BAR0 (edu's 1 MiB of
		// registers), sometimes other BARs, several ranges, none, flags, or ranges that are unaligned,
		// empty, past the BAR or wrapping; the ranges are read by their count whatever argsz says. A new
		// fd joins the pool, and MAP_FILE maps it now and then.
		if (ndmabufs && a[1] % 16 == 15) {
			// Now and then a dma-buf's own ioctl instead (dma_buf_ioctl): SYNC with any flags, SET_NAME
			// with a name of up to 40 bytes, or another number of its type.
			int buf = dmabufs[(a[2] >> 8) % ndmabufs];
			uint64_t sync = a[3] % 16;
			char text[48];
			size_t length = (size_t)(a[4] % 41);
			memset(text, 'n', length);
			text[length] = 0;
			unsigned long request = a[2] % 3 == 0 ? DMA_BUF_IOCTL_SYNC : a[2] % 3 == 1 ? DMA_BUF_SET_NAME_B : _IOC((a[5] % 4), 'b', (a[5] >> 2) % 8, (a[5] >> 5) % 16);
			void *arg = a[6] % 8 == 0 ? NULL : request == DMA_BUF_IOCTL_SYNC ? (void *)&sync : (void *)text;
			long rc = ioctl(buf, request, arg) < 0 ? -errno : 0;
			emit("dmabuf#%d ioctl 0x%lx rc=%ld", (int)((a[2] >> 8) % ndmabufs), request, rc);
			break;
		}
		int fd = device_fd_of(a[0]);
		struct {
			struct vfio_device_feature h;
			struct vfio_device_feature_dma_buf d;
			struct vfio_region_dma_range r[4];
		} x;
		memset(&x, 0, sizeof(x));
		uint32_t ops = a[1] % 8 ? VFIO_DEVICE_FEATURE_GET : (uint32_t)(a[1] >> 3) % 8 << 16;
		x.h.flags = VFIO_DEVICE_FEATURE_DMA_BUF | ops;
		x.d.region_index = a[2] % 4 ? 0 : (uint32_t)(a[2] >> 2) % 8;
		// Mostly read-write; now and then read-only, write-only, neither (3), or without O_CLOEXEC.
		static const uint32_t modes[] = { O_RDWR | O_CLOEXEC, O_RDONLY | O_CLOEXEC, O_WRONLY, 3, O_RDWR | O_NONBLOCK };
		x.d.open_flags = a[2] % 8 < 4 ? modes[0] : modes[(a[2] >> 3) % 5];
		x.d.flags = a[2] % 32 == 1 ? (uint32_t)(a[2] >> 8) | 1 : 0;
		uint32_t kind = (uint32_t)(a[3] % 16);
		x.d.nr_ranges = kind < 11 ? 1 : kind < 14 ? 2 + (uint32_t)(a[3] >> 4) % 3 : kind == 14 ? 0 : 0x40001 + (uint32_t)(a[3] >> 4) % 0x100000;
		for (int i = 0; i < 4; i++) {
			uint64_t r = a[4 + i] ^ (a[3] >> (8 * i));
			switch (r % 16) {
			case 0: x.r[i].offset = (r >> 4) % 0x200000; break;          // anywhere, mostly unaligned
			case 1: x.r[i].offset = 0xfffffffffffff000ULL; break;         // wraps
			case 2: x.r[i].offset = 0x100000 - PAGE * ((r >> 4) % 2); break;  // at the BAR's end
			default: x.r[i].offset = ((r >> 4) % 256) * PAGE; break;
			}
			switch ((r >> 24) % 16) {
			case 0: x.r[i].length = 0; break;
			case 1: x.r[i].length = (r >> 28) % 0x3000; break;
			case 2: x.r[i].length = 0x8000000000000000ULL; break;
			default: x.r[i].length = (1 + (r >> 28) % 16) * PAGE; break;
			}
		}
		uint32_t shown = x.d.nr_ranges < 4 ? x.d.nr_ranges : 4;
		x.h.argsz = vfio_argsz(c, (uint32_t)(sizeof(x.h) + sizeof(x.d) + sizeof(x.r[0]) * shown), (uint32_t)sizeof(x.h));
		char name[40];
		snprintf(name, sizeof(name), "dmabuf(fd#%d)", cdev_index(fd));
		returns_dmabuf = !(ops & VFIO_DEVICE_FEATURE_PROBE);
		long rc = do_ioctl_on(fd, c, name, VFIO_DEVICE_FEATURE, &x, sizeof(x), -1, -1);
		returns_dmabuf = 0;
		// Mostly, a new buffer's first page is mapped into an IOAS at once.
		if (rc >= 2000 && a[1] % 4) {
			struct iommu_ioas_map_file m = {
				.size = sizeof(m), .flags = a[6] % 4 ? 7 : (uint32_t)(a[6] % 8), .ioas_id = id_of(a[5]),
				.fd = dmabufs[rc - 2000], .length = a[6] % 8 == 1 ? 3 * PAGE : PAGE, .iova = iova_of(a[5] >> 8),
			};
			long mapped_rc = ioctl(iommufd, IOMMU_IOAS_MAP_FILE, &m) < 0 ? -errno : 0;
			emit("dmabuf#%ld ioas_map_file iova 0x%" PRIx64 " rc=%ld", rc - 2000, (uint64_t)m.iova, mapped_rc);
			if (mapped_rc == 0)
				note_peer(m.iova, m.length);
		}
		break;
	}
	case OP_SEEK: {
		// lseek of a file the stream holds: none of iommufd's or VFIO's files has an llseek (ESPIPE), a
		// dma-buf only finds its end or its start, and a whence past SEEK_MAX is EINVAL before the file
		// is asked. The line names the kind of file, not its number (the engine's numbers differ).
		int kind = (int)(a[0] % 8);
		int fd = file_of_kind(kind, a[0] >> 3);
		static const int64_t offsets[] = { 0, 0, 1, -1, 4096, 0x10000000000LL, INT64_MIN };
		off_t off = (off_t)offsets[a[1] % 7];
		int whence = (int)(a[2] % 7);
		off_t rc = lseek(fd, off, whence);
		emit("lseek(kind %d, %ld, %d) rc=%ld", kind, (long)off, whence, rc < 0 ? -(long)errno : (long)rc);
		// And fstat: the inode's type and mode and its size (not the device numbers, dynamic on the kernel).
		struct stat st;
		int sr = fstat(fd, &st) < 0 ? -errno : 0;
		emit("fstat(kind %d) rc=%d mode 0%o size %lld", kind, sr, sr ? 0 : (unsigned)st.st_mode, sr ? 0LL : (long long)st.st_size);
		break;
	}
	case OP_FAULTING_WRITE: {
		// A config or BAR0 write whose buffer runs into the unmapped hole after 0 to len readable bytes:
		// vfio-pci copies piece by piece as it writes, so the pieces before the fault reach the device
		// and the call answers EFAULT. Config: the cache line size, its read-only neighbours and the
		// interrupt line; BAR0: edu's liveness register. Then the dword read back.
		int fd = device_fd_of(a[0]);
		static const uint32_t configs[] = { 0x0b, 0x0c, 0x0d, 0x0e, 0x3b, 0x3c, 0x3d };
		int bar = a[1] % 4 == 0;
		size_t len = 1 + (size_t)(a[2] % 4);
		size_t readable = (size_t)((a[2] >> 2) % (len + 1));
		uint8_t *buf = AT(HOLE_PAGE) - readable;
		memcpy(buf, &a[3], readable);
		off_t off = bar ? 0x04 : ((off_t)VFIO_PCI_CONFIG_REGION_INDEX << 40) + configs[(a[1] >> 2) % 7];
		uint32_t back = 0;
		long rb, rc = write_read_back(fd, buf, len, off, &back, &rb);
		emit("faulting_write(fd#%d, %s 0x%lx, %zu, %zu readable) rc=%ld read back rc=%ld 0x%08x", cdev_index(fd),
		     bar ? "bar0" : "config", (long)(off & 0xffffffffff), len, readable, rc, rb, rb == 4 ? back : 0);
		break;
	}
	case OP_DUP: {
		// dup, fcntl(F_DUPFD[_CLOEXEC]), dup2 or dup3 of a file the stream holds: the copy names the same
		// file, so closing either leaves it open, and joins the pool of its kind. dup2 and dup3 land on
		// another pooled fd (never the stream's iommufd), putting what it held; dup3 with a bad flag or
		// onto itself is EINVAL.
		int kind = (int)(a[0] % 8);
		int fd = file_of_kind(kind, a[0] >> 3);
		int how = (int)(a[1] % 6);
		int target = nfds ? fds[(a[2] >> 2) % nfds] : 200;
		// Free numbers below the engine's own (it keeps those at 256 and up; the kernel has none there).
		if (target == iommufd || target < 0)
			target = 200 + (int)(a[2] % 8);
		int rc;
		switch (how) {
		case 0: rc = dup(fd); break;
		case 1: rc = fcntl(fd, F_DUPFD, (int)(a[2] % 2 ? 0 : 500)); break;
		case 2: rc = fcntl(fd, F_DUPFD_CLOEXEC, 0); break;
		case 3: rc = dup2(fd, a[3] % 8 ? target : fd); break;
		default: rc = dup3(fd, a[3] % 8 ? target : fd, a[3] % 8 == 1 ? O_CLOEXEC | 1 : O_CLOEXEC); break;
		}
		int err = rc < 0 ? -errno : 0;
		if (rc >= 0 && rc != fd) {
			if (kind == 1 && vfio_mode && ncdevs < POOL)
				cdevs[ncdevs++] = rc;
			else if (kind == 2 && vfio_mode && ngroups < POOL)
				groups[ngroups++] = rc;
			else if (kind == 3 && vfio_mode && ncontainers < POOL)
				containers[ncontainers++] = rc;
			else if (kind == 4 && ndmabufs < POOL)
				dmabufs[ndmabufs++] = rc;
			remember_fd(rc);
		}
		emit("dup(kind %d, how %d) rc=%d", kind, how, rc < 0 ? err : rc == fd ? 1 : 0);
		break;
	}
	case OP_MAP_KIND: {
		// mmap of a file of each kind, executable now and then: do_mmap's checks (the access mode, then
		// an executable mapping of a file on a noexec filesystem, as anonymous inodes and dma-bufs are:
		// EPERM), then the file's own mmap or its lack (ENODEV). A device fd maps BAR0's first page.
		int kind = (int)(a[0] % 8);
		int fd = file_of_kind(kind, a[0] >> 3);
		int prot = (int)(a[1] % 8);
		static const int types[] = { MAP_SHARED, MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE };
		int flags = types[(a[1] >> 3) % 4];
		void *p = mmap(NULL, PAGE, prot, flags, fd, 0);
		long rc = p == MAP_FAILED ? -(long)errno : 0;
		if (p != MAP_FAILED)
			munmap(p, PAGE);
		emit("map_kind(kind %d, prot %d, flags %d) rc=%ld", kind, prot, flags, rc);
		break;
	}
	case OP_NESTED: {
		// IOMMU_HWPT_ALLOC as nesting uses it: a parent (NEST_PARENT on an IOAS, now and then with dirty
		// tracking), or a nested HWPT on a parent or a vIOMMU with the mock's data (struct
		// iommu_hwpt_selftest: the IOTLB's first value and the page table's type), its length short,
		// exact or longer with a zero or non-zero tail, other data types, any flags, a fault queue.
		uint8_t *data = AT(DATA2_PAGE + 8);
		memset(data, 0, 32);
		uint32_t iotlb = a[5] % 4 ? (uint32_t)(a[5] >> 2) % 4 : a[5] % 8 == 0 ? IOMMU_TEST_IOTLB_DEFAULT : (uint32_t)(a[5] >> 3);
		uint32_t pagetable = a[5] % 16 == 3 ? (uint32_t)(a[5] >> 8) % 3 : 0;
		memcpy(data, &iotlb, 4);
		memcpy(data + 4, &pagetable, 4);
		if (a[7] % 4 == 0)
			data[8 + (a[7] >> 2) % 8] = 1;
		int parent = a[0] % 4 == 0;
		uint32_t flags = parent ? IOMMU_HWPT_ALLOC_NEST_PARENT | (a[0] % 8 == 4 ? IOMMU_HWPT_ALLOC_DIRTY_TRACKING : 0) : 0;
		if (a[0] % 16 == 1)
			flags = (uint32_t)(a[0] >> 4) % 32;
		if (!parent && a[6] % 4 == 0)
			flags |= IOMMU_HWPT_FAULT_ID_VALID;
		if (parent && a[6] % 4 == 1)
			flags |= IOMMU_HWPT_ALLOC_PASID;
		static const uint32_t types[] = { IOMMU_HWPT_DATA_SELFTEST, IOMMU_HWPT_DATA_SELFTEST, IOMMU_HWPT_DATA_SELFTEST,
						  IOMMU_HWPT_DATA_SELFTEST, IOMMU_HWPT_DATA_NONE, IOMMU_HWPT_DATA_VTD_S1,
						  IOMMU_HWPT_DATA_SELFTEST + 1, IOMMU_HWPT_DATA_ARM_SMMUV3 };
		static const uint32_t lens[] = { 8, 8, 8, 8, 4, 0, 16, 12 };
		struct iommu_hwpt_alloc x = {
			.flags = flags, .dev_id = id_of_kind(K_DEV, a[1]),
			.pt_id = parent ? id_of_kind(K_IOAS, a[2]) : id_of_kind(a[2] % 2 ? K_VIOMMU : K_PARENT, a[2] >> 1),
			.data_type = parent && a[3] % 8 ? IOMMU_HWPT_DATA_NONE : types[a[3] % 8],
			.data_len = parent && a[3] % 8 ? 0 : lens[a[4] % 8],
			.data_uptr = parent && a[3] % 8 ? 0 : a[4] % 16 == 15 ? user_address(a[4] >> 4) : (uint64_t)data,
			.fault_id = id_of_kind(K_FAULT, a[6] >> 2),
		};
		SIZED(x, sizeof(x), 24);
		if (do_ioctl(c, parent ? "hwpt_alloc_parent" : "hwpt_alloc_nested", IOMMU_HWPT_ALLOC, &x, sizeof(x), -1, -1) == 0) {
			remember_kind(parent ? K_PARENT : K_NESTED, x.out_hwpt_id);
			if (parent)
				remember_built_on(parents, &nparents, x.out_hwpt_id, x.pt_id);
			if (parent && (x.flags & IOMMU_HWPT_ALLOC_PASID))
				remember_also(K_PCOMPAT, x.out_hwpt_id);
		}
		break;
	}
	case OP_INVALIDATE: {
		// IOMMU_HWPT_INVALIDATE of a nested HWPT (the mock's IOTLB entries: flags, iotlb_id) or a vIOMMU
		// (its vDEVICEs' caches: flags, vdev_id, cache_id), read entry by entry at entry_len: ids in
		// range and past it, the "all" flag and others, a short or long entry with a zero or non-zero
		// tail, none, or more than fit. The number done comes back in entry_num.
		static const uint32_t lens[] = { 8, 8, 12, 12, 16, 4, 0, 24 };
		uint32_t entry_len = lens[a[3] % 8];
		uint8_t *e = AT(DATA2_PAGE + 9);
		memset(e, 0, 4 * 24);
		for (int k = 0; k < 4 && entry_len >= 4; k++) {
			uint64_t r = a[5] >> (k * 16) ^ a[6] >> (k * 8);
			uint32_t words[6] = {
				r % 4 == 0 ? IOMMU_TEST_INVALIDATE_FLAG_ALL : r % 8 == 1 ? (uint32_t)(r >> 3) % 8 : 0,
				(r >> 6) % 8 < 6 ? (uint32_t)(r >> 9) % 5 : (uint32_t)(r >> 9),
				(r >> 12) % 8 < 6 ? (uint32_t)(r >> 15) % 5 : (uint32_t)(r >> 15),
				(r >> 20) % 8 == 0,
			};
			memcpy(e + k * entry_len, words, entry_len);
		}
		static const uint32_t types[] = { IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
						  IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID,
						  IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, 0x12345 };
		struct iommu_hwpt_invalidate x = {
			.hwpt_id = id_of_kind(a[0] % 4 ? K_NESTED : K_VIOMMU, a[0] >> 2), .data_uptr = a[1] % 16 == 15 ? user_address(a[1] >> 4) : (uint64_t)e,
			.data_type = types[a[2] % 6], .entry_len = entry_len,
			.entry_num = a[4] % 8 < 6 ? (uint32_t)(a[4] >> 3) % 5 : a[4] % 16 == 6 ? UINT32_MAX : (uint32_t)(a[4] >> 4) % 0x20000,
			.__reserved = a[7] % 32 == 0,
		};
		SIZED(x, sizeof(x), 32);
		do_ioctl(c, "hwpt_invalidate", IOMMU_HWPT_INVALIDATE, &x, sizeof(x), -1, -1);
		break;
	}
	case OP_CHECK_CACHE: {
		// The mock's view of what invalidations left: a nested HWPT's IOTLB entry (MD_CHECK_IOTLB) or a
		// device's cache entry (DEV_CHECK_CACHE) against its first value, 0 or another; EINVAL when it differs.
		struct iommu_test_cmd x = { .op = a[0] % 2 ? IOMMU_TEST_OP_MD_CHECK_IOTLB : IOMMU_TEST_OP_DEV_CHECK_CACHE,
					    .id = id_of_kind(a[0] % 2 ? K_NESTED : K_DEV, a[1]) };
		uint32_t index = a[2] % 8 < 6 ? (uint32_t)(a[2] >> 3) % 4 : (uint32_t)(a[2] >> 3) % 8;
		uint32_t first = a[0] % 2 ? IOMMU_TEST_IOTLB_DEFAULT : IOMMU_TEST_DEV_CACHE_DEFAULT;
		uint32_t value = a[3] % 4 == 0 ? 0 : a[3] % 4 == 1 ? (uint32_t)(a[3] >> 2) % 4 : first;
		if (a[0] % 2) {
			x.check_iotlb.id = index;
			x.check_iotlb.iotlb = value;
		} else {
			x.check_dev_cache.id = index;
			x.check_dev_cache.cache = value;
		}
		SIZED(x, sizeof(x), sizeof(x));
		do_ioctl(c, a[0] % 2 ? "check_iotlb" : "check_dev_cache", IOMMU_TEST_CMD, &x, sizeof(x), -1, -1);
		break;
	}
	case OP_VIOMMU: {
		// IOMMU_VIOMMU_ALLOC on a device and a nesting parent: the mock's type with its data (in_data in,
		// out_data, the mmap offset and length out, read by a length that is short, exact or longer), no
		// data, other types, any flags. Then, now and then, the first word of the page the offset maps.
		uint8_t *data = AT(OUT_PAGE);
		memset(data, 0, 16 * PAGE);
		uint32_t in = (uint32_t)(a[5] >> 8);
		memcpy(data, &in, 4);
		if (a[7] % 8 == 0)
			data[24 + (a[7] >> 3) % 8] = 1;
		static const uint32_t types[] = { IOMMU_VIOMMU_TYPE_SELFTEST, IOMMU_VIOMMU_TYPE_SELFTEST, IOMMU_VIOMMU_TYPE_SELFTEST,
						  IOMMU_VIOMMU_TYPE_SELFTEST, IOMMU_VIOMMU_TYPE_SELFTEST, IOMMU_VIOMMU_TYPE_DEFAULT,
						  IOMMU_VIOMMU_TYPE_ARM_SMMUV3, IOMMU_VIOMMU_TYPE_SELFTEST + 1 };
		static const uint32_t lens[] = { 24, 24, 24, 0, 8, 4, 16, 32 };
		uint32_t len = lens[a[4] % 8];
		struct iommu_viommu_alloc x = {
			.flags = a[0] % 8 ? 0 : (uint32_t)(a[0] >> 3) % 4, .type = types[a[3] % 8], .dev_id = id_of_kind(K_DEV, a[1]),
			.hwpt_id = id_of_kind(a[2] % 8 ? K_PARENT : K_HWPT, a[2] >> 3), .data_len = len,
			.data_uptr = len == 0 && a[4] % 16 < 8 ? 0 : a[4] % 32 == 31 ? user_address(a[4] >> 5) : (uint64_t)data,
			.__reserved = a[7] % 32 == 1,
		};
		SIZED(x, sizeof(x), 32);
		long rc = do_ioctl(c, "viommu_alloc", IOMMU_VIOMMU_ALLOC, &x, sizeof(x), -1, -1);
		emit_out("viommu_data", (uint64_t)data, 32);
		if (rc == 0) {
			remember_kind(K_VIOMMU, x.out_viommu_id);
			remember_built_on(viommus, &nviommus, x.out_viommu_id, x.hwpt_id);
			uint64_t offset, length;
			memcpy(&offset, data + 8, 8);
			memcpy(&length, data + 16, 8);
			if (length && length <= 16 * PAGE && a[6] % 2) {
				void *p = mmap(NULL, length, PROT_READ, MAP_SHARED, iommufd, (off_t)offset);
				long mrc = p == MAP_FAILED ? -(long)errno : 0;
				uint32_t word = p == MAP_FAILED ? 0 : *(volatile uint32_t *)p;
				if (p != MAP_FAILED)
					munmap(p, length);
				emit("  viommu page mmap rc=%ld word 0x%x", mrc, word);
			}
		}
		break;
	}
	case OP_VDEVICE: {
		// IOMMU_VDEVICE_ALLOC: a device on a vIOMMU at a virtual id (small, repeated, past the mock's
		// cache ids, the largest).
		struct iommu_vdevice_alloc x = {
			.viommu_id = id_of_kind(K_VIOMMU, a[0]), .dev_id = id_of_kind(K_DEV, a[1]),
			.virt_id = a[2] % 8 < 6 ? (a[2] >> 3) % 5 : a[2] % 16 == 6 ? ~0ULL : (a[2] >> 4),
		};
		SIZED(x, sizeof(x), 24);
		if (do_ioctl(c, "vdevice_alloc", IOMMU_VDEVICE_ALLOC, &x, sizeof(x), -1, -1) == 0)
			remember_kind(K_VDEV, x.out_vdevice_id);
		break;
	}
	case OP_VEVENTQ: {
		// IOMMU_VEVENTQ_ALLOC: one queue per type per vIOMMU, of a depth from none to past the limit;
		// its fd joins the pool (read and polled there).
		static const uint32_t types[] = { IOMMU_VEVENTQ_TYPE_SELFTEST, IOMMU_VEVENTQ_TYPE_SELFTEST, IOMMU_VEVENTQ_TYPE_SELFTEST,
						  IOMMU_VEVENTQ_TYPE_DEFAULT, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, IOMMU_VEVENTQ_TYPE_SELFTEST + 1 };
		struct iommu_veventq_alloc x = {
			.flags = a[0] % 8 ? 0 : (uint32_t)(a[0] >> 3) % 4, .viommu_id = id_of_kind(K_VIOMMU, a[1]), .type = types[a[2] % 6],
			.veventq_depth = a[3] % 8 < 6 ? 1 + (uint32_t)(a[3] >> 3) % 4 : a[3] % 16 == 6 ? 0 : (uint32_t)(a[3] >> 4) % 0x200000,
			.__reserved = a[7] % 32 == 1,
		};
		SIZED(x, sizeof(x), 32);
		if (do_ioctl(c, "veventq_alloc", IOMMU_VEVENTQ_ALLOC, &x, sizeof(x), 24, -1) == 0)
			remember_id(x.out_veventq_id);
		break;
	}
	case OP_HW_QUEUE: {
		// IOMMU_HW_QUEUE_ALLOC on a vIOMMU: the mock's type at index 0 or 1 (in order) or past them,
		// its guest queue at an IOVA of the parent, mapped or not, aligned or not. Its length stays
		// within the IOVA's page, or is 0 or so large it wraps: a queue over two pages or more is
		// refused unless their frames are physically consecutive (iommufd_hw_queue_alloc_phys), which
		// depends on where each side's allocator put them (seed 1379 of the first campaign).
		static const uint32_t types[] = { IOMMU_HW_QUEUE_TYPE_SELFTEST, IOMMU_HW_QUEUE_TYPE_SELFTEST, IOMMU_HW_QUEUE_TYPE_SELFTEST,
						  IOMMU_HW_QUEUE_TYPE_DEFAULT, IOMMU_HW_QUEUE_TYPE_SELFTEST + 1 };
		struct iommu_hw_queue_alloc x = {
			.flags = a[0] % 8 ? 0 : (uint32_t)(a[0] >> 3) % 4, .viommu_id = id_of_kind(K_VIOMMU, a[1]), .type = types[a[2] % 5],
			.index = a[3] % 8 < 6 ? (uint32_t)(a[3] >> 3) % 2 : (uint32_t)(a[3] >> 3) % 4,
			.nesting_parent_iova = a[4] % 4 && nmapped ? mapped[(a[4] >> 2) % nmapped].iova + (a[4] % 16 == 1 ? 0x10 : 0) : iova_of(a[4] >> 2),
		};
		uint64_t room = PAGE - x.nesting_parent_iova % PAGE;
		x.length = a[5] % 8 ? room - (a[5] >> 3) % room : a[5] % 16 ? 0 : ~0ULL - (a[5] >> 60);
		// Mostly, one page of the arena is first mapped where the queue will be, in the IOAS of the
		// vIOMMU's parent (a fixed IOVA per index, so a second queue finds its own).
		uint32_t ioas = built_on(parents, nparents, built_on(viommus, nviommus, x.viommu_id));
		if (ioas && a[6] % 4) {
			uint64_t iova = (uint64_t)MOCK_APERTURE_START + 0x100000 + (x.index % 4) * PAGE;
			struct iommu_ioas_map m = {
				.size = sizeof(m), .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
				.ioas_id = ioas, .user_va = (uint64_t)AT(DATA_PAGE + 40 + x.index % 4), .length = PAGE, .iova = iova,
			};
			long mrc = ioctl(iommufd, IOMMU_IOAS_MAP, &m) < 0 ? -errno : 0;
			emit("  queue page map rc=%ld", mrc);
			if (mrc == 0)
				note_mapped(iova, ioas);
			x.nesting_parent_iova = iova + (a[6] % 16 == 1 ? 0x10 : 0);
			room = PAGE - x.nesting_parent_iova % PAGE;
			x.length = a[5] % 8 ? room - (a[5] >> 3) % room : x.length;
		}
		SIZED(x, sizeof(x), 40);
		if (do_ioctl(c, "hw_queue_alloc", IOMMU_HW_QUEUE_ALLOC, &x, sizeof(x), -1, -1) == 0)
			remember_id(x.out_hw_queue_id);
		break;
	}
	case OP_TRIGGER: {
		// The mock device raises a page request (TRIGGER_IOPF: to the fault queue of the HWPT it is
		// attached to, read from that queue's fd) or a vEVENT (TRIGGER_VEVENT: to its vIOMMU's queue,
		// when it has a vDEVICE there).
		// Mostly the device is first wired for it: onto a nested HWPT with a fault queue, or given a
		// vDEVICE and a nested HWPT on the vIOMMU, which gets a vEVENTQ.
		struct iommu_test_cmd x = { .op = a[0] % 3 ? IOMMU_TEST_OP_TRIGGER_IOPF : IOMMU_TEST_OP_TRIGGER_VEVENT };
		int wired = a[6] % 4 && nkind[K_DEV] && nkind[K_DEV] == nkind[K_STDEV] ? (int)((a[6] >> 2) % nkind[K_DEV]) : -1;
		if (wired >= 0)
			wire_device(kind_ids[K_STDEV][wired], kind_ids[K_DEV][wired], a[0] % 3 != 0, a[7]);
		if (a[0] % 3) {
			x.trigger_iopf.dev_id = wired >= 0 ? kind_ids[K_DEV][wired] : id_of_kind(K_DEV, a[1]);
			x.trigger_iopf.pasid = a[2] % 4 ? 0 : (uint32_t)(a[2] >> 2) % 4;
			x.trigger_iopf.grpid = (uint32_t)(a[3] % 4);
			x.trigger_iopf.perm = (uint32_t)(a[4] % 8);
			x.trigger_iopf.addr = iova_of(a[5]);
		} else {
			x.trigger_vevent.dev_id = wired >= 0 ? kind_ids[K_DEV][wired] : id_of_kind(K_DEV, a[1]);
		}
		SIZED(x, sizeof(x), sizeof(x));
		do_ioctl(c, a[0] % 3 ? "trigger_iopf" : "trigger_vevent", IOMMU_TEST_CMD, &x, sizeof(x), -1, -1);
		break;
	}
	case OP_FAULT_RESPOND: {
		// Page responses written to a fault queue's fd (or another): one to three of them, cookies the
		// queue handed out (they count from 0) or not, codes valid and not, a length a response does
		// not divide.
		int fd = fd_of(a[0]);
		struct iommu_hwpt_page_response r[3];
		for (int i = 0; i < 3; i++) {
			uint64_t v = a[1 + i];
			r[i].cookie = v % 8 < 6 ? (uint32_t)(v >> 3) % 4 : (uint32_t)(v >> 3);
			r[i].code = v % 64 < 56 ? (uint32_t)(v >> 8) % 2 : (uint32_t)(v >> 8) % 4;
		}
		size_t len = a[4] % 8 < 6 ? sizeof(r[0]) * (1 + a[4] % 3) : (size_t)(a[4] >> 3) % 24;
		memcpy(AT(OUT_PAGE), r, sizeof(r));
		long rc = write(fd, a[5] % 16 ? (void *)AT(OUT_PAGE) : (void *)user_address(a[5] >> 4), len);
		emit("fault_respond(fd#%d, %zu) rc=%ld", fd == iommufd ? 99 : fd_index(fd), len, rc < 0 ? -(long)errno : rc);
		break;
	}
	case OP_PASID: {
		// The mock's PASID operations on a mock device (its stdev id): attach, replace, detach, and the
		// check of what a PASID holds; PASIDs 0, small, the largest of the mock's width and past it.
		// Or a device for them: a mock device that supports PASIDs on an IOAS (MOCK_DOMAIN_FLAGS), or a
		// replacement of a mock device's whole domain by a HWPT of any kind (the nested HWPTs with a
		// fault queue are how TRIGGER_IOPF's faults reach a queue).
		static const uint32_t ops[] = { IOMMU_TEST_OP_PASID_ATTACH, IOMMU_TEST_OP_PASID_ATTACH, IOMMU_TEST_OP_PASID_REPLACE,
						IOMMU_TEST_OP_PASID_DETACH, IOMMU_TEST_OP_PASID_CHECK_HWPT, IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
						IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE };
		static const char *const names[] = { "pasid_attach", "pasid_attach", "pasid_replace", "pasid_detach", "pasid_check",
						     "mock_domain_pasid", "domain_replace_typed", "domain_replace_typed" };
		int op = (int)(a[0] % 8);
		static const int pt_kinds[] = { K_PCOMPAT, K_PCOMPAT, K_PCOMPAT, K_NESTED, K_IOAS, K_HWPT, K_NESTED, K_PARENT };
		struct iommu_test_cmd x = { .op = ops[op], .id = ops[op] == IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS ? id_of_kind(K_IOAS, a[1])
											  : id_of_kind(a[1] % 4 ? K_PSTDEV : K_STDEV, a[1] >> 2) };
		uint32_t pasid = a[2] % 8 < 6 ? (uint32_t)(a[2] >> 3) % 4 : a[2] % 16 == 6 ? (1U << MOCK_PASID_WIDTH) - 1 : 1U << MOCK_PASID_WIDTH;
		uint32_t pt = a[3] % 16 ? id_of_kind(pt_kinds[(a[3] >> 4) % 8], a[3] >> 7) : 0;
		switch (ops[op]) {
		case IOMMU_TEST_OP_PASID_ATTACH: x.pasid_attach.pasid = pasid; x.pasid_attach.pt_id = pt; break;
		case IOMMU_TEST_OP_PASID_REPLACE: x.pasid_replace.pasid = pasid; x.pasid_replace.pt_id = pt; break;
		case IOMMU_TEST_OP_PASID_DETACH: x.pasid_detach.pasid = pasid; break;
		case IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS: x.mock_domain_flags.dev_flags = a[4] % 4 ? MOCK_FLAGS_DEVICE_PASID : (uint32_t)(a[4] >> 2) % 8; break;
		case IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE: x.mock_domain_replace.pt_id = pt; break;
		default: x.pasid_check.pasid = pasid; x.pasid_check.hwpt_id = pt; break;
		}
		SIZED(x, sizeof(x), sizeof(x));
		long rc = do_ioctl(c, names[op], IOMMU_TEST_CMD, &x, sizeof(x), -1, -1);
		if (rc == 0 && pasid && (ops[op] == IOMMU_TEST_OP_PASID_ATTACH || ops[op] == IOMMU_TEST_OP_PASID_REPLACE))
			note_pasid(x.id, pasid, 1);
		if (rc == 0 && pasid && ops[op] == IOMMU_TEST_OP_PASID_DETACH)
			note_pasid(x.id, pasid, 0);
		if (rc == 0 && ops[op] == IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS) {
			remember_kind(K_STDEV, x.mock_domain.out_stdev_id);
			if (x.mock_domain_flags.dev_flags & MOCK_FLAGS_DEVICE_PASID)
				remember_also(K_PSTDEV, x.mock_domain.out_stdev_id);
			remember_kind(K_HWPT, x.mock_domain.out_hwpt_id);
			remember_kind(K_DEV, x.mock_domain.out_idev_id);
		}
		break;
	}
	case OP_TEST_DIRTY: {
		// IOMMU_TEST_OP_DIRTY: the mock domain marks dirty the pages a bitmap in user memory names (the
		// arena's patterned words, or a zeroed page), over a range of a HWPT, at the mock's page size or
		// another; what it marked comes back in out_nr_dirty and shows in a later GET_DIRTY_BITMAP. The
		// mock marks only while the HWPT tracks, which is mostly turned on first.
		uint8_t *bitmap = AT(DATA2_PAGE + 10);
		if (a[5] % 2)
			memset(bitmap, (int)(a[5] >> 1), PAGE);
		struct iommu_test_cmd x = { .op = IOMMU_TEST_OP_DIRTY, .id = id_of_kind(a[0] % 4 ? K_HWPT : K_PARENT, a[0] >> 2) };
		x.dirty.flags = a[1] % 8 ? 0 : (uint32_t)(a[1] >> 3) % 4;
		x.dirty.iova = a[2] % 4 && nmapped ? mapped[(a[2] >> 2) % nmapped].iova : iova_of(a[2] >> 2);
		x.dirty.length = a[3] % 4 ? ((a[3] >> 2) % 16 + 1) * PAGE : length_of(a[3] >> 2);
		x.dirty.page_size = a[4] % 4 ? MOCK_PAGE_SIZE : (a[4] >> 2) % 2 ? PAGE : 3;
		x.dirty.uptr = a[6] % 8 ? (uint64_t)bitmap : user_address(a[6] >> 3);
		if (a[7] % 4) {
			struct iommu_hwpt_set_dirty_tracking t = { .size = sizeof(t), .flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE, .hwpt_id = x.id };
			emit("  dirty tracking on rc=%ld", ioctl(iommufd, IOMMU_HWPT_SET_DIRTY_TRACKING, &t) < 0 ? -(long)errno : 0L);
		}
		SIZED(x, sizeof(x), sizeof(x));
		do_ioctl(c, "test_dirty", IOMMU_TEST_CMD, &x, sizeof(x), -1, -1);
		break;
	}
	case OP_TEST_DMABUF: {
		// The mock's own dma-buf exporter: DMABUF_GET (a buffer of up to 512 pages, which MAP_FILE then
		// maps now and then) or DMABUF_REVOKE of a buffer in the pool, another fd, or a bad one.
		struct iommu_test_cmd x = { .op = a[0] % 3 ? IOMMU_TEST_OP_DMABUF_GET : IOMMU_TEST_OP_DMABUF_REVOKE };
		if (a[0] % 3) {
			static const uint32_t modes[] = { O_RDWR | O_CLOEXEC, O_RDWR | O_CLOEXEC, O_RDONLY | O_CLOEXEC, O_RDWR };
			x.dmabuf_get.length = a[1] % 8 < 6 ? (uint32_t)((a[1] >> 3) % 4 + 1) * PAGE : a[1] % 16 == 6 ? 0 : (uint32_t)(a[1] >> 4) % (600 * PAGE);
			x.dmabuf_get.open_flags = modes[a[2] % 4];
			returns_dmabuf = 1;
		} else {
			x.dmabuf_revoke.dmabuf_fd = a[1] % 4 && ndmabufs ? dmabufs[(a[1] >> 2) % ndmabufs] : a[1] % 4 == 1 ? iommufd : a[1] % 4 == 2 ? memfd : -1;
			x.dmabuf_revoke.revoked = (uint32_t)(a[2] % 3);
		}
		SIZED(x, sizeof(x), sizeof(x));
		do_ioctl(c, a[0] % 3 ? "test_dmabuf_get" : "test_dmabuf_revoke", IOMMU_TEST_CMD, &x, sizeof(x), -1, a[0] % 3 ? -1 : 16);
		returns_dmabuf = 0;
		break;
	}
	case OP_CLOSE: {
		if (!nfds) {
			emit("close rc=none");
			break;
		}
		int i = (int)(a[0] % nfds);
		int rc = close(fds[i]);
		emit("close(fd#%d) rc=%d", i, rc < 0 ? -errno : rc);
		// A dma-buf closed here is -1 for MAP_FILE too: the kernel reuses its number, the engine not.
		for (int j = 0; j < ndmabufs; j++)
			if (dmabufs[j] == fds[i])
				dmabufs[j] = -1;
		fds[i] = -1;
		break;
	}
	}
}

// ---------------------------------------------------------------- seeds, scripts, runs

static int script_for(uint64_t seed, int calls, struct call *out)
{
	rng_state = seed * 0x2545F4914F6CDD1DULL + 1;
	for (int i = 0; i < calls; i++)
		out[i] = generate();
	if (vfio_mode == 2 && calls >= 2) {
		// The device fd's own ioctls need a device fd with access: the stream opens the cdev read-write
		// and binds it to the iommufd first (what else the stream does to it stays random).
		out[0] = (struct call){ .op = OP_CDEV_OPEN, .a = { 1 } };
		out[1] = (struct call){ .op = OP_CDEV_BIND, .a = { 0, 1, 1 } };
		if (calls >= 5) {
			out[2] = (struct call){ .op = OP_EVENTFD, .a = { 1 } };   // one for interrupts
			out[3] = (struct call){ .op = OP_EVENTFD, .a = { 0 } };   // one for ioeventfds
			// edu's liveness register outlives a process (QEMU's model keeps it through everything): one
			// stream must not see what the one before it wrote, so each starts by writing 0 there.
			out[4] = (struct call){ .op = OP_CDEV_BAR, .a = { 0, 0, 0, 0, 0, 1, 0 } };
		}
	}
	return calls;
}

// After a stream, silently: the reference cycles a stream can build would outlive its process on the
// kernel (an IOAS area holding a file whose release needs the context: the iommufd itself, a bound cdev,
// an access or fault fd), and with them the pages they keep charged to the user, so that a later seed
// of the same boot would find RLIMIT_MEMLOCK used up where the engine, which ends with its process,
// finds it free (seed 2844 of a 2000-seed run: ENOMEM on the kernel only, identical in a fresh boot).
// The other fds go first (an access's pins would make the unmap EBUSY), then every object id up to the
// highest a call returned is emptied as an IOAS (ids are handed out in order).
static void break_cycles(void)
{
	detach_pasids(0, 1);
	for (int i = 0; i < nfds; i++)
		if (fds[i] != iommufd)
			close(fds[i]);
	for (uint32_t id = 1; id <= highest_id; id++) {
		struct iommu_ioas_unmap all = { .size = sizeof(all), .ioas_id = id, .iova = 0, .length = UINT64_MAX };
		ioctl(iommufd, IOMMU_IOAS_UNMAP, &all);
	}
}

// The bytes of edu's config space after its MSI capability are the device's own (vfio-pci passes
// them through raw) and outlive every open: OP_CONFIG_WRITE's writes there would reach the next seed
// of a run in the same guest. Each --device stream starts by zeroing them, and edu's DMA buffer, through
// a device fd and an iommufd of its own that it closes again (the fds it used are free again, so the
// stream's numbers do not move).
static void scrub_device(const char *cdev_path)
{
	int ctx = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	int fd = open(cdev_path, O_RDWR | O_CLOEXEC);
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .iommufd = ctx };
	if (ctx >= 0 && fd >= 0 && ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind) == 0) {
		static const uint8_t zeros[0xb0];
		off_t config = (off_t)VFIO_PCI_CONFIG_REGION_INDEX << 40;
		if (pwrite(fd, zeros, 2, config + 0x4e) != 2 || pwrite(fd, zeros, sizeof(zeros), config + 0x50) != (ssize_t)sizeof(zeros))
			fprintf(stderr, "abi-fuzz: scrubbing config space: %s\n", strerror(errno));
		// edu's DMA buffer outlives every open too (the model has no reset): one transfer of a zero
		// page into it, so what a stream's transfers into memory copy out is only what it put there.
		struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
		struct iommu_ioas_map map = { .size = sizeof(map), .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE,
					      .user_va = (uint64_t)AT(OUT_PAGE), .length = PAGE, .iova = PAGE };
		struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
		uint64_t regs[4] = { PAGE, 0x40000, 0xfff, 1 }, run = 1;   // all but the last byte, which no transfer reaches
		int ok = ioctl(ctx, IOMMU_IOAS_ALLOC, &ioas) == 0;
		map.ioas_id = attach.pt_id = ioas.out_ioas_id;
		ok = ok && ioctl(ctx, IOMMU_IOAS_MAP, &map) == 0 && ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach) == 0 &&
		     set_command_bits(fd, 4) == 2 && edu_transfer(fd, regs, &run) == 8;   // PCI_COMMAND_MASTER
		// And the transfer registers back to 0, as a stream that never ran one finds them, and the
		// liveness register to what writing 0 leaves (~0), as the stream's first calls do on the first
		// device only.
		static const uint64_t zero;
		for (int i = 0; ok && !(run & 1) && i < 3; i++)
			ok = pwrite(fd, &zero, 8, 0x80 + 8 * i) == 8;
		ok = ok && pwrite(fd, &zero, 4, 0x04) == 4;
		if (!ok || (run & 1))
			fprintf(stderr, "abi-fuzz: scrubbing edu's DMA buffer: %s\n", ok ? "the transfer did not finish" : strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	if (ctx >= 0)
		close(ctx);
}

static void scrub_config(void)
{
	for (int i = 0; i < ndevices; i++)
		scrub_device(cdev_paths[i]);
}

static void run_script(const struct call *script, int n)
{
	arena_setup();
	iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (iommufd < 0) {
		emit("open /dev/iommu rc=%d", -errno);
		return;
	}
	if (weight[OP_CDEV_OPEN])
		find_cdevs();
	if (vfio_mode == 2)
		scrub_config();
	memfd = (int)syscall(SYS_memfd_create, "abi-fuzz", 0);
	if (memfd < 0 || ftruncate(memfd, 32 * PAGE) != 0) {
		emit("memfd rc=%d", -errno);
		return;
	}
	for (int i = 0; i < n; i++) {
		call_index = i;
		run_call(&script[i]);
	}
	break_cycles();
}

static void print_script(const struct call *script, int n)
{
	for (int i = 0; i < n; i++) {
		printf("%d %d %d", script[i].op, script[i].argkind, script[i].sizekind);
		for (int j = 0; j < NARGS; j++)
			printf(" %" PRIu64, script[i].a[j]);
		printf("\n");
	}
}

static int read_script(const char *path, struct call *out)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		exit(2);
	}
	int n = 0;
	while (n < MAX_CALLS) {
		struct call c = { 0 };
		if (fscanf(f, "%d %d %d", &c.op, &c.argkind, &c.sizekind) != 3)
			break;
		for (int j = 0; j < NARGS; j++)
			if (fscanf(f, "%" SCNu64, &c.a[j]) != 1)
				break;
		if (c.op < 0 || c.op >= OP_COUNT)
			continue;
		out[n++] = c;
	}
	fclose(f);
	return n;
}

// Pinned-page accounting the same on both sides: a 1 MiB limit, and no capability that lifts it.
static void same_limits(void)
{
	struct rlimit limit = { 1 << 20, 1 << 20 };
	setrlimit(RLIMIT_MEMLOCK, &limit);
	prctl(PR_CAPBSET_DROP, 14 /* CAP_IPC_LOCK */, 0, 0, 0);
	prctl(PR_CAPBSET_DROP, 24 /* CAP_SYS_RESOURCE */, 0, 0, 0);
}

static struct call script[MAX_CALLS];

int main(int argc, char **argv)
{
	// Fds inherited from whoever started us would shift every number the program gets (the guest's
	// init passes none): the two sides must count from the same first free fd.
	syscall(SYS_close_range, 3U, ~0U, 0U);
	verbose = getenv("ABI_FUZZ_VERBOSE") != NULL;
	vfio_mode = getenv("ABI_FUZZ_VFIO") ? atoi(getenv("ABI_FUZZ_VFIO")) : 0;
	if (vfio_mode)
		for (int i = 0; i < OP_COUNT; i++)
			if (vfio_weight[i])
				weight[i] = vfio_weight[i] < 0 ? 0 : vfio_weight[i];
	if (vfio_mode == 2)
		for (int i = 0; i < OP_COUNT; i++)
			if (device_weight[i])
				weight[i] = device_weight[i];
	if (argc >= 4 && !strcmp(argv[1], "seed")) {
		int calls = atoi(argv[3]);
		if (calls > MAX_CALLS)
			calls = MAX_CALLS;
		print_lines = argc < 5 || strcmp(argv[4], "--digest");
		int n = script_for(strtoull(argv[2], NULL, 0), calls, script);
		run_script(script, n);
		if (!print_lines)
			printf("digest %016" PRIx64 "\n", transcript_hash);
		return 0;
	}
	if (argc >= 4 && !strcmp(argv[1], "script")) {
		int calls = atoi(argv[3]);
		print_script(script, script_for(strtoull(argv[2], NULL, 0), calls > MAX_CALLS ? MAX_CALLS : calls, script));
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "play")) {
		run_script(script, read_script(argv[2], script));
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "replay")) {
		// The limits take effect in a fresh image (the bounding set is read at exec, as the engine reads them at load).
		same_limits();
		pid_t child = fork();
		if (child == 0) {
			char *args[] = { "/proc/self/exe", "play", argv[2], NULL };
			execv("/proc/self/exe", args);
			_exit(127);
		}
		int status = 0;
		waitpid(child, &status, 0);
		if (WIFSIGNALED(status))
			printf("died signal %d\n", WTERMSIG(status));
		return 0;
	}
	if (argc >= 5 && !strcmp(argv[1], "run")) {
		uint64_t first = strtoull(argv[2], NULL, 0);
		uint64_t count = strtoull(argv[3], NULL, 0);
		const char *calls = argv[4];
		int full = argc >= 6 && !strcmp(argv[5], "--full");
		same_limits();
		for (uint64_t s = first; s < first + count; s++) {
			char seed[32];
			snprintf(seed, sizeof(seed), "%" PRIu64, s);
			printf("seed %s\n", seed);
			fflush(stdout);
			pid_t child = fork();
			if (child == 0) {
				char *args[] = { "/proc/self/exe", "seed", seed, (char *)calls, full ? NULL : "--digest", NULL };
				execv("/proc/self/exe", args);
				_exit(127);
			}
			int status = 0;
			waitpid(child, &status, 0);
			if (WIFSIGNALED(status))
				printf("died seed %s signal %d\n", seed, WTERMSIG(status));
			else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				printf("failed seed %s exit %d\n", seed, WEXITSTATUS(status));
			fflush(stdout);
		}
		printf("end\n");
		return 0;
	}
	fprintf(stderr, "usage: abi-fuzz run FIRST COUNT CALLS [--full] | seed SEED CALLS | script SEED CALLS | replay FILE\n");
	return 2;
}
