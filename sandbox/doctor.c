/* What this host offers a sandbox: each probe runs in a short-lived child so
 * nothing it changes outlives it. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "sandbox-private.h"

static int wait_status(pid_t pid)
{
        int st;
        while (waitpid(pid, &st, 0) < 0)
                if (errno != EINTR)
                        return -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int map_self(uid_t uid, gid_t gid)
{
        char buf[64];
        int fd = open("/proc/self/setgroups", O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
                (void) !write(fd, "deny", 4);
                close(fd);
        }
        snprintf(buf, sizeof(buf), "0 %u 1", (unsigned) uid);
        fd = open("/proc/self/uid_map", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, buf, strlen(buf)) < 0)
                return -1;
        close(fd);
        snprintf(buf, sizeof(buf), "0 %u 1", (unsigned) gid);
        fd = open("/proc/self/gid_map", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, buf, strlen(buf)) < 0)
                return -1;
        close(fd);
        return 0;
}

/* In a child: mount the overlay as sandbox_run() would (root in a private
 * mount namespace, a user in its own user namespace), then exit; the mount
 * goes with it. The reason for a failure comes back on fd. */
static _Noreturn void overlay_child(const struct sandbox_root *r, int fd)
{
        _cleanup_error_ berth_error *e = NULL;
        bool root = geteuid() == 0;
        uid_t uid = geteuid();
        gid_t gid = getegid();
        _cleanup_close_ int m = -1;
        if (unshare(root ? CLONE_NEWNS : CLONE_NEWUSER | CLONE_NEWNS) < 0)
                berth_err(&e, errno, "unshare");
        else if (!root && map_self(uid, gid) < 0)
                berth_err(&e, errno, "map the user namespace");
        else if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                berth_err(&e, errno, "make / private");
        else
                root_make(r, true, &m, &e);
        if (e) {
                _cleanup_free_ char *t = berth_error_text(e);
                (void) !write(fd, t, strlen(t));
        }
        _exit(e ? 1 : 0);
}

int sandbox_overlay_usable(const struct sandbox_root *r, char **ret_reason, berth_error **err)
{
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return berth_err(err, errno, "pipe");
        pid_t pid = fork();
        if (pid == 0) {
                close(p[0]);
                overlay_child(r, p[1]);
        }
        close(p[1]);
        if (pid < 0) {
                close(p[0]);
                return berth_err(err, errno, "fork");
        }
        char buf[1024];
        ssize_t n, len = 0;
        while (len < (ssize_t) sizeof(buf) - 1 &&
               ((n = read(p[0], buf + len, sizeof(buf) - 1 - (size_t) len)) > 0 || (n < 0 && errno == EINTR)))
                len += n > 0 ? n : 0;
        close(p[0]);
        buf[len] = 0;
        if (wait_status(pid) == 0) {
                *ret_reason = NULL;
                return 1;
        }
        *ret_reason = xstrdup(len ? buf : "the overlay probe failed");
        return 0;
}

/* Overlay of empty folders in a temporary folder under dir (else $TMPDIR),
 * removed whatever happens. */
static bool probe_overlay(const char *dir, char **ret_reason)
{
        const char *base = dir ? dir : getenv("TMPDIR");
        _cleanup_free_ char *tmp = xasprintf("%s/berth-doctor-XXXXXX", base && base[0] == '/' ? base : "/tmp");
        if (!mkdtemp(tmp)) {
                *ret_reason = xasprintf("temporary folder: %s", strerror(errno));
                return false;
        }
        _cleanup_free_ char *l = xasprintf("%s/l", tmp), *u = xasprintf("%s/u", tmp), *w = xasprintf("%s/w", tmp),
                            *m = xasprintf("%s/m", tmp);
        const char *lower[] = { l };
        struct sandbox_root r = { .lowerdirs = lower, .n_lowerdirs = 1, .upperdir = u, .workdir = w, .mountpoint = m };
        _cleanup_error_ berth_error *e = NULL;
        int ok = 0;
        if (mkdir(l, 0700) < 0 || mkdir(u, 0700) < 0 || mkdir(w, 0700) < 0 || mkdir(m, 0700) < 0)
                *ret_reason = xasprintf("temporary folder: %s", strerror(errno));
        else if ((ok = sandbox_overlay_usable(&r, ret_reason, &e)) < 0)
                *ret_reason = berth_error_text(e);
        _cleanup_error_ berth_error *e2 = NULL;
        if (rm_rf_at(AT_FDCWD, tmp, &e2) < 0)
                log_debug("doctor: %s", e2->msg);
        return ok == 1;
}

static bool probe_userns(void)
{
        pid_t pid = (pid_t) syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET |
                                                       CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP | SIGCHLD,
                                    NULL, NULL, NULL, NULL);
        if (pid == 0)
                _exit(0);
        return pid > 0 && wait_status(pid) == 0;
}

static bool probe_idmap(void)
{
        if (geteuid() != 0)
                return true; /* not needed: the sandbox's root is the user */
        _cleanup_error_ berth_error *e = NULL;
        _cleanup_close_ int ns = -1;
        if (idmap_userns_fd(0, 0x70000000u, 0, 0x70000000u, &ns, &e) < 0)
                return false;
        _cleanup_close_ int t = open_tree(AT_FDCWD, "/tmp", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        struct mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t) ns };
        return t >= 0 && mount_setattr(t, "", AT_EMPTY_PATH, &a, sizeof(a)) == 0;
}

int sandbox_host_probe(struct sandbox_host *ret, const char *dir, berth_error **err)
{
        struct sandbox_host h = {};
        struct idmap_plan ids;
        if (idmap_plan_make(&ids, err) < 0)
                return -1;
        h.userns = probe_userns();
        h.overlay = h.userns && probe_overlay(dir, &h.overlay_detail);
        h.pasta = sandbox_net_usable(&h.pasta_path, &h.pasta_detail) > 0;
        h.idmap = probe_idmap();
        h.seccomp = prctl(PR_GET_SECCOMP) >= 0 && access("/proc/sys/kernel/seccomp/actions_avail", R_OK) == 0;
        h.subid = ids.use_helpers || ids.as_root;
        h.ids = (uint64_t) ids.count + ids.high_count;
        h.kept_root = ids.as_root && h.overlay && h.idmap && overlay_takes_fds();
        limits_detect(&h.memory, &h.cpus, &h.pids, &h.cgroup2_dir);
        h.nofile = SANDBOX_LIMIT_RLIMIT;
        if (!h.userns)
                h.detail = xstrdup("cannot create user namespaces: check kernel.unprivileged_userns_clone "
                                   "and user.max_user_namespaces");
        *ret = h;
        return 0;
}

void sandbox_host_done(struct sandbox_host *h)
{
        free(h->cgroup2_dir);
        free(h->detail);
        free(h->overlay_detail);
        free(h->pasta_path);
        free(h->pasta_detail);
        h->cgroup2_dir = h->detail = h->overlay_detail = h->pasta_path = h->pasta_detail = NULL;
}
