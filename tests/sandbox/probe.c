/* Runs inside the sandbox (built static) and prints what it sees and what
 * it may do, one "key: value" line per check, for the bats tests. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

extern char **environ;

static const char *res(long r)
{
        static char buf[64];
        if (r >= 0)
                return "ok";
        snprintf(buf, sizeof(buf), "%s", strerrorname_np(errno) ? strerrorname_np(errno) : "?");
        return buf;
}

static int pids(void)
{
        DIR *d = opendir("/proc");
        struct dirent *e;
        int n = 0;
        while (d && (e = readdir(d)))
                if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
                        printf("pid: %s\n", e->d_name), n++;
        printf("pids: %d\n", n);
        return 0;
}

static int fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        int me = dirfd(d);
        while ((e = readdir(d)))
                if (e->d_name[0] != '.' && atoi(e->d_name) != me)
                        printf("fd: %s\n", e->d_name);
        return 0;
}

static int status(void)
{
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        while (f && fgets(line, sizeof(line), f))
                if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10) || !strncmp(line, "Seccomp:", 8) ||
                    !strncmp(line, "Uid", 3) || !strncmp(line, "Gid", 3))
                        fputs(line, stdout);
        return 0;
}

static int tiocsti(void)
{
        char c = 'x';
        int fd = open("/dev/tty", O_RDWR);
        if (fd < 0)
                fd = 0;
        printf("tiocsti: %s\n", res(ioctl(fd, TIOCSTI, &c)));
#if __SIZEOF_LONG__ == 8
        /* Upper bits the kernel ignores must not get past the filter. */
        printf("tiocsti-high: %s\n", res(syscall(SYS_ioctl, fd, (unsigned long) TIOCSTI | (1ul << 32), &c)));
#endif
        printf("tioclinux: %s\n", res(ioctl(fd, TIOCLINUX, &c)));
        struct termios t;
        printf("tcgets: %s\n", res(ioctl(fd, TCGETS, &t)));
        return 0;
}

static int connect_to(const char *ip, int port)
{
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        inet_pton(AF_INET, ip, &a.sin_addr);
        printf("connect: %s\n", res(connect(s, (struct sockaddr *) &a, sizeof(a))));
        return 0;
}

static int hog(long mb)
{
        for (long i = 1; i <= mb; i++) {
                char *p = malloc(1 << 20);
                if (!p) {
                        printf("hog: ENOMEM at %ld MiB\n", i);
                        return 3;
                }
                memset(p, 1, 1 << 20);
        }
        printf("hog: survived %ld MiB\n", mb);
        return 0;
}

static int forkbomb(int n)
{
        int ok = 0;
        for (int i = 0; i < n; i++) {
                pid_t p = fork();
                if (p == 0) {
                        pause();
                        _exit(0);
                }
                if (p < 0)
                        break;
                ok++;
        }
        printf("forked: %d\n", ok);
        kill(0, SIGKILL); /* ends the children and us */
        return 0;
}

static int write_file(const char *path)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        printf("write: %s\n", res(fd >= 0 && write(fd, "x\n", 2) == 2 ? 0 : -1));
        return fd >= 0 ? 0 : 1;
}

static int signals_wait(void)
{
        sigset_t s;
        int sig;
        sigemptyset(&s);
        sigaddset(&s, SIGTERM);
        sigaddset(&s, SIGINT);
        sigaddset(&s, SIGHUP);
        sigprocmask(SIG_BLOCK, &s, NULL);
        printf("ready\n");
        fflush(stdout);
        sigwait(&s, &sig);
        printf("got: %s\n", sigabbrev_np(sig));
        return 40 + sig;
}

static void write_to(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t) strlen(text))
                printf("write %s: %s\n", path, strerrorname_np(errno));
        if (fd >= 0)
                close(fd);
}

/* A nested sandbox, as bwrap makes one: a user namespace of its own, where
 * it mounts and pivots, while what the outer sandbox locked stays so. */
static int nest(void)
{
        char map[64];
        unsigned uid = getuid(), gid = getgid();
        printf("nest-unshare: %s\n", res(unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWUTS)));
        snprintf(map, sizeof(map), "0 %u 1", uid);
        write_to("/proc/self/uid_map", map);
        write_to("/proc/self/setgroups", "deny");
        snprintf(map, sizeof(map), "0 %u 1", gid);
        write_to("/proc/self/gid_map", map);
        printf("nest-hostname: %s\n", res(sethostname("nested", 6)));
        printf("nest-mount: %s\n", res(mount("none", "/tmp", "tmpfs", 0, NULL)));
        printf("nest-umount-mask: %s\n", res(umount2("/proc/timer_list", MNT_DETACH)));
        printf("nest-remount-ro: %s\n", res(mount(NULL, "/proc/sys", NULL, MS_REMOUNT | MS_BIND, NULL)));
        printf("nest-keyctl: %s\n", res(syscall(SYS_keyctl, 0, -1, 0)));
        mkdir("/tmp/old", 0755);
        printf("nest-pivot: %s\n", res(chdir("/tmp") == 0 ? syscall(SYS_pivot_root, ".", "old") : -1));
        printf("nest-detach: %s\n", res(umount2("/old", MNT_DETACH)));
        DIR *d = opendir("/");
        struct dirent *e;
        while (d && (e = readdir(d)))
                if (e->d_name[0] != '.')
                        printf("nest-root: %s\n", e->d_name);
        return 0;
}

/* io_uring is refused as if the kernel had none; NUMA policy calls pass. */
static int features(void)
{
        char params[120] = {};
        printf("io_uring_setup: %s\n", res(syscall(SYS_io_uring_setup, 1, params)));
        printf("get_mempolicy: %s\n", res(syscall(SYS_get_mempolicy, NULL, NULL, 0, NULL, 0)));
        printf("set_mempolicy: %s\n", res(syscall(SYS_set_mempolicy, 0 /* MPOL_DEFAULT */, NULL, 0)));
        return 0;
}

/* socket(2) by the C library (socketcall(2) on i386) and directly. */
static int sockets(void)
{
        printf("abi: %d\n", (int) sizeof(long) * 8);
        printf("socket-inet: %s\n", res(socket(AF_INET, SOCK_STREAM, 0)));
        printf("socket-vsock: %s\n", res(syscall(SYS_socket, 40 /* AF_VSOCK */, SOCK_STREAM, 0)));
        printf("socket-alg: %s\n", res(syscall(SYS_socket, 38 /* AF_ALG */, SOCK_SEQPACKET, 0)));
        return 0;
}

/* A UDP server for published ports (busybox's nc has no UDP): answers
 * each datagram with "echo: " and its text, until killed. */
static int udp_echo(int port)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        if (s < 0 || bind(s, (struct sockaddr *) &a, sizeof(a)) < 0) {
                perror("probe: udp-echo");
                return 1;
        }
        for (;;) {
                char buf[512], out[600];
                struct sockaddr_storage from;
                socklen_t len = sizeof(from);
                ssize_t n = recvfrom(s, buf, sizeof(buf) - 1, 0, (struct sockaddr *) &from, &len);
                if (n < 0)
                        continue;
                buf[n] = 0;
                int k = snprintf(out, sizeof(out), "echo: %s", buf);
                sendto(s, out, (size_t) k, 0, (struct sockaddr *) &from, len);
        }
}

/* Run on the host: the mounts of the mount namespace pinned on file. /proc
 * is opened first: the namespace has none of its own. */
static int ns_mounts(const char *file)
{
        int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC), ns = open(file, O_RDONLY | O_CLOEXEC);
        if (proc < 0 || ns < 0 || setns(ns, CLONE_NEWNS) < 0) {
                perror("probe: ns-mounts");
                return 1;
        }
        FILE *f = fdopen(openat(proc, "self/mountinfo", O_RDONLY | O_CLOEXEC), "r");
        char line[4096];
        while (f && fgets(line, sizeof(line), f))
                fputs(line, stdout);
        return f ? 0 : 1;
}

int main(int argc, char **argv)
{
        setvbuf(stdout, NULL, _IOLBF, 0);
        const char *c = argc > 1 ? argv[1] : "";
        if (!strcmp(c, "pids"))
                return pids();
        if (!strcmp(c, "fds"))
                return fds();
        if (!strcmp(c, "env")) {
                for (char **e = environ; *e; e++)
                        printf("env: %s\n", *e);
                return 0;
        }
        if (!strcmp(c, "status"))
                return status();
        if (!strcmp(c, "mount")) {
                printf("mount: %s\n", res(mount("none", "/tmp", "tmpfs", 0, NULL)));
                return 0;
        }
        if (!strcmp(c, "unshare")) {
                printf("unshare-user: %s\n", res(unshare(CLONE_NEWUSER)));
                printf("unshare-net: %s\n", res(unshare(CLONE_NEWNET)));
                return 0;
        }
        if (!strcmp(c, "keyctl")) {
                printf("keyctl: %s\n", res(syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -1, 0)));
                printf("add_key: %s\n", res(syscall(SYS_add_key, "user", "x", "y", 1, -1)));
                return 0;
        }
        if (!strcmp(c, "syscall") && argc > 2) {
                printf("syscall: %s\n", res(syscall(atol(argv[2]), 0, 0, 0, 0, 0, 0)));
                return 0;
        }
        if (!strcmp(c, "tiocsti"))
                return tiocsti();
        if (!strcmp(c, "udp-echo") && argc > 2)
                return udp_echo(atoi(argv[2]));
        if (!strcmp(c, "connect") && argc > 3)
                return connect_to(argv[2], atoi(argv[3]));
        if (!strcmp(c, "hog") && argc > 2)
                return hog(atol(argv[2]));
        if (!strcmp(c, "reserve") && argc > 2) { /* address space, as ASan, Go and the JVM take it */
                void *p = mmap(NULL, (size_t) atol(argv[2]) << 20, PROT_NONE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
                printf("reserve: %s\n", p == MAP_FAILED ? res(-1) : "ok");
                return 0;
        }
        if (!strcmp(c, "forkbomb") && argc > 2)
                return forkbomb(atoi(argv[2]));
        if (!strcmp(c, "write") && argc > 2)
                return write_file(argv[2]);
        if (!strcmp(c, "signals"))
                return signals_wait();
        if (!strcmp(c, "pid1")) {
                int fd = open("/proc/1/environ", O_RDONLY | O_CLOEXEC);
                printf("environ: %s\n", res(fd));
                if (fd >= 0) {
                        char b[8192];
                        ssize_t n = read(fd, b, sizeof(b) - 1);
                        for (ssize_t i = 0; i < n; i++)
                                b[i] = b[i] ? b[i] : ' ';
                        printf("environ-text: %.*s\n", n > 0 ? (int) n : 0, b);
                }
                printf("fd-dir: %s\n", res(open("/proc/1/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC)));
                /* SEIZE: the same permission check as ATTACH, and pid 1 is not
                 * stopped (and left stopped) if it wrongly succeeds. */
                printf("ptrace-seize: %s\n", res(ptrace(PTRACE_SEIZE, 1, NULL, NULL)));
                return 0;
        }
        if (!strcmp(c, "exit") && argc > 2)
                return atoi(argv[2]);
        if (!strcmp(c, "hostname")) {
                char h[256] = "";
                gethostname(h, sizeof(h));
                printf("hostname: %s\n", h);
                return 0;
        }
        if (!strcmp(c, "nest"))
                return nest();
        if (!strcmp(c, "features"))
                return features();
        if (!strcmp(c, "sockets"))
                return sockets();
        if (!strcmp(c, "ns-mounts") && argc > 2)
                return ns_mounts(argv[2]);
        fprintf(stderr, "probe: unknown check `%s`\n", c);
        return 2;
}
