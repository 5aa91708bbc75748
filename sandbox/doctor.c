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

/* Mount an overlay of folders under tmp as berth would: as root in a private
 * mount namespace, otherwise inside a user namespace with userxattr. */
static int overlay_child(const char *tmp)
{
        bool root = geteuid() == 0;
        uid_t uid = geteuid();
        gid_t gid = getegid();
        if (unshare(root ? CLONE_NEWNS : CLONE_NEWUSER | CLONE_NEWNS) < 0)
                return 1;
        if (!root && map_self(uid, gid) < 0)
                return 2;
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return 4;
        _cleanup_free_ char *opts = xasprintf("lowerdir=%s/l,upperdir=%s/u,workdir=%s/w%s", tmp, tmp, tmp,
                                              root ? "" : ",userxattr");
        _cleanup_free_ char *m = xasprintf("%s/m", tmp);
        return mount("overlay", m, "overlay", 0, opts) < 0 ? 3 : 0;
}

static bool probe_overlay(void)
{
        char tmp[] = "/tmp/berth-doctor-XXXXXX";
        if (!mkdtemp(tmp))
                return false;
        const char *subs[] = { "l", "u", "w", "m" };
        for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
                _cleanup_free_ char *p = xasprintf("%s/%s", tmp, subs[i]);
                mkdir(p, 0700);
        }
        pid_t pid = fork();
        if (pid == 0)
                _exit(overlay_child(tmp));
        bool ok = pid > 0 && wait_status(pid) == 0;
        _cleanup_error_ berth_error *e = NULL;
        rm_rf_at(AT_FDCWD, tmp, &e);
        return ok;
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

int sandbox_host_probe(struct sandbox_host *ret, berth_error **err)
{
        struct sandbox_host h = {};
        struct idmap_plan ids;
        h.userns = probe_userns();
        h.overlay = h.userns && probe_overlay();
        h.idmap = probe_idmap();
        h.seccomp = prctl(PR_GET_SECCOMP) >= 0 && access("/proc/sys/kernel/seccomp/actions_avail", R_OK) == 0;
        h.subid = idmap_plan_make(&ids, err) == 0 && (ids.use_helpers || ids.as_root);
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
        h->cgroup2_dir = h->detail = NULL;
}
