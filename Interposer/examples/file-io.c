// Ordinary file, pipe, socket, eventfd, mmap and poll traffic, printed step by step, to show that
// the abi-preload interposer leaves what is not the engine's exactly as it was. With the argument
// "engine" it first opens /dev/iommu (so the engine is loaded and holds an fd) and keeps it open
// throughout; the lines it prints about the other files must not change.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHOW(what, expr)                                                                                   \
    do {                                                                                                   \
        errno = 0;                                                                                         \
        long rc_ = (long)(expr);                                                                           \
        printf("%-34s %ld%s%s\n", what, rc_ < 0 ? -1L : rc_ > 0 && rc_ < 4096 ? rc_ : (rc_ ? 1L : 0L),  \
               rc_ < 0 ? " errno " : "", rc_ < 0 ? strerrorname_np(errno) : "");                          \
    } while (0)

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int iommu = -1;
    if (argc > 1 && strcmp(argv[1], "engine") == 0) {
        iommu = open("/dev/iommu", O_RDWR | O_CLOEXEC);
        if (iommu < 0)
            return 2;
    }

    char path[] = "/tmp/abi-file-io-XXXXXX";
    int fd = mkstemp(path);
    SHOW("mkstemp", fd >= 0);
    SHOW("write 11 bytes", write(fd, "hello world", 11));
    SHOW("pwrite at 20", pwrite(fd, "tail", 4, 20));
    SHOW("lseek 0", lseek(fd, 0, SEEK_SET));
    char buffer[64] = {0};
    SHOW("read 64", read(fd, buffer, sizeof(buffer)));
    printf("  content starts \"%.11s\", byte 12 = %d\n", buffer, buffer[12]);
    SHOW("pread 4 at 20", pread(fd, buffer, 4, 20));
    printf("  \"%.4s\"\n", buffer);
    void *map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    SHOW("mmap the file", map != MAP_FAILED);
    if (map != MAP_FAILED) {
        printf("  mapped \"%.5s\"\n", (char *)map);
        SHOW("munmap", munmap(map, 4096));
    }
    SHOW("ioctl FIONREAD on a file", ioctl(fd, FIONREAD, &(int){0}));
    SHOW("ioctl TCGETS on a file", ioctl(fd, 0x5401, buffer));
    SHOW("close the file", close(fd));
    SHOW("close it again", close(fd));
    SHOW("read a closed fd", read(fd, buffer, 1));
    SHOW("unlink", unlink(path));
    SHOW("open a missing file", open("/tmp/abi-file-io-missing/x", O_RDONLY));
    SHOW("openat /dev/null", openat(AT_FDCWD, "/dev/null", O_RDONLY) >= 0);

    int pipefd[2];
    SHOW("pipe", pipe(pipefd));
    SHOW("write the pipe", write(pipefd[1], "ping", 4));
    struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
    SHOW("poll the pipe", poll(&p, 1, 1000));
    printf("  revents 0x%x\n", p.revents);
    SHOW("read the pipe", read(pipefd[0], buffer, 4));
    SHOW("poll it empty (10 ms)", poll(&p, 1, 10));
    close(pipefd[0]);
    close(pipefd[1]);

    int sv[2];
    SHOW("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    SHOW("send", send(sv[0], "abc", 3, 0));
    SHOW("recv", recv(sv[1], buffer, sizeof(buffer), 0));
    close(sv[0]);
    close(sv[1]);

    int efd = eventfd(0, 0);
    uint64_t one = 1, value = 0;
    SHOW("eventfd write", write(efd, &one, 8));
    SHOW("eventfd read", read(efd, &value, 8));
    printf("  value %llu\n", (unsigned long long)value);
    close(efd);

    // stdio, dup and fstat of ordinary files pass through the interposer untouched.
    char spath[] = "/tmp/abi-file-io-stdio-XXXXXX";
    int sfd = mkstemp(spath);
    FILE *out = fdopen(sfd, "w");
    SHOW("fdopen for writing", out != NULL);
    SHOW("fputs", fputs("line one\nline two\n", out) >= 0);
    SHOW("fclose", fclose(out));
    FILE *in = fopen(spath, "re");
    SHOW("fopen for reading", in != NULL);
    char line[32] = "";
    SHOW("fgets", fgets(line, sizeof(line), in) != NULL);
    printf("  \"%.8s\"\n", line);
    SHOW("fseek to 9", fseek(in, 9, SEEK_SET));
    SHOW("fgets again", fgets(line, sizeof(line), in) != NULL);
    printf("  \"%.8s\"\n", line);
    int copy = dup(fileno(in));
    SHOW("dup the stream's fd", copy >= 0);
    struct stat st;
    SHOW("fstat the copy", fstat(copy, &st));
    printf("  regular %d, size %lld\n", S_ISREG(st.st_mode), (long long)st.st_size);
    SHOW("fcntl F_DUPFD_CLOEXEC", fcntl(copy, F_DUPFD_CLOEXEC, 0) >= 0);
    SHOW("close the copy", close(copy));
    SHOW("fclose", fclose(in));
    SHOW("unlink", unlink(spath));

    void *anon = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    SHOW("mmap 1 MiB anonymous", anon != MAP_FAILED);
    memset(anon, 7, 1 << 20);
    SHOW("mremap to 2 MiB", mremap(anon, 1 << 20, 2 << 20, MREMAP_MAYMOVE) != MAP_FAILED);

    if (iommu >= 0)
        SHOW("close /dev/iommu", close(iommu));
    return 0;
}
