/* The sandbox side: runs as pid 1 of the new namespaces. It builds the root,
 * pivots into it, starts the command and then stays as a small init that
 * reaps zombies and forwards signals. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sched.h>
#include <linux/filter.h>
#include <linux/prctl.h>
#include <linux/seccomp.h>

#include "sandbox-private.h"

extern char **environ;

static _Noreturn void report_and_exit(int fd, berth_error *e, int status)
{
        struct child_report r = { .kind = e ? e->kind : BERTH_E_FAILED, .errnum = e ? e->errnum : 0 };
        snprintf(r.msg, sizeof(r.msg), "%s", e && e->msg ? e->msg : "sandbox setup failed");
        (void) !write(fd, &r, sizeof(r));
        _exit(status);
}

/* ---- the root --------------------------------------------------------- */

static int idmapped_tree(const char *path, int idmap_ns, int *ret_fd, berth_error **err)
{
        _cleanup_close_ int t = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        if (t < 0)
                return berth_err(err, errno, "clone `%s`", path);
        struct mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t) idmap_ns };
        if (mount_setattr(t, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0)
                return berth_err(err, errno, "idmapped mount of `%s`", path);
        *ret_fd = TAKE_FD(t);
        return 0;
}

/* Linux 6.13 and later take an idmapped layer as the detached mount's fd.
 * Before, overlay took only layers attached in our mount namespace: stack
 * each one on the mountpoint and hand overlay the path while it is on top
 * (the caller is then in a private mount namespace that goes away after). */
static int add_layer(int fs, const char *path, int idmap_ns, const char *stack_on, int *ret_keep, berth_error **err)
{
        if (idmap_ns < 0) {
                if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", path, 0) < 0)
                        return berth_err(err, errno, "overlay layer `%s`", path);
                return 0;
        }
        _cleanup_close_ int t = -1;
        if (idmapped_tree(path, idmap_ns, &t, err) < 0)
                return -1;
        if (!stack_on) {
                if (fsconfig(fs, FSCONFIG_SET_FD, "lowerdir+", NULL, t) < 0)
                        return berth_err(err, errno, "overlay layer `%s` (idmapped)", path);
                /* Closing the fd would dissolve the mount before overlay
                 * takes it, at CMD_CREATE. */
                *ret_keep = TAKE_FD(t);
                return 0;
        }
        if (move_mount(t, "", AT_FDCWD, stack_on, MOVE_MOUNT_F_EMPTY_PATH) < 0 ||
            fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", stack_on, 0) < 0)
                return berth_err(err, errno, "overlay layer `%s` (idmapped)", path);
        return 0;
}

struct layer_fds {
        int *fds;
        size_t n;
};

static void close_layersp(struct layer_fds *l)
{
        for (size_t i = 0; i < l->n; i++)
                if (l->fds[i] >= 0)
                        close(l->fds[i]);
        free(l->fds);
}

/* The kernel's version, not a probe: freeing a probe's overlay context
 * waits for an RCU grace period, a tenth of a start-up on two vCPUs. */
bool overlay_takes_fds(void)
{
        struct utsname u;
        unsigned major, minor;
        if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
                return false;
        return major > 6 || (major == 6 && minor >= 13);
}

static int overlay_mount(const struct sandbox_root *r, bool userxattr, int idmap_ns, bool fd_layers, int *ret_fd,
                         berth_error **err)
{
        _cleanup_close_ int fs = fsopen("overlay", FSOPEN_CLOEXEC);
        if (fs < 0)
                return berth_err(err, errno, "fsopen overlay");
        _cleanup_(close_layersp) struct layer_fds keep = { .fds = xcalloc(r->n_lowerdirs, sizeof(int)) };
        /* lowerdir+ takes one layer at a time, topmost first, with no escaping
         * or page-size limit on the option string. */
        for (size_t i = r->n_lowerdirs; i-- > 0;) {
                keep.fds[keep.n] = -1;
                if (add_layer(fs, r->lowerdirs[i], idmap_ns, fd_layers ? NULL : r->mountpoint, &keep.fds[keep.n++],
                              err) < 0)
                        return -1;
        }
        if (r->upperdir && (fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", r->upperdir, 0) < 0 ||
                            fsconfig(fs, FSCONFIG_SET_STRING, "workdir", r->workdir, 0) < 0))
                return berth_err(err, errno, "overlay upper dir `%s`", r->upperdir);
        if (userxattr && fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0)
                return berth_err(err, errno, "overlay userxattr");
        if (r->upperdir && r->volatile_upper && fsconfig(fs, FSCONFIG_SET_FLAG, "volatile", NULL, 0) < 0)
                return berth_err(err, errno, "overlay volatile");
        if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return berth_err(err, errno, "create overlay");
        int m = fsmount(fs, FSMOUNT_CLOEXEC, 0);
        if (m < 0)
                return berth_err(err, errno, "fsmount overlay");
        *ret_fd = m;
        return 0;
}

int root_make_idmapped(const struct sandbox_root *r, int idmap_ns, bool fd_layers, int *ret_fd, berth_error **err)
{
        if (!r->dir)
                return overlay_mount(r, true, idmap_ns, fd_layers, ret_fd, err);
        return idmapped_tree(r->dir, idmap_ns, ret_fd, err);
}

int root_make(const struct sandbox_root *r, bool userxattr, int *ret_fd, berth_error **err)
{
        if (!r->dir)
                return overlay_mount(r, userxattr, -1, false, ret_fd, err);
        int t = open_tree(AT_FDCWD, r->dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        if (t < 0)
                return berth_err(err, errno, "bind root `%s`", r->dir);
        *ret_fd = t;
        return 0;
}

/* Attach the root where pivot_root can take it: on top of / in our private
 * mount namespace, a place the sandbox's ids can always reach (as root they
 * cannot traverse berth's private folders). */
static int root_mount(const struct child_args *a, int *ret_fd, berth_error **err)
{
        const struct sandbox_root *r = &a->c->root;
        _cleanup_close_ int t = -1;
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return berth_err(err, errno, "make / private");
        if (a->root_sock >= 0) {
                int rc = recv_fd(a->root_sock, "the root", &t, err);
                close(a->root_sock);
                if (rc < 0)
                        return -1;
        } else if (root_make(r, true, &t, err) < 0)
                return -1;
        if (t < 0 || move_mount(t, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return berth_err(err, errno, "mount the root");
        *ret_fd = TAKE_FD(t);
        return 0;
}

/* ---- /proc, /dev, /tmp, /etc files ------------------------------------ */

/* The sandbox's own filesystems are made in two steps, once the root is
 * there: prepare_mounts() creates each as a detached mount, attach_mounts()
 * moves them into place, parents first, since a detached mount can take no
 * mount on top of it before Linux 6.15. */

static const char *const proc_masked[] = {
        "acpi", "asound", "kcore", "keys", "latency_stats", "timer_list", "timer_stats",
        "sched_debug", "scsi", NULL,
};
static const char *const proc_readonly[] = { "bus", "fs", "irq", "sys", "sysrq-trigger", NULL };
/* /sys is read-only; these are hidden too, as crun and Docker do. A bind
 * of the host's /sys (network: host) also brings the host's filesystems
 * mounted in it, hidden the same way; /sys/fs/cgroup gets the sandbox's own
 * view (cgroupfs.c). */
static const char *const sys_masked[] = { "firmware", "devices/virtual/powercap", NULL };
static const char *const sys_host_masked[] = { "kernel/security", "kernel/debug", "kernel/tracing", "kernel/config",
                                               "fs/bpf", "fs/pstore", "fs/fuse/connections", NULL };
static const char *const devices[] = { "null", "zero", "full", "random", "urandom", "tty", NULL };
static const char *const etc_files[] = { "hosts", "hostname", "resolv.conf", NULL };

#define N_PROC_OVER (ARRAY_SIZE(proc_masked) + ARRAY_SIZE(proc_readonly))
#define N_SYS_OVER (ARRAY_SIZE(sys_masked) + ARRAY_SIZE(sys_host_masked))
#define N_DEVICES (ARRAY_SIZE(devices) - 1)
#define N_ETC (ARRAY_SIZE(etc_files) - 1)

struct over {
        int src, target;                /* target: O_PATH in the proc or sys mount */
        const char *what;
};

struct mounts {
        int proc;
        struct over over[N_PROC_OVER];  /* masks and read-only paths */
        size_t n_over;
        int sys;                        /* -1: the image has no /sys to mount on */
        bool sys_host;                  /* a bind of the host's /sys */
        struct over sys_over[N_SYS_OVER];
        size_t n_sys_over;
        int dev, pts, shm, device[N_DEVICES];
        int tmp;                        /* -1: the spec mounts /tmp */
        int etc[N_ETC];                 /* generated files, each a bind */
};

static void mounts_done(struct mounts *m)
{
        int *all[] = { &m->proc, &m->sys, &m->dev, &m->pts, &m->shm, &m->tmp };
        for (size_t i = 0; i < ARRAY_SIZE(all); i++)
                if (*all[i] >= 0)
                        close(*all[i]);
        for (size_t i = 0; i < m->n_over; i++) {
                close(m->over[i].src);
                close(m->over[i].target);
        }
        for (size_t i = 0; i < m->n_sys_over; i++) {
                close(m->sys_over[i].src);
                close(m->sys_over[i].target);
        }
        for (size_t i = 0; i < N_DEVICES; i++)
                if (m->device[i] >= 0)
                        close(m->device[i]);
        for (size_t i = 0; i < N_ETC; i++)
                if (m->etc[i] >= 0)
                        close(m->etc[i]);
}

static int bind_clone(int dirfd, const char *path, unsigned attr, bool recursive, int *ret_fd, berth_error **err)
{
        int fd = open_tree(dirfd, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
        if (fd < 0)
                return berth_err(err, errno, "clone mount `%s`", path);
        struct mount_attr a = { .attr_set = attr };
        if (attr && mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a, sizeof(a)) < 0) {
                int e = errno;
                close(fd);
                return berth_err(err, e, "set attributes on `%s`", path);
        }
        *ret_fd = fd;
        return 0;
}

/* What goes over NAME in the proc or sys mount base: an empty read-only
 * tmpfs for a folder, /dev/null for a file (masked), or NAME itself
 * read-only. A path this kernel does not have is skipped. */
static int prepare_over(int base, const char *name, bool mask, struct over *list, size_t *n, berth_error **err)
{
        _cleanup_close_ int t = openat(base, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (t < 0 || fstat(t, &st) < 0)
                return 0;
        int src = -1;
        static const char *const opts[] = { "size", "0", NULL };
        const unsigned ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        if (!mask ? bind_clone(base, name, ro, true, &src, err) < 0
                  : S_ISDIR(st.st_mode) ? fs_new("tmpfs", opts, ro, &src, err) < 0
                                        : bind_clone(AT_FDCWD, "/dev/null", MOUNT_ATTR_RDONLY, false, &src, err) < 0)
                return -1;
        list[*n].src = src;
        list[*n].target = TAKE_FD(t);
        list[(*n)++].what = name;
        return 0;
}

/* A fresh sysfs shows the devices of the network namespace that mounts it,
 * and the kernel lets a user namespace mount one only in a network
 * namespace of its own, and only where the host's /sys is fully visible
 * (not inside a container that masks part of it). Otherwise the host's
 * /sys is bound instead (as crun does rootless), with what is mounted in
 * it; where neither works, the sandbox goes without /sys. */
static int prepare_sys(struct mounts *m, const struct child_args *a, berth_error **err)
{
        const unsigned ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        _cleanup_error_ berth_error *e = NULL;
        m->sys_host = a->c->network == SANDBOX_NET_HOST;
        if (!m->sys_host && fs_new("sysfs", NULL, ro, &m->sys, &e) < 0) {
                log_debug("/sys: %s; binding the host's", e->msg);
                m->sys_host = true;
        }
        _cleanup_error_ berth_error *e2 = NULL;
        if (m->sys_host && bind_clone(AT_FDCWD, "/sys", ro, true, &m->sys, &e2) < 0) {
                log_debug("no /sys in the sandbox: %s", e2->msg);
                return 0;
        }
        for (size_t i = 0; sys_masked[i]; i++)
                if (prepare_over(m->sys, sys_masked[i], true, m->sys_over, &m->n_sys_over, err) < 0)
                        return berth_error_wrap(err, "mask /sys/%s", sys_masked[i]);
        for (size_t i = 0; m->sys_host && sys_host_masked[i]; i++)
                if (prepare_over(m->sys, sys_host_masked[i], true, m->sys_over, &m->n_sys_over, err) < 0)
                        return berth_error_wrap(err, "mask /sys/%s", sys_host_masked[i]);
        return 0;
}

static int prepare_proc(struct mounts *m, berth_error **err)
{
        if (fs_new("proc", NULL, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, &m->proc, err) < 0)
                return berth_error_wrap(err, "/proc");
        for (size_t i = 0; proc_masked[i]; i++)
                if (prepare_over(m->proc, proc_masked[i], true, m->over, &m->n_over, err) < 0)
                        return berth_error_wrap(err, "mask /proc/%s", proc_masked[i]);
        for (size_t i = 0; proc_readonly[i]; i++)
                if (prepare_over(m->proc, proc_readonly[i], false, m->over, &m->n_over, err) < 0)
                        return berth_error_wrap(err, "make /proc/%s read-only", proc_readonly[i]);
        return 0;
}

static int prepare_dev(struct mounts *m, berth_error **err)
{
        static const char *const dev_opts[] = { "mode", "0755", "size", "1048576", NULL };
        static const char *const pts_opts[] = { "newinstance", NULL, "ptmxmode", "0666", "mode", "0620", NULL };
        static const char *const shm_opts[] = { "mode", "1777", "size", "67108864", NULL };
        static const char *const links[][2] = {
                { "ptmx", "pts/ptmx" }, { "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" },
                { "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" }, { "core", "/proc/kcore" },
        };
        if (fs_new("tmpfs", dev_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, &m->dev, err) < 0)
                return berth_error_wrap(err, "/dev");
        for (size_t i = 0; devices[i]; i++) {
                char host[32];
                snprintf(host, sizeof(host), "/dev/%s", devices[i]);
                if (bind_clone(AT_FDCWD, host, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, false, &m->device[i], err) < 0)
                        return berth_error_wrap(err, "/dev");
        }
        for (size_t i = 0; i < ARRAY_SIZE(links); i++)
                if (symlinkat(links[i][1], m->dev, links[i][0]) < 0)
                        return berth_err(err, errno, "/dev/%s", links[i][0]);
        if (mkdirat(m->dev, "pts", 0755) < 0 || mkdirat(m->dev, "shm", 0755) < 0)
                return berth_err(err, errno, "/dev");
        if (fs_new("devpts", pts_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, &m->pts, err) < 0)
                return berth_error_wrap(err, "/dev/pts");
        if (fs_new("tmpfs", shm_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, &m->shm, err) < 0)
                return berth_error_wrap(err, "/dev/shm");
        return 0;
}

static int put_file(int dirfd, const char *name, const char *text, berth_error **err)
{
        _cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 || write_all(fd, text, strlen(text)) < 0)
                return berth_err(err, errno, "write %s", name);
        return 0;
}

/* Where the generated /etc file i waits in the /dev tmpfs. */
/* The generated files are written into the /dev tmpfs and cloned as
 * read-only binds; attach_mounts() unlinks them there once the binds are in
 * place (a bind of an unlinked file cannot be attached), so the sandbox sees
 * them only in /etc. A tmpfs of their own would cost an RCU grace period
 * when its detached mount is closed, on the way to every start. */
static int prepare_etc(struct mounts *m, const struct child_args *a, berth_error **err)
{
        const char *host = a->c->hostname ? a->c->hostname : "berth";
        const char *more = a->c->host_aliases ? a->c->host_aliases : "";
        _cleanup_free_ char *hosts = xasprintf("127.0.0.1\tlocalhost %s%s%s\n::1\tlocalhost ip6-localhost ip6-loopback\n",
                                               host, *more ? " " : "", more);
        _cleanup_free_ char *hostname = xasprintf("%s\n", host);
        const char *resolv = a->resolv_conf ? a->resolv_conf : "# berth: no name servers in this network mode\n";
        const char *text[] = { hosts, hostname, resolv };
        /* A tmpfs of their own (resolv.conf up to 64 KiB), each file bound
         * read-only; the tmpfs goes once the last bind does. */
        static const char *const opts[] = { "mode", "0755", "size", "1048576", NULL };
        _cleanup_close_ int fs = -1;
        if (fs_new("tmpfs", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, &fs, err) < 0)
                return -1;
        for (size_t i = 0; etc_files[i]; i++)
                if (put_file(fs, etc_files[i], text[i], err) < 0 ||
                    bind_clone(fs, etc_files[i], MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, false,
                               &m->etc[i], err) < 0)
                        return -1;
        return 0;
}

static bool has_mount_at(const struct sandbox_config *c, const char *target)
{
        for (size_t i = 0; i < c->n_mounts; i++)
                if (streq(c->mounts[i].target, target))
                        return true;
        return false;
}

static void mounts_init(struct mounts *m)
{
        *m = (struct mounts) { .proc = -1, .sys = -1, .dev = -1, .pts = -1, .shm = -1, .tmp = -1 };
        for (size_t i = 0; i < N_DEVICES; i++)
                m->device[i] = -1;
        for (size_t i = 0; i < N_ETC; i++)
                m->etc[i] = -1;
}

static int prepare_mounts(struct mounts *m, const struct child_args *a, berth_error **err)
{
        if (prepare_proc(m, err) < 0 || prepare_sys(m, a, err) < 0 || prepare_dev(m, err) < 0)
                return -1;
        static const char *const tmp_opts[] = { "mode", "1777", NULL };
        if (!has_mount_at(a->c, "/tmp") &&
            fs_new("tmpfs", tmp_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, &m->tmp, err) < 0)
                return berth_error_wrap(err, "/tmp");
        if (prepare_etc(m, a, err) < 0)
                return berth_error_wrap(err, "/etc");
        return 0;
}

static int move_onto(int src, int target, const char *what, berth_error **err)
{
        if (move_mount(src, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return berth_err(err, errno, "mount %s", what);
        return 0;
}

/* A generated file goes over /etc/NAME, made if missing; where it cannot
 * be (/etc a symlink out of the root, or not a folder) the sandbox goes
 * without it. */
static int attach_etc(int rootfd, int src, const char *name, berth_error **err)
{
        _cleanup_free_ char *target = xasprintf("etc/%s", name);
        _cleanup_close_ int t = -1;
        _cleanup_error_ berth_error *e = NULL;
        if (open_beneath(rootfd, target, true, false, &t, &e) < 0) {
                log_debug("no /%s in the sandbox: %s", target, e->msg);
                return 0;
        }
        struct stat st;
        if (fstat(t, &st) < 0 || !S_ISREG(st.st_mode))
                return 0;
        return move_onto(src, t, target, err);
}

/* Whether /sys is there for cgroup_view_mount(): 0 none, 1 a fresh sysfs,
 * 2 the host's. */
static int sys_mounted;

/* An image whose /sys cannot be made, or is a symlink, goes without. */
static int attach_sys(int rootfd, const struct mounts *m, berth_error **err)
{
        _cleanup_close_ int t = -1;
        if (m->sys < 0)
                return 0;
        _cleanup_error_ berth_error *e = NULL;
        struct stat st;
        if (open_beneath(rootfd, "sys", true, true, &t, &e) < 0 || fstat(t, &st) < 0 || !S_ISDIR(st.st_mode)) {
                log_debug("no /sys in the sandbox: %s", e ? e->msg : "not a folder");
                return 0;
        }
        if (move_onto(m->sys, t, "/sys", err) < 0)
                return -1;
        for (size_t i = 0; i < m->n_sys_over; i++)
                if (move_onto(m->sys_over[i].src, m->sys_over[i].target, m->sys_over[i].what, err) < 0)
                        return -1;
        sys_mounted = m->sys_host ? 2 : 1;
        return 0;
}

static int attach_mounts(int rootfd, const struct mounts *m, berth_error **err)
{
        if (mount_at(m->proc, rootfd, "proc", true, err) < 0)
                return berth_error_wrap(err, "/proc");
        for (size_t i = 0; i < m->n_over; i++)
                if (move_onto(m->over[i].src, m->over[i].target, m->over[i].what, err) < 0)
                        return berth_error_wrap(err, "/proc");
        if (attach_sys(rootfd, m, err) < 0)
                return berth_error_wrap(err, "/sys");
        if (mount_at(m->dev, rootfd, "dev", true, err) < 0)
                return berth_error_wrap(err, "/dev");
        for (size_t i = 0; i < N_DEVICES; i++)
                if (mount_at(m->device[i], m->dev, devices[i], false, err) < 0)
                        return berth_error_wrap(err, "/dev");
        if (mount_at(m->pts, m->dev, "pts", true, err) < 0 || mount_at(m->shm, m->dev, "shm", true, err) < 0)
                return berth_error_wrap(err, "/dev");
        if (m->tmp >= 0 && mount_at(m->tmp, rootfd, "tmp", true, err) < 0)
                return berth_error_wrap(err, "/tmp");
        for (size_t i = 0; i < N_ETC; i++)
                if (attach_etc(rootfd, m->etc[i], etc_files[i], err) < 0)
                        return berth_error_wrap(err, "/etc");
        return 0;
}

/* ---- the spec's mounts ------------------------------------------------- */

static int user_mount(int rootfd, const struct sandbox_mount *m, int prepared_fd, berth_error **err)
{
        _cleanup_close_ int fd = -1;
        if (m->type == SANDBOX_MOUNT_TMPFS) {
                char size[32];
                snprintf(size, sizeof(size), "%llu", (unsigned long long) m->size);
                const char *opts[] = { "mode", "1777", m->size ? "size" : NULL, size, NULL };
                unsigned attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (m->read_only ? MOUNT_ATTR_RDONLY : 0);
                if (fs_new("tmpfs", opts, attr, &fd, err) < 0)
                        return -1;
                return mount_at(fd, rootfd, m->target, true, err);
        }
        struct stat st;
        if ((prepared_fd >= 0 ? fstat(prepared_fd, &st) : stat(m->source, &st)) < 0)
                return berth_err(err, errno, "bind source `%s`", m->source);
        unsigned attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (m->read_only ? MOUNT_ATTR_RDONLY : 0);
        if (prepared_fd >= 0) {
                struct mount_attr a = { .attr_set = attr };
                fd = fcntl(prepared_fd, F_DUPFD_CLOEXEC, 3);
                if (fd < 0 || mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0)
                        return berth_err(err, errno, "bind `%s`", m->source);
        } else if (bind_clone(AT_FDCWD, m->source, attr, true, &fd, err) < 0)
                return -1;
        return mount_at(fd, rootfd, m->target, S_ISDIR(st.st_mode), err);
}

static int setup_mounts(int rootfd, const struct child_args *a, const struct mounts *own, berth_error **err)
{
        const struct sandbox_config *c = a->c;
        if (attach_mounts(rootfd, own, err) < 0)
                return -1;
        for (size_t i = 0; i < c->n_mounts; i++)
                if (user_mount(rootfd, &c->mounts[i], a->bind_fds ? a->bind_fds[i] : -1, err) < 0)
                        return berth_error_wrap(err, "mount %s", c->mounts[i].target);
        if (c->root.read_only) {
                struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
                if (mount_setattr(rootfd, "", AT_EMPTY_PATH, &ro, sizeof(ro)) < 0)
                        return berth_err(err, errno, "make / read-only");
        }
        return 0;
}

static int enter_root(int rootfd, berth_error **err)
{
        if (fchdir(rootfd) < 0)
                return berth_err(err, errno, "chdir to the root");
        /* pivot_root(".", ".") stacks the old root on the new one; detach it. */
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                return berth_err(err, errno, "pivot_root");
        if (umount2(".", MNT_DETACH) < 0)
                return berth_err(err, errno, "detach the old root");
        if (chdir("/") < 0)
                return berth_err(err, errno, "chdir /");
        return 0;
}

int loopback_up(berth_error **err)
{
        _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = {};
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
        if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
                return berth_err(err, errno, "loopback");
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
                return berth_err(err, errno, "bring loopback up");
        return 0;
}

int read_last_cap(void)
{
        char buf[16] = {};
        int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
        if (fd >= 0)
                close(fd);
        return n > 0 ? atoi(buf) : 40;
}

/* ---- the command ------------------------------------------------------ */

char **command_env(char *const *env, bool *has_path)
{
        size_t n = strv_length(env);
        char **out = xcalloc(n + 3, sizeof(char *));
        size_t k = 0;
        *has_path = false;
        for (size_t i = 0; i < n; i++) {
                *has_path |= startswith(env[i], "PATH=") != NULL;
                out[k++] = env[i];
        }
        const char *term = getenv("TERM");
        if (term)
                out[k++] = xasprintf("TERM=%s", term);
        if (!*has_path)
                out[k++] = (char *) "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        return out;
}

/* Raw system calls, as in posix_spawn's child: the command still shares the
 * init's memory here (see spawn_command). */
int become_user(const struct child_args *a, berth_error **err)
{
        if (syscall(SYS_setgroups, 0, NULL) < 0 && errno != EPERM)
                return berth_err(err, errno, "setgroups");
        if (syscall(SYS_setresgid, a->gid, a->gid, a->gid) < 0)
                return berth_err(err, errno, "group %u is not mapped in the sandbox", (unsigned) a->gid);
        if (syscall(SYS_setresuid, a->uid, a->uid, a->uid) < 0)
                return berth_err(err, errno, "user %u is not mapped in the sandbox", (unsigned) a->uid);
        return 0;
}

/* SPEC_ALLOW, as crun and runc do by default: otherwise the kernel forces
 * the Speculative Store Bypass mitigation on every filtered process, which
 * slows interpreters by half, against an attack from within the same
 * address space that the sandbox is not there to stop. A process may still
 * ask for it with prctl(PR_SET_SPECULATION_CTRL). Kernels before 4.17 do
 * not know the flag. */
int load_seccomp(const struct sandbox_bpf *b, berth_error **err)
{
        struct sock_fprog prog = { .len = (unsigned short) b->n_insns, .filter = b->insns };
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, &prog) < 0 &&
            (errno != EINVAL || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0))
                return berth_err(err, errno, "load seccomp filter");
        return 0;
}

static _Noreturn void command_main(const struct child_args *a, int last_cap, int pty_slave)
{
        berth_error *e = NULL;
        /* berth installs no handlers; reset what a caller may have ignored. */
        static const int sigs[] = { SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGCHLD, SIGTSTP, SIGTTIN, SIGTTOU,
                                    SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH };
        sigset_t none;
        sigemptyset(&none);
        for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
                signal(sigs[i], SIG_DFL);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (setsid() < 0)
                berth_err(&e, errno, "setsid");
        else if (pty_slave >= 0 && (ioctl(pty_slave, TIOCSCTTY, 0) < 0 || dup2(pty_slave, 0) < 0 ||
                                    dup2(pty_slave, 1) < 0 || dup2(pty_slave, 2) < 0))
                berth_err(&e, errno, "attach the terminal");
        else if (chdir(a->c->cwd ? a->c->cwd : "/") < 0)
                berth_err(&e, errno, "working directory `%s`", a->c->cwd);
        else if (caps_bound(a->caps, last_cap, &e) == 0 && become_user(a, &e) == 0 &&
                 caps_apply(a->caps, a->uid == 0, &e) == 0) {
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        berth_err(&e, errno, "no_new_privs");
                else if (syscall(SYS_close_range, 3, ~0u, CLOSE_RANGE_CLOEXEC) < 0)
                        berth_err(&e, errno, "close_range");
        }
        if (e || (a->bpf && load_seccomp(a->bpf, &e) < 0))
                report_and_exit(a->report_fd, e, 125);
        execvp(a->c->argv[0], a->c->argv);
        int en = errno;
        berth_error_make(&e, en == ENOENT || en == ENOTDIR ? BERTH_E_NOCMD : BERTH_E_NOEXEC, en, "exec `%s`",
                         a->c->argv[0]);
        report_and_exit(a->report_fd, e, en == ENOENT || en == ENOTDIR ? 127 : 126);
}

/* ---- init ------------------------------------------------------------- */

struct command {
        const struct child_args *a;
        int last_cap, pty_slave;
};

static int command_entry(void *arg)
{
        const struct command *c = arg;
        command_main(c->a, c->last_cap, c->pty_slave);
}

/* The command shares the init's memory until it execs (CLONE_VM with
 * CLONE_VFORK, as posix_spawn does): no page tables to copy and none for exec
 * to tear down, about 0.15 ms of every start. The init is single-threaded and
 * waits meanwhile; whatever the command allocates before a failed exec dies
 * with the init. Signal handlers, fds, cwd, credentials and the seccomp
 * filter stay the command's own. */
static pid_t spawn_command(const struct child_args *a, int last_cap, int pty_slave)
{
        bool has_path;
        struct command c = { .a = a, .last_cap = last_cap, .pty_slave = pty_slave };
        /* The init needs no environment of its own; execvp searches the
         * command's PATH. */
        environ = command_env(a->c->env, &has_path);
#ifdef __SANITIZE_ADDRESS__
        /* AddressSanitizer cannot follow a switch to another stack. */
        pid_t pid = fork();
        if (pid == 0)
                command_entry(&c);
        return pid;
#else
        static char stack[256 * 1024] __attribute__((aligned(16)));
        return clone(command_entry, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, &c);
#endif
}

/* ---- the init's name ---------------------------------------------------- */

/* /proc/1/cmdline and /proc/1/environ are read from the init's memory,
 * between bounds the kernel keeps; as a copy of berth it held berth's
 * command line (the host's path to it) and environment. The init points
 * the bounds at "berth-init" (PR_SET_MM_MAP: no privilege needed while the
 * executable stays; the kernel reads only anonymous memory there, hence the
 * heap) and wipes berth's own strings once the command has exec'd. */
struct old_args {
        unsigned long start, end;       /* berth's argv and environment */
        bool rename_in_place;           /* PR_SET_MM_MAP failed */
};

static int read_mm_map(struct prctl_mm_map *m, berth_error **err)
{
        _cleanup_free_ char *stat = NULL;
        if (read_file_bounded(AT_FDCWD, "/proc/self/stat", 4096, "/proc/self/stat", &stat, NULL, err) < 0)
                return -1;
        /* Fields after the command name, which may hold spaces: the 3rd on. */
        char *p = strrchr(stat, ')');
        unsigned long long v[53] = {};
        for (int i = 3; p && *p && i < 53; i++) {
                p = strchr(p, ' ');
                if (p)
                        v[i] = strtoull(++p, NULL, 10);
        }
        *m = (struct prctl_mm_map) { .start_code = v[26], .end_code = v[27], .start_stack = v[28],
                                     .start_data = v[45], .end_data = v[46], .start_brk = v[47],
                                     .brk = (uint64_t) syscall(SYS_brk, 0), .arg_start = v[48], .arg_end = v[49],
                                     .env_start = v[50], .env_end = v[51], .exe_fd = (uint32_t) -1 };
        if (!m->arg_start || !m->env_end)
                return berth_err(err, 0, "/proc/self/stat: no argument bounds");
        return 0;
}

static void name_init(struct old_args *old)
{
        static const char name[] = "berth-init";
        _cleanup_error_ berth_error *e = NULL;
        struct prctl_mm_map m;
        *old = (struct old_args) {};
        prctl(PR_SET_NAME, name);
        if (read_mm_map(&m, &e) < 0) {
                log_debug("the init keeps berth's command line: %s", e->msg);
                return;
        }
        old->start = m.arg_start;
        old->end = m.env_end;
        char *title = xstrdup(name);
        m.arg_start = (uintptr_t) title;
        m.arg_end = m.env_start = m.env_end = (uintptr_t) title + sizeof(name);
        if (prctl(PR_SET_MM, PR_SET_MM_MAP, &m, sizeof(m), 0) < 0) {
                /* Without CONFIG_CHECKPOINT_RESTORE: the name goes over
                 * berth's arguments once they are wiped. */
                log_debug("PR_SET_MM_MAP: %s", strerror(errno));
                free(title);
                old->rename_in_place = true;
        }
}

static void wipe_old_args(const struct old_args *old)
{
        char *start = (char *) old->start;
        if (!old->start || old->end <= old->start)
                return;
        explicit_bzero(start, old->end - old->start);
        if (old->rename_in_place && old->end - old->start > sizeof("berth-init"))
                memcpy(start, "berth-init", sizeof("berth-init"));
}

void relayed_signals(sigset_t *s)
{
        static const int sigs[] = { SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
                                    SIGCONT, SIGALRM };
        sigemptyset(s);
        for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
                sigaddset(s, sigs[i]);
}

static _Noreturn void init_loop(pid_t cmd)
{
        sigset_t set;
        relayed_signals(&set);
        for (;;) {
                siginfo_t si;
                int sig = sigwaitinfo(&set, &si);
                if (sig < 0)
                        continue;
                if (sig != SIGCHLD) {
                        if (kill(-cmd, sig) < 0)
                                kill(cmd, sig);
                        continue;
                }
                int st;
                pid_t p;
                while ((p = waitpid(-1, &st, WNOHANG)) > 0)
                        if (p == cmd)
                                _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        }
}

static int open_pty(int *ret_master, int *ret_slave, berth_error **err)
{
        _cleanup_close_ int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0)
                return berth_err(err, errno, "open a pty");
        char name[64];
        if (ptsname_r(m, name, sizeof(name)) != 0)
                return berth_err(err, errno, "ptsname");
        int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (s < 0)
                return berth_err(err, errno, "open %s", name);
        *ret_master = TAKE_FD(m);
        *ret_slave = s;
        return 0;
}

static int setup(const struct child_args *a, int *ret_last_cap, berth_error **err)
{
        const struct sandbox_config *c = a->c;
        _cleanup_close_ int rootfd = -1;
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
                return berth_err(err, errno, "become root in the user namespace");
        /* Changing ids cleared the parent-death signal: set it again, then make
         * sure berth did not die in between (it holds the sync socket open). */
        struct pollfd p = { .fd = a->sync_fd, .events = POLLIN };
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || poll(&p, 1, 0) < 0 || (p.revents & (POLLHUP | POLLERR)))
                _exit(125);
        if (setgroups(0, NULL) < 0 && errno != EPERM)
                return berth_err(err, errno, "setgroups");
        /* The init is a copy of berth: its memory holds berth's environment,
         * and it runs with every capability and no seccomp filter. Not
         * dumpable, no process in the sandbox may read or trace it, even
         * with CAP_SYS_PTRACE: that would take the capability in the host's
         * user namespace, which owns this memory. (Changing ids did this
         * already as root; rootless the ids stay the caller's.) */
        if (prctl(PR_SET_DUMPABLE, 0) < 0)
                return berth_err(err, errno, "prctl(PR_SET_DUMPABLE)");
        const char *h = c->hostname ? c->hostname : "berth";
        if (sethostname(h, strlen(h)) < 0)
                return berth_err(err, errno, "sethostname");
        _cleanup_(mounts_done) struct mounts own;
        mounts_init(&own);
        *ret_last_cap = read_last_cap();
        if (root_mount(a, &rootfd, err) < 0 || prepare_mounts(&own, a, err) < 0 ||
            setup_mounts(rootfd, a, &own, err) < 0)
                return berth_error_wrap(err, "root");
        return enter_root(rootfd, err);
}

/* The command starts only inside berth's cgroup, in a cgroup namespace
 * rooted there, and under rlimits for what the cgroup does not cover. */
static int join_limits(const struct child_args *a, berth_error **err)
{
        struct join_msg j;
        int fds[MAX_PASSED_FDS];
        size_t n = 0;
        if (recv_fds(a->sync_fd, &j, sizeof(j), fds, &n) < 0 || j.tag != 'j')
                _exit(125); /* berth died */
        close(a->sync_fd);
        size_t n_join = j.n_join < n ? j.n_join : n;
        int r = cgroup_self_join(fds, n_join, err);
        if (r == 0 && unshare(CLONE_NEWCGROUP) < 0)
                r = berth_err(err, errno, "cgroup namespace");
        /* The limits hold without it: a kernel that refuses it costs the
         * sandbox only the view of them. */
        _cleanup_error_ berth_error *view = NULL;
        int view_fds[4] = { -1, -1, -1, -1 };
        for (size_t i = n_join; i < n && i - n_join < 4; i++)
                view_fds[i - n_join] = fds[i];
        if (r == 0 && sys_mounted && cgroup_view_mount(&j, view_fds, sys_mounted == 2, &view) < 0)
                log_debug("/sys/fs/cgroup: %s", view->msg);
        for (size_t i = 0; i < n; i++)
                close(fds[i]);
        if (r < 0)
                return -1;
        return rlimits_apply(&a->c->limits, j.pids, err);
}

/* berth starts pasta on our network namespace now, while we wait for our
 * maps. As fds: once we change ids, berth may no longer open our /proc. */
static void announce_netns(int sock)
{
        int fds[2] = { open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC) };
        if (fds[0] < 0 || fds[1] < 0 || send_fds(sock, "n", 1, fds, 2) < 0)
                _exit(125);
        close(fds[0]);
        close(fds[1]);
}

_Noreturn void child_main(const struct child_args *a)
{
        berth_error *e = NULL;
        char b;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* Our user namespace gives us the capabilities for this before it
         * has maps: loopback comes up while berth writes them. */
        if (a->c->network != SANDBOX_NET_HOST && !a->c->join && loopback_up(&e) < 0) {
                if (!e)
                        berth_err(&e, errno, "network namespace");
                report_and_exit(a->report_fd, e, 125);
        }
        if (a->announce_netns)
                announce_netns(a->sync_fd);
        if (read(a->sync_fd, &b, 1) != 1)
                _exit(125); /* berth died before it mapped us */
        int last_cap = 40, master = -1, slave = -1;
        if (setup(a, &last_cap, &e) < 0)
                report_and_exit(a->report_fd, e, 125);
        if (join_limits(a, &e) < 0)
                report_and_exit(a->report_fd, e, 125);
        if (a->pty_sock >= 0) {
                if (open_pty(&master, &slave, &e) < 0 || send_fd(a->pty_sock, master) < 0)
                        report_and_exit(a->report_fd, e, 125);
                close(master);
                close(a->pty_sock);
        }
        struct old_args old;
        name_init(&old);
        pid_t cmd = spawn_command(a, last_cap, slave);
        if (cmd < 0) {
                berth_err(&e, errno, "start the command");
                report_and_exit(a->report_fd, e, 125);
        }
        /* The command has exec'd (or failed): berth's strings can go. */
        wipe_old_args(&old);
        if (slave >= 0)
                close(slave);
        close(a->report_fd);
        init_loop(cmd);
}
