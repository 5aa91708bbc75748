/* As root, an environment's overlay root stays mounted between runs.
 *
 * Mounting it costs every run the overlay's work-folder checks, and its
 * unmount a syncfs of the whole upper filesystem, which waits for every other
 * writer's data there. Instead the first run pins it: a mount namespace of its
 * own holds only a small tmpfs with the overlay at /root and, at /key, what it
 * was mounted from; the namespace's nsfs file is bound on `keep_at` in the
 * host's namespace, as `ip netns` pins a network namespace. Later runs with
 * the same key take a clone of that mount, which shares the superblock.
 * `berth down` (sandbox_root_release) unbinds it. */
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "sandbox-private.h"

#define MAX_KEY 65536

/* A folder by path and identity: one deleted and made again (a layer that
 * `image gc` removed and a pull unpacked again) is another folder. */
static size_t key_line(char *k, size_t cap, const char *what, const char *path)
{
        struct stat st;
        if (stat(path, &st) < 0)
                st.st_dev = st.st_ino = 0;
        return (size_t) snprintf(k, cap, "%s %llu:%llu %s\n", what, (unsigned long long) st.st_dev,
                                 (unsigned long long) st.st_ino, path);
}

char *kept_root_key(const struct sandbox_root *r, const struct idmap_plan *ids)
{
        /* Each line: a word, two 20-digit numbers, the path. */
        size_t cap = 128 + strlen(r->upperdir) + 64 + strlen(r->workdir) + 64, len;
        for (size_t i = 0; i < r->n_lowerdirs; i++)
                cap += strlen(r->lowerdirs[i]) + 64;
        char *k = xmalloc(cap);
        len = (size_t) snprintf(k, cap, "berth kept root 1\nids %u %u %u %u\n", (unsigned) ids->uid_base,
                                (unsigned) ids->gid_base, (unsigned) ids->count, (unsigned) ids->high_count);
        len += key_line(k + len, cap - len, "upper", r->upperdir);
        len += key_line(k + len, cap - len, "work", r->workdir);
        for (size_t i = 0; i < r->n_lowerdirs; i++)
                len += key_line(k + len, cap - len, "lower", r->lowerdirs[i]);
        return k;
}

int sandbox_root_release(const char *keep_at, berth_error **err)
{
        if (umount2(keep_at, MNT_DETACH | UMOUNT_NOFOLLOW) == 0) {
                (void) unlink(keep_at);
                return 1;
        }
        if (errno == EINVAL || errno == ENOENT) {
                (void) unlink(keep_at);
                return 0;
        }
        return berth_err(err, errno, "unmount the kept root `%s`", keep_at);
}

/* In the pinned namespace: the overlay if /key is exactly key. */
static int open_in_pin(const char *key, int *ret_fd)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        _cleanup_error_ berth_error *e = NULL;
        if (read_file_bounded(AT_FDCWD, "/key", MAX_KEY, "key", &buf, &len, &e) < 0 || len != strlen(key) ||
            memcmp(buf, key, len) != 0)
                return 0;
        int fd = open_tree(AT_FDCWD, "/root", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (fd < 0)
                return 0;
        *ret_fd = fd;
        return 1;
}

int kept_root_open(const char *keep_at, const char *key, int *ret_fd, berth_error **err)
{
        _cleanup_close_ int pin = open(keep_at, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (pin < 0 || ioctl(pin, NS_GET_NSTYPE) != CLONE_NEWNS)
                return 0;
        _cleanup_close_ int self = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (self < 0 || cwd < 0 || setns(pin, CLONE_NEWNS) < 0) {
                log_debug("kept root `%s`: cannot enter its namespace: %s", keep_at, strerror(errno));
                return 0;
        }
        int hit = open_in_pin(key, ret_fd);
        /* setns() moved our root and working folder to the namespace's. */
        if (setns(self, CLONE_NEWNS) < 0 || fchdir(cwd) < 0) {
                int e = errno;
                if (hit)
                        close(*ret_fd);
                return berth_err(err, e, "return from the kept root's namespace");
        }
        if (hit)
                return 1;
        log_debug("kept root `%s` was mounted from other layers or ids: replacing it", keep_at);
        _cleanup_error_ berth_error *e = NULL;
        if (sandbox_root_release(keep_at, &e) < 0)
                log_debug("%s", e->msg);
        return 0;
}

/* The pinning child: a namespace holding a tmpfs with /key and the overlay at
 * /root, then a clone of it for the sandbox. Plain system calls only: the
 * parent may have threads. */
static int pin_child(int overlay, const char *dir, const char *key, int sock)
{
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return 1;
        _cleanup_close_ int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
        if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "size", "1m", 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0700", 0) < 0 ||
            fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return 1;
        _cleanup_close_ int t = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (t < 0 || mkdirat(t, "root", 0700) < 0)
                return 1;
        _cleanup_close_ int k = openat(t, "key", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
        if (k < 0 || write_all(k, key, strlen(key)) < 0)
                return 1;
        /* Attached on our private copy of the state folder, then made the
         * root: the host's mounts are not held by the pin. */
        if (move_mount(t, "", AT_FDCWD, dir, MOVE_MOUNT_F_EMPTY_PATH) < 0 || fchdir(t) < 0 ||
            move_mount(overlay, "", AT_FDCWD, "root", MOVE_MOUNT_F_EMPTY_PATH) < 0 ||
            syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
                return 1;
        _cleanup_close_ int c = open_tree(AT_FDCWD, "/root", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (c < 0 || send_fd(sock, c) < 0)
                return 1;
        char b;
        (void) !read(sock, &b, 1); /* until berth has bound our namespace */
        return 0;
}

int kept_root_pin(int overlay, const char *keep_at, const char *key, int *ret_fd, berth_error **err)
{
        _cleanup_free_ char *dir = xstrdup(keep_at);
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return berth_error_make(err, BERTH_E_INVALID, 0, "kept root `%s`: not in a folder", keep_at);
        *slash = 0;
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return berth_err(err, errno, "socketpair");
        pid_t pid = (pid_t) syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid == 0) {
                close(sv[0]);
                _exit(pin_child(overlay, dir, key, sv[1]));
        }
        int e = errno;
        close(sv[1]);
        int sock = sv[0];
        if (pid < 0) {
                close(sock);
                return berth_err(err, e, "fork");
        }
        int fd = -1, f = -1, r = -1;
        if (recv_fd(sock, "the kept root", &fd, err) < 0)
                goto out;
        char ns[64];
        snprintf(ns, sizeof(ns), "/proc/%d/ns/mnt", (int) pid);
        if (sandbox_root_release(keep_at, err) < 0)
                goto out;
        f = open(keep_at, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (f < 0 || mount(ns, keep_at, NULL, MS_BIND, NULL) < 0) {
                berth_err(err, errno, "pin the kept root on `%s`", keep_at);
                if (f >= 0)
                        (void) unlink(keep_at);
                goto out;
        }
        *ret_fd = TAKE_FD(fd);
        r = 0;
out:
        if (fd >= 0)
                close(fd);
        if (f >= 0)
                close(f);
        close(sock);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        return r;
}
