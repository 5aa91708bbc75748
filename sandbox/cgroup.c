/* Limits: cgroup v2 where the user has a delegated subtree, cgroup v1 where
 * the host has those controllers and we may write them, rlimits otherwise.
 * berth's cgroups live in a "berth" folder and are removed afterwards. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>

#include "sandbox-private.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#define CGROUP1_ROOT "/sys/fs/cgroup"

const char *cgroup2_mount(void)
{
        const char *e = getenv("BERTH_CGROUP2_ROOT");
        struct statfs s;
        if (e && *e)
                return e;
        if (statfs("/sys/fs/cgroup", &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC)
                return "/sys/fs/cgroup";
        if (statfs("/sys/fs/cgroup/unified", &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC)
                return "/sys/fs/cgroup/unified";
        return NULL;
}

static int write_at(int dirfd, const char *file, const char *value, berth_error **err)
{
        _cleanup_close_ int fd = openat(dirfd, file, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || write_all(fd, value, strlen(value)) < 0)
                return berth_err(err, errno, "write `%s` to %s", value, file);
        return 0;
}

/* Our own v2 cgroup from /proc/self/cgroup ("0::/path"), or NULL. */
static char *own_cgroup2_path(void)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
        char line[4096];
        while (f && fgets(line, sizeof(line), f)) {
                const char *p = startswith(line, "0::");
                if (p) {
                        line[strcspn(line, "\n")] = 0;
                        return xstrdup(p);
                }
        }
        return NULL;
}

static bool word_in(const char *list, const char *word)
{
        size_t n = strlen(word);
        for (const char *p = list; (p = strstr(p, word)); p += n)
                if ((p == list || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ' || p[n] == '\n'))
                        return true;
        return false;
}

/* The folder under which we may create cgroups with these controllers:
 * ours, if its subtree_control already delegates them and we can write it. */
char *cgroup2_delegated_dir(void)
{
        const char *m = cgroup2_mount();
        _cleanup_free_ char *own = m ? own_cgroup2_path() : NULL;
        if (!own)
                return NULL;
        _cleanup_free_ char *dir = getenv("BERTH_CGROUP2_ROOT") ? xstrdup(m) : xasprintf("%s%s", m, own);
        _cleanup_free_ char *ctl = NULL;
        _cleanup_error_ berth_error *e = NULL;
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || faccessat(dfd, "cgroup.subtree_control", W_OK, 0) < 0 || faccessat(dfd, ".", W_OK, 0) < 0)
                return NULL;
        if (read_file_bounded(dfd, "cgroup.subtree_control", 4096, "cgroup.subtree_control", &ctl, NULL, &e) < 0)
                return NULL;
        if (!word_in(ctl, "memory") || !word_in(ctl, "pids"))
                return NULL;
        return TAKE_PTR(dir);
}

static bool cgroup1_writable(const char *controller)
{
        _cleanup_free_ char *p = xasprintf(CGROUP1_ROOT "/%s", controller);
        struct statfs s;
        if (statfs(p, &s) < 0 || s.f_type == CGROUP2_SUPER_MAGIC || access(p, W_OK) < 0)
                return false;
        return true;
}

void limits_detect(enum sandbox_limit_mech *memory, enum sandbox_limit_mech *cpus, enum sandbox_limit_mech *pids,
                   char **ret_cgroup2_dir)
{
        char *v2 = cgroup2_delegated_dir();
        if (v2) {
                *memory = *pids = SANDBOX_LIMIT_CGROUP2;
                _cleanup_free_ char *ctl = NULL;
                _cleanup_error_ berth_error *e = NULL;
                _cleanup_close_ int dfd = open(v2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                bool cpu = read_file_bounded(dfd, "cgroup.subtree_control", 4096, "ctl", &ctl, NULL, &e) == 0 &&
                           word_in(ctl, "cpu");
                *cpus = cpu ? SANDBOX_LIMIT_CGROUP2 : SANDBOX_LIMIT_NONE;
        } else {
                /* No rlimit stands in for memory: RLIMIT_AS counts address
                 * space, not memory, and breaks every program that reserves
                 * more than it uses (AddressSanitizer, Go, the JVM, V8). */
                *memory = cgroup1_writable("memory") ? SANDBOX_LIMIT_CGROUP1 : SANDBOX_LIMIT_NONE;
                *pids = cgroup1_writable("pids") ? SANDBOX_LIMIT_CGROUP1 : SANDBOX_LIMIT_RLIMIT;
                *cpus = cgroup1_writable("cpu") ? SANDBOX_LIMIT_CGROUP1 : SANDBOX_LIMIT_NONE;
        }
        if (ret_cgroup2_dir)
                *ret_cgroup2_dir = v2;
        else
                free(v2);
}

int cgroup2_write_limits(int dirfd, const struct sandbox_limits *l, berth_error **err)
{
        char buf[64];
        if (l->memory) {
                snprintf(buf, sizeof(buf), "%llu", (unsigned long long) l->memory);
                if (write_at(dirfd, "memory.max", buf, err) < 0)
                        return -1;
                /* Over the limit means killed, not swapped. */
                _cleanup_error_ berth_error *e = NULL;
                write_at(dirfd, "memory.swap.max", "0", &e);
        }
        if (l->pids) {
                snprintf(buf, sizeof(buf), "%llu", (unsigned long long) l->pids);
                if (write_at(dirfd, "pids.max", buf, err) < 0)
                        return -1;
        }
        if (l->millicpus) {
                snprintf(buf, sizeof(buf), "%u 100000", l->millicpus * 100);
                if (write_at(dirfd, "cpu.max", buf, err) < 0)
                        return -1;
        }
        return 0;
}

int cgroup1_write_limits(const char *controller, int dirfd, const struct sandbox_limits *l, berth_error **err)
{
        char buf[64];
        if (streq(controller, "memory") && l->memory) {
                snprintf(buf, sizeof(buf), "%llu", (unsigned long long) l->memory);
                if (write_at(dirfd, "memory.limit_in_bytes", buf, err) < 0)
                        return -1;
                _cleanup_error_ berth_error *e = NULL;
                write_at(dirfd, "memory.memsw.limit_in_bytes", buf, &e); /* absent without swap accounting */
        } else if (streq(controller, "pids") && l->pids) {
                snprintf(buf, sizeof(buf), "%llu", (unsigned long long) l->pids);
                return write_at(dirfd, "pids.max", buf, err);
        } else if (streq(controller, "cpu") && l->millicpus) {
                if (write_at(dirfd, "cpu.cfs_period_us", "100000", err) < 0)
                        return -1;
                snprintf(buf, sizeof(buf), "%u", l->millicpus * 100);
                return write_at(dirfd, "cpu.cfs_quota_us", buf, err);
        }
        return 0;
}

static char *unique_name(const char *name)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return xasprintf("%s-%d-%lx", name ? name : "sandbox", (int) getpid(), (unsigned long) ts.tv_nsec);
}

/* Set once this process entered an environment's cgroup: its sandboxes'
 * cgroups are made under it ("berth/env-<id>"), else under "berth". */
static char *env_parent;
static enum sandbox_limit_mech env_mech;

static const char *parent_for(enum sandbox_limit_mech m)
{
        return env_parent && env_mech == m ? env_parent : "berth";
}

static int make_dir(struct cgroup_handle *h, const char *parent, const char *leaf, const char *ctrl, int *ret_fd,
                    berth_error **err)
{
        _cleanup_free_ char *berth = xasprintf("%s/%s", parent,
                                               parent_for(ctrl ? SANDBOX_LIMIT_CGROUP1 : SANDBOX_LIMIT_CGROUP2));
        if (mkdir(berth, 0755) < 0 && errno != EEXIST)
                return berth_err(err, errno, "mkdir %s", berth);
        char *dir = xasprintf("%s/%s", berth, leaf);
        if (mkdir(dir, 0755) < 0) {
                int e = errno;
                free(dir);
                return berth_err(err, e, "mkdir cgroup %s/%s", berth, leaf);
        }
        h->ctrl[h->n_dirs] = ctrl;
        h->dirs[h->n_dirs++] = dir;
        *ret_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (*ret_fd < 0)
                return berth_err(err, errno, "open %s", dir);
        return 0;
}

static int create_v2(const char *base, const struct sandbox_limits *l, const char *leaf, struct cgroup_handle *h,
                     berth_error **err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *berth = xasprintf("%s/%s", base, parent_for(SANDBOX_LIMIT_CGROUP2));
        if (make_dir(h, base, leaf, NULL, &fd, err) < 0)
                return -1;
        /* The berth folder holds no process, so it may delegate to its children. */
        _cleanup_close_ int bfd = open(berth, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_error_ berth_error *e = NULL;
        if (bfd >= 0)
                write_at(bfd, "cgroup.subtree_control", l->millicpus ? "+memory +pids +cpu" : "+memory +pids", &e);
        h->mech = SANDBOX_LIMIT_CGROUP2;
        if (cgroup2_write_limits(fd, l, err) < 0)
                return -1;
        h->memory = l->memory != 0;
        h->pids = l->pids != 0;
        h->cpus = l->millicpus != 0;
        return 0;
}

static int create_v1(const struct sandbox_limits *l, const char *leaf, struct cgroup_handle *h, berth_error **err)
{
        const char *ctrls[] = { "memory", "pids", "cpu" };
        bool want[] = { l->memory != 0, l->pids != 0, l->millicpus != 0 };
        for (size_t i = 0; i < ARRAY_SIZE(ctrls); i++) {
                if (!want[i] || !cgroup1_writable(ctrls[i]))
                        continue;
                _cleanup_free_ char *root = xasprintf(CGROUP1_ROOT "/%s", ctrls[i]);
                _cleanup_close_ int fd = -1;
                if (make_dir(h, root, leaf, ctrls[i], &fd, err) < 0 || cgroup1_write_limits(ctrls[i], fd, l, err) < 0)
                        return -1;
                h->mech = SANDBOX_LIMIT_CGROUP1;
                *(i == 0 ? &h->memory : i == 1 ? &h->pids : &h->cpus) = true;
        }
        return 0;
}

int cgroup_create(const char *v2, const struct sandbox_limits *l, const char *name, struct cgroup_handle *ret,
                     berth_error **err)
{
        struct cgroup_handle h = {};
        if (!limits_want_cgroup(l)) {
                *ret = h;
                return 0;
        }
        _cleanup_free_ char *leaf = unique_name(name);
        int r = v2 ? create_v2(v2, l, leaf, &h, err) : create_v1(l, leaf, &h, err);
        if (r < 0) {
                cgroup_destroy(&h);
                return berth_error_wrap(err, "cgroup");
        }
        *ret = h;
        return 0;
}

int cgroup_attach(const struct cgroup_handle *h, pid_t pid, berth_error **err)
{
        char buf[16];
        snprintf(buf, sizeof(buf), "%d", (int) pid);
        for (size_t i = 0; i < h->n_dirs; i++) {
                _cleanup_close_ int fd = open(h->dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0 || write_at(fd, "cgroup.procs", buf, err) < 0)
                        return berth_error_wrap(err, "join cgroup %s", h->dirs[i]);
        }
        return 0;
}

int cgroup_prepare_self_join(struct cgroup_handle *h, berth_error **err)
{
        if (h->mech != SANDBOX_LIMIT_CGROUP1)
                return 0;
        for (size_t i = 0; i < h->n_dirs; i++) {
                _cleanup_free_ char *p = xasprintf("%s/tasks", h->dirs[i]);
                int fd = open(p, O_WRONLY | O_CLOEXEC);
                if (fd < 0)
                        return berth_err(err, errno, "open %s", p);
                h->join_fds[h->n_join_fds++] = fd;
        }
        return 1;
}

void cgroup_prepare_view(struct cgroup_handle *h)
{
        struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                             MOUNT_ATTR_NOEXEC };
        /* BERTH_CGROUP_VIEW=mount: the init mounts the hierarchies, as
         * rootless (tests) */
        const char *how = getenv("BERTH_CGROUP_VIEW");
        if (h->mech != SANDBOX_LIMIT_CGROUP1 || geteuid() != 0 || (how && streq(how, "mount")))
                return;
        for (size_t i = 0; i < h->n_dirs; i++) {
                int fd = open_tree(AT_FDCWD, h->dirs[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
                if (fd < 0 || mount_setattr(fd, "", AT_EMPTY_PATH, &ro, sizeof(ro)) < 0) {
                        log_debug("cgroup view of %s: %s", h->dirs[i], strerror(errno));
                        if (fd >= 0)
                                close(fd);
                        continue;
                }
                h->view_ctrl[h->n_view_fds] = h->ctrl[i];
                h->view_fds[h->n_view_fds++] = fd;
        }
}

int cgroup_self_join(const int *fds, size_t n, berth_error **err)
{
        for (size_t i = 0; i < n; i++)
                if (write(fds[i], "0", 1) != 1)
                        return berth_err(err, errno, "join berth's cgroup");
        return 0;
}

void cgroup_destroy(struct cgroup_handle *h)
{
        for (size_t i = 0; i < h->n_join_fds; i++)
                close(h->join_fds[i]);
        h->n_join_fds = 0;
        for (size_t i = 0; i < h->n_view_fds; i++)
                close(h->view_fds[i]);
        h->n_view_fds = 0;
        for (size_t i = 0; i < h->n_dirs; i++) {
                /* The last zombies may take a moment to leave. */
                for (int tries = 0; rmdir(h->dirs[i]) < 0 && errno == EBUSY && tries < 200; tries++)
                        usleep(1000);
                free(h->dirs[i]);
        }
        h->n_dirs = 0;
}

/* The value of `key` in a flat keyed file ("oom_kill 1\n"), or 0. */
static uint64_t event_count(const char *dir, const char *file, const char *key)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", dir, file), *text = NULL;
        _cleanup_error_ berth_error *e = NULL;
        if (read_file_bounded(AT_FDCWD, p, 4096, file, &text, NULL, &e) < 0)
                return 0;
        size_t n = strlen(key);
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, key, n) == 0 && l[n] == ' ')
                        return strtoull(l + n + 1, NULL, 10);
        return 0;
}

void cgroup_read_outcome(const struct cgroup_handle *h, struct sandbox_outcome *ret)
{
        *ret = (struct sandbox_outcome) {};
        for (size_t i = 0; i < h->n_dirs; i++) {
                bool v2 = h->mech == SANDBOX_LIMIT_CGROUP2;
                if (h->memory && (v2 || streq(h->ctrl[i], "memory")))
                        ret->oom_kills = event_count(h->dirs[i], v2 ? "memory.events" : "memory.oom_control",
                                                     "oom_kill");
                if (h->pids && (v2 || streq(h->ctrl[i], "pids")))
                        ret->pids_max = event_count(h->dirs[i], "pids.events", "max");
        }
}

static int set_rlimit(int res, uint64_t v, const char *what, berth_error **err)
{
        struct rlimit r = { .rlim_cur = v, .rlim_max = v };
        struct rlimit cur;
        if (getrlimit(res, &cur) == 0 && cur.rlim_max != RLIM_INFINITY && cur.rlim_max < v)
                r.rlim_cur = r.rlim_max = cur.rlim_max; /* cannot raise the hard limit: keep it */
        if (setrlimit(res, &r) < 0)
                return berth_err(err, errno, "set %s limit to %llu", what, (unsigned long long) v);
        return 0;
}

int rlimits_apply(const struct sandbox_limits *l, bool cgroup_pids, berth_error **err)
{
        if (l->nofile && set_rlimit(RLIMIT_NOFILE, l->nofile, "nofile", err) < 0)
                return -1;
        if (l->pids && !cgroup_pids && set_rlimit(RLIMIT_NPROC, l->pids, "pids", err) < 0)
                return -1;
        return 0;
}

const char *sandbox_limit_mech_name(enum sandbox_limit_mech m)
{
        switch (m) {
        case SANDBOX_LIMIT_CGROUP2: return "cgroup v2";
        case SANDBOX_LIMIT_CGROUP1: return "cgroup v1";
        case SANDBOX_LIMIT_RLIMIT: return "rlimit";
        default: return "none";
        }
}

char *sandbox_unenforced_limits(const struct sandbox_limits *l)
{
        /* memory and cpus are the limits without an rlimit behind them; no
         * need to probe the host (the sandbox does that again) when neither
         * is declared. */
        if (!l->millicpus && !l->memory)
                return NULL;
        enum sandbox_limit_mech mem, cpu, pids;
        limits_detect(&mem, &cpu, &pids, NULL);
        bool no_mem = l->memory && mem == SANDBOX_LIMIT_NONE, no_cpu = l->millicpus && cpu == SANDBOX_LIMIT_NONE;
        if (!no_mem && !no_cpu)
                return NULL;
        return xasprintf("%s%s%s", no_mem ? "memory" : "", no_mem && no_cpu ? " and " : "", no_cpu ? "cpus" : "");
}

/* ---- an environment's cgroup -------------------------------------------------- */

static const char *const env_ctrls[] = { "pids", "memory", "cpu" };

/* The v2 folder an environment's cgroup goes under: the delegated one, or
 * BERTH_CGROUP2_ROOT as it is (it needs no controller of its own). */
static char *env_v2_base(void)
{
        const char *e = getenv("BERTH_CGROUP2_ROOT");
        if (e && *e)
                return access(e, W_OK) == 0 ? xstrdup(e) : NULL;
        return cgroup2_delegated_dir();
}

void sandbox_env_cgroup_open(const char *id, struct sandbox_env_cgroup *ret)
{
        *ret = (struct sandbox_env_cgroup) { .parent = xasprintf("berth/env-%s", id) };
        _cleanup_free_ char *v2 = env_v2_base();
        if (v2) {
                ret->mech = SANDBOX_LIMIT_CGROUP2;
                ret->dirs[ret->n_dirs++] = xasprintf("%s/%s", v2, ret->parent);
                return;
        }
        for (size_t i = 0; i < ARRAY_SIZE(env_ctrls); i++)
                if (cgroup1_writable(env_ctrls[i])) {
                        ret->mech = SANDBOX_LIMIT_CGROUP1;
                        ret->dirs[ret->n_dirs++] = xasprintf(CGROUP1_ROOT "/%s/%s", env_ctrls[i], ret->parent);
                }
}

enum sandbox_limit_mech sandbox_env_cgroup_mech(void)
{
        struct sandbox_env_cgroup g;
        sandbox_env_cgroup_open("probe", &g);
        enum sandbox_limit_mech m = g.mech;
        sandbox_env_cgroup_done(&g);
        return m;
}

void sandbox_env_cgroup_done(struct sandbox_env_cgroup *g)
{
        for (size_t i = 0; i < g->n_dirs; i++)
                free(g->dirs[i]);
        free(g->parent);
        *g = (struct sandbox_env_cgroup) {};
}

/* v2: the environment's folder holds no process (its children may then
 * have controllers); the caller goes into its "supervisor" leaf. */
static int enter_v2(const char *dir, berth_error **err)
{
        _cleanup_free_ char *berth = xstrndup(dir, (size_t) (strrchr(dir, '/') - dir));
        _cleanup_free_ char *leaf = xasprintf("%s/supervisor", dir);
        _cleanup_error_ berth_error *e = NULL;
        if (mkdir_p(leaf, 0755, err) < 0)
                return -1;
        _cleanup_close_ int bfd = open(berth, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int lfd = open(leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (lfd < 0)
                return berth_err(err, errno, "open %s", leaf);
        /* Controllers this tree does not have are no error. */
        if (bfd >= 0 && write_at(bfd, "cgroup.subtree_control", "+memory +pids +cpu", &e) < 0)
                write_at(bfd, "cgroup.subtree_control", "+memory +pids", &e);
        if (dfd >= 0 && write_at(dfd, "cgroup.subtree_control", "+memory +pids +cpu", &e) < 0)
                write_at(dfd, "cgroup.subtree_control", "+memory +pids", &e);
        return write_at(lfd, "cgroup.procs", "0", err);
}

int sandbox_env_cgroup_enter(const struct sandbox_env_cgroup *g, berth_error **err)
{
        for (size_t i = 0; i < g->n_dirs; i++) {
                if (g->mech == SANDBOX_LIMIT_CGROUP2) {
                        if (enter_v2(g->dirs[i], err) < 0)
                                return berth_error_wrap(err, "environment cgroup");
                        continue;
                }
                _cleanup_close_ int fd = -1;
                if (mkdir_p(g->dirs[i], 0755, err) < 0 ||
                    (fd = open(g->dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
                    write_at(fd, "cgroup.procs", "0", err) < 0)
                        return berth_error_wrap(err, "environment cgroup %s", g->dirs[i]);
        }
        free(env_parent);
        env_parent = xstrdup(g->parent);
        env_mech = g->mech;
        return 0;
}

/* SIGKILL to every process in dir and the cgroups below it: how many. */
static size_t kill_procs(int parent, const char *name, int depth)
{
        _cleanup_close_ int dfd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        _cleanup_free_ char *procs = NULL;
        _cleanup_error_ berth_error *e = NULL;
        size_t n = 0;
        if (dfd < 0 || depth > 32)
                return 0;
        if (read_file_bounded(dfd, "cgroup.procs", 1 << 20, "cgroup.procs", &procs, NULL, &e) == 0)
                for (char *p = procs; *p; p += strcspn(p, "\n"), p += *p == '\n') {
                        pid_t pid = (pid_t) atoi(p);
                        if (pid > 0 && pid != getpid() && kill(pid, SIGKILL) == 0)
                                n++;
                }
        _cleanup_closedir_ DIR *d = fdopendir(dup(dfd));
        struct dirent *de;
        while (d && (de = readdir(d)))
                if (de->d_type == DT_DIR && !streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n += kill_procs(dfd, de->d_name, depth + 1);
        return n;
}

/* Remove dir and the cgroups below it, deepest first. */
static void remove_tree(int parent, const char *name, int depth)
{
        _cleanup_close_ int dfd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dfd < 0 || depth > 32)
                return;
        _cleanup_closedir_ DIR *d = fdopendir(dup(dfd));
        struct dirent *de;
        while (d && (de = readdir(d)))
                if (de->d_type == DT_DIR && !streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        remove_tree(dfd, de->d_name, depth + 1);
        /* The last processes may take a moment to leave. */
        for (int tries = 0; unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno == EBUSY && tries < 1000; tries++)
                usleep(1000);
}

int sandbox_env_cgroup_remove(const struct sandbox_env_cgroup *g, berth_error **err)
{
        for (size_t i = 0; i < g->n_dirs; i++) {
                struct stat st;
                if (stat(g->dirs[i], &st) < 0)
                        continue;
                /* v2: cgroup.kill takes the whole subtree at once, forks racing
                 * it included; v1 (and older kernels): kill until it is empty. */
                _cleanup_close_ int dfd = open(g->dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                _cleanup_error_ berth_error *e = NULL;
                if (g->mech == SANDBOX_LIMIT_CGROUP2 && dfd >= 0)
                        write_at(dfd, "cgroup.kill", "1", &e);
                for (int tries = 0; tries < 500 && kill_procs(AT_FDCWD, g->dirs[i], 0) > 0; tries++)
                        usleep(2000);
                remove_tree(AT_FDCWD, g->dirs[i], 0);
                if (stat(g->dirs[i], &st) == 0)
                        return berth_err(err, EBUSY, "remove the environment's cgroup %s", g->dirs[i]);
        }
        return 0;
}
