/* /sys/fs/cgroup inside the sandbox: its own cgroup, read-only, so that
 * programs that size themselves by their limit (the JVM, Go, Node, Python's
 * os.process_cpu_count()) find it where they look. The init mounts it in
 * its new cgroup namespace, whose root is berth's cgroup: a fresh cgroup
 * mount there shows only that cgroup and what is below it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "sandbox-private.h"

#define RO_ATTRS (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)
#define MAX_HIERARCHIES 3

static bool in_list(const char *list, const char *word)
{
        size_t n = strlen(word);
        for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
                if (strncmp(p, word, n) == 0 && (p[n] == ',' || p[n] == 0))
                        return true;
        return false;
}

/* The v1 hierarchies berth limits, by their controller lists as
 * /proc/self/cgroup names them ("memory", "cpu,cpuacct"). */
static int v1_hierarchies(const struct join_msg *j, char ret[][64], size_t *ret_n, berth_error **err)
{
        _cleanup_free_ char *text = NULL;
        size_t n = 0;
        if (read_file_bounded(AT_FDCWD, "/proc/self/cgroup", 65536, "/proc/self/cgroup", &text, NULL, err) < 0)
                return -1;
        for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && n < MAX_HIERARCHIES;
             l = strtok_r(NULL, "\n", &save)) {
                char *list = strchr(l, ':'), *end = list ? strchr(list + 1, ':') : NULL;
                if (!end || end == list + 1 || (size_t) (end - list) > 64)
                        continue;
                *end = 0;
                list++;
                if ((j->memory && in_list(list, "memory")) || (j->pids && in_list(list, "pids")) ||
                    (j->cpus && in_list(list, "cpu")))
                        snprintf(ret[n++], 64, "%s", list);
        }
        *ret_n = n;
        return 0;
}

/* berth's bind of the folder for a controller in list, or -1. */
static int view_for(const struct join_msg *j, const int *view_fds, const char *list)
{
        static const char *const ctrls[] = { "memory", "pids", "cpu" };
        for (size_t i = 0; i < 4 && view_fds[i] >= 0; i++)
                for (size_t k = 0; k < ARRAY_SIZE(ctrls); k++)
                        if (j->view[i] == ctrls[k][0] && in_list(list, ctrls[k]))
                                return view_fds[i];
        return -1;
}

/* One v1 hierarchy at LIST in the tmpfs: berth's bind of our folder, or
 * a fresh mount with the controllers as flags; a co-mounted one
 * ("cpu,cpuacct") gets a symlink for each name. */
static int mount_v1(int tmp, char *list, int view, berth_error **err)
{
        const char *opts[2 * 4 + 1] = {};
        _cleanup_free_ char *copy = xstrdup(list);
        size_t k = 0;
        for (char *save = NULL, *c = strtok_r(copy, ",", &save); c && k < 8; c = strtok_r(NULL, ",", &save)) {
                opts[k++] = c;
                opts[k++] = NULL;
                if (strchr(list, ',') && symlinkat(list, tmp, c) < 0 && errno != EEXIST)
                        return berth_err(err, errno, "symlink %s", c);
        }
        _cleanup_close_ int fd = -1;
        if (mkdirat(tmp, list, 0755) < 0)
                return berth_err(err, errno, "mkdir %s", list);
        if (view >= 0)
                return mount_at(view, tmp, list, true, err);
        if (fs_new("cgroup", opts, RO_ATTRS, &fd, err) < 0)
                return -1;
        return mount_at(fd, tmp, list, true, err);
}

/* A small tmpfs holds a folder for each hierarchy, as on the host. */
static int view_v1(int rootfd, const struct join_msg *j, const int *view_fds, berth_error **err)
{
        char lists[MAX_HIERARCHIES][64];
        size_t n;
        static const char *const opts[] = { "mode", "0755", "size", "65536", NULL };
        _cleanup_close_ int tmp = -1;
        if (v1_hierarchies(j, lists, &n, err) < 0 ||
            fs_new("tmpfs", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, &tmp, err) < 0)
                return -1;
        for (size_t i = 0; i < n; i++)
                if (mount_v1(tmp, lists[i], view_for(j, view_fds, lists[i]), err) < 0)
                        return -1;
        struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
        if (mount_setattr(tmp, "", AT_EMPTY_PATH, &ro, sizeof(ro)) < 0)
                return berth_err(err, errno, "make the cgroup folder read-only");
        return mount_at(tmp, rootfd, "sys/fs/cgroup", true, err);
}

int cgroup_view_mount(const struct join_msg *j, const int *view_fds, bool host_sys, berth_error **err)
{
        _cleanup_close_ int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), fd = -1;
        if (rootfd < 0)
                return berth_err(err, errno, "open /");
        if (j->mech == SANDBOX_LIMIT_CGROUP2) {
                if (fs_new("cgroup2", NULL, RO_ATTRS, &fd, err) < 0)
                        return -1;
                return mount_at(fd, rootfd, "sys/fs/cgroup", true, err);
        }
        if (j->mech == SANDBOX_LIMIT_CGROUP1)
                return view_v1(rootfd, j, view_fds, err);
        if (!host_sys)
                return 0; /* a fresh sysfs's /sys/fs/cgroup is an empty folder */
        static const char *const opts[] = { "size", "0", NULL };
        if (fs_new("tmpfs", opts, RO_ATTRS, &fd, err) < 0)
                return -1;
        return mount_at(fd, rootfd, "sys/fs/cgroup", true, err);
}
