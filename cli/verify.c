/* berth verify: read an environment back from the kernel and the cache and
 * compare it with the spec (and its lock). The dev sandbox's processes are
 * found by their cgroup (berth/<name>-...); with none running, a fresh
 * ephemeral sandbox is started for the length of the reading. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>

#include "cli.h"
#include "envs/envs.h"
#include "images/sign.h"
#include "sandbox/sandbox.h"

const char cmd_verify_help[] =
        "Usage: berth verify [-f SPEC] [--locked] [--json]\n"
        "\n"
        "Check the environment against its spec and berth.lock: every layer in\n"
        "the cache against its archive, each runtime layer's check: command,\n"
        "memory, cpus, pids and nofile read back from the cgroup files and\n"
        "/proc/PID/limits, seccomp, no_new_privs and the capability set from\n"
        "/proc/PID/status. With services: each one's state (healthy, or running\n"
        "without a healthcheck) and its command's limits and security, from the\n"
        "environment that is up. Without: the dev sandbox's running processes,\n"
        "or a fresh one. One line per mismatch; exit 0 only when everything\n"
        "matches.\n";

#define PROC_FILE_MAX 65536
#define FRESH_WAIT_MS 60000 /* for the fresh sandbox's next output */

struct check {
        char *key, *spec, *actual;
        const char *source;     /* "kernel", "cache", "output" */
        bool ok;
};

struct report {
        struct check *v;
        size_t n;
};

static void add_check(struct report *r, const char *source, bool ok, char *key, char *spec, char *actual)
{
        r->v = xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
        r->v[r->n++] = (struct check){ key, spec, actual, source, ok };
}

static void report_done(struct report *r)
{
        for (size_t i = 0; i < r->n; i++) {
                free(r->v[i].key);
                free(r->v[i].spec);
                free(r->v[i].actual);
        }
        free(r->v);
}

/* ---- layers ------------------------------------------------------------- */

static void check_layer(struct report *r, const struct spec_layer *l, const char *where)
{
        if (!l->sha256 || !l->url)
                return; /* no digest to check against (berth lock gives one); an OCI entry's is no layer's */
        _cleanup_strv_ char **diffs = NULL;
        _cleanup_error_ berth_error *e = NULL;
        if (images_layer_check(NULL, l->sha256, l->url, &diffs, &e) < 0) {
                add_check(r, "cache", false, xstrdup(where), xasprintf("sha256 %.12s…", l->sha256), berth_error_text(e));
                return;
        }
        _cleanup_dynbuf_ dynbuf b;
        dynbuf_init(&b, SIZE_MAX, NULL);
        for (size_t i = 0; diffs && diffs[i]; i++)
                dynbuf_printf(&b, NULL, "%s%s", i ? "; " : "", diffs[i]);
        add_check(r, "cache", !diffs, xstrdup(where), xasprintf("sha256 %.12s…", l->sha256),
                  diffs ? dynbuf_take(&b, NULL) : xasprintf("sha256 %.12s…", l->sha256));
}

static void check_layers(struct report *r, const struct spec *s)
{
        for (size_t i = 0; i < s->n_image; i++) {
                _cleanup_free_ char *w = xasprintf("image[%zu]", i);
                check_layer(r, &s->image[i], w);
        }
        for (size_t k = 0; k < s->n_services; k++)
                for (size_t i = 0; i < s->services[k].n_image; i++) {
                        _cleanup_free_ char *w = xasprintf("services.%s.image[%zu]", s->services[k].name, i);
                        check_layer(r, &s->services[k].image[i], w);
                }
}

/* ---- a fresh sandbox ----------------------------------------------------- */

/* Run argv in an ephemeral dev sandbox in a child, its output to out_fd. */
static pid_t start_sandbox(const struct spec *s, char *const *argv, int out_fd)
{
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid != 0)
                return pid;
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        dup2(null >= 0 ? null : 0, 0);
        dup2(out_fd, 1);
        dup2(out_fd, 2);
        struct envs_run_opts o = { .argv = argv, .ephemeral = true };
        int status = 125;
        _cleanup_error_ berth_error *e = NULL;
        if (envs_run(s, &o, &status, &e) < 0) {
                _cleanup_free_ char *t = berth_error_text(e);
                dprintf(2, "%s\n", t);
                _exit(125);
        }
        _exit(status & 0xff);
}

/* Read fd until a line equal to mark has come, or to its end. */
static char *read_until(int fd, const char *mark)
{
        _cleanup_dynbuf_ dynbuf b;
        dynbuf_init(&b, PROC_FILE_MAX, "output");
        _cleanup_free_ char *line = xasprintf("%s\n", mark);
        char buf[4096];
        ssize_t n;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        while (poll(&pfd, 1, FRESH_WAIT_MS) == 1 && (n = read(fd, buf, sizeof(buf))) > 0) {
                if (dynbuf_add(&b, buf, (size_t) n, NULL) < 0 || strstr(b.buf, line))
                        break;
        }
        return b.len ? dynbuf_take(&b, NULL) : xstrdup("");
}

static void sh_quote(dynbuf *b, const char *arg)
{
        dynbuf_add(b, "'", 1, NULL);
        for (const char *p = arg; *p; p++)
                if (*p == '\'')
                        dynbuf_printf(b, NULL, "'\\''");
                else
                        dynbuf_add(b, p, 1, NULL);
        dynbuf_add(b, "' ", 2, NULL);
}

/* One shell script for the whole fresh sandbox: each runtime layer's check:
 * command, a mark after each, then (to be read back) a wait until killed. */
static char *fresh_script(const struct spec *s, const char *nonce, bool stay)
{
        _cleanup_dynbuf_ dynbuf b;
        dynbuf_init(&b, SIZE_MAX, NULL);
        for (size_t i = 0; i < s->n_image; i++) {
                const struct spec_layer *l = &s->image[i];
                if (!l->check || !l->version)
                        continue;
                dynbuf_printf(&b, NULL, "( ");
                for (char **a = l->check; *a; a++)
                        sh_quote(&b, *a);
                dynbuf_printf(&b, NULL, ") </dev/null 2>&1; echo; echo %s-%zu; ", nonce, i);
        }
        dynbuf_printf(&b, NULL, "echo %s-ready; %s", nonce, stay ? "while :; do sleep 1; done" : "");
        return dynbuf_take(&b, NULL);
}

/* Each runtime layer's check: its declared version must be in the first
 * line of the output its section of the script printed. */
static void check_runtimes(struct report *r, const struct spec *s, const char *out, const char *nonce)
{
        const char *from = out;
        for (size_t i = 0; i < s->n_image; i++) {
                const struct spec_layer *l = &s->image[i];
                if (!l->check || !l->version)
                        continue;
                _cleanup_free_ char *mark = xasprintf("\n%s-%zu\n", nonce, i);
                const char *end = strstr(from, mark);
                _cleanup_free_ char *first = end ? xstrndup(from, (size_t) (end - from)) : xstrdup("");
                first[strcspn(first, "\n")] = '\0';
                bool ok = end && strstr(first, l->version) != NULL;
                add_check(r, "output", ok, xasprintf("image[%zu].version", i), xstrdup(l->version),
                          *first ? xasprintf("\"%.80s\"", first) : xstrdup("no output"));
                if (end)
                        from = end + strlen(mark);
        }
}

/* ---- finding the sandbox's processes --------------------------------------- */

static char *proc_file(pid_t pid, const char *name)
{
        _cleanup_free_ char *path = xasprintf("/proc/%d/%s", (int) pid, name);
        char *buf = NULL;
        if (read_file_bounded(AT_FDCWD, path, PROC_FILE_MAX, name, &buf, NULL, NULL) < 0)
                return NULL;
        return buf;
}

/* In a cgroup named prefix<pid>-<hex> (sandbox/cgroup.c): the spec's dev
 * sandbox, not a service whose name merely starts the same way. */
static bool in_env_cgroup(pid_t pid, const char *prefix)
{
        _cleanup_free_ char *cg = proc_file(pid, "cgroup");
        for (const char *p = cg ? strstr(cg, prefix) : NULL; p; p = strstr(p + 1, prefix)) {
                const char *d = p + strlen(prefix);
                size_t n = strspn(d, "0123456789");
                if (n && d[n] == '-')
                        return true;
        }
        return false;
}

static pid_t parent_of(pid_t pid)
{
        _cleanup_free_ char *st = proc_file(pid, "status");
        const char *p = st ? strstr(st, "\nPPid:") : NULL;
        return p ? (pid_t) strtol(p + 6, NULL, 10) : -1;
}

static bool same_exe(pid_t a, pid_t b)
{
        char pa[64], pb[64], ea[4096], eb[4096];
        snprintf(pa, sizeof(pa), "/proc/%d/exe", (int) a);
        snprintf(pb, sizeof(pb), "/proc/%d/exe", (int) b);
        ssize_t na = readlink(pa, ea, sizeof(ea) - 1), nb = readlink(pb, eb, sizeof(eb) - 1);
        return na < 0 || nb < 0 || (na == nb && memcmp(ea, eb, (size_t) na) == 0);
}

/* The oldest process in the environment's cgroups whose parent is there
 * too: a command, not the sandbox's init. Until it has exec'd it is still a
 * copy of the init, without its seccomp filter and capability set. */
static pid_t find_command(const char *prefix)
{
        _cleanup_closedir_ DIR *d = opendir("/proc");
        pid_t found = -1;
        struct dirent *de;
        while (d && (de = readdir(d))) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);
                if (*end || pid <= 0 || !in_env_cgroup((pid_t) pid, prefix))
                        continue;
                pid_t pp = parent_of((pid_t) pid);
                if (pp > 0 && in_env_cgroup(pp, prefix) && !same_exe((pid_t) pid, pp) && (found < 0 || pid < found))
                        found = (pid_t) pid;
        }
        return found;
}

static bool has_arg(pid_t pid, const char *arg)
{
        char path[64], buf[8192];
        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int) pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return false;
        buf[n] = '\0';
        for (char *p = buf; p < buf + n; p += strlen(p) + 1)
                if (streq(p, arg))
                        return true;
        return false;
}

/* The first child of pid's main thread: a service's command under its init. */
static pid_t first_child(pid_t pid)
{
        _cleanup_free_ char *name = xasprintf("task/%d/children", (int) pid), *buf = proc_file(pid, name);
        return buf && atoi(buf) > 0 ? (pid_t) atoi(buf) : -1;
}

/* The process under pid (its threads' children, a few levels down) whose
 * arguments hold nonce: the fresh sandbox's shell, once it has exec'd. */
static pid_t find_by_nonce(pid_t pid, const char *nonce, int depth)
{
        if (has_arg(pid, nonce))
                return pid;
        _cleanup_free_ char *tasks = xasprintf("/proc/%d/task", (int) pid);
        _cleanup_closedir_ DIR *d = depth < 4 ? opendir(tasks) : NULL;
        struct dirent *de;
        while (d && (de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *name = xasprintf("task/%s/children", de->d_name), *buf = proc_file(pid, name);
                for (char *p = buf, *end; p && *p; p = end) {
                        long c = strtol(p, &end, 10);
                        if (end == p)
                                break;
                        pid_t f = c > 0 ? find_by_nonce((pid_t) c, nonce, depth + 1) : -1;
                        if (f > 0)
                                return f;
                }
        }
        return -1;
}

/* ---- reading the kernel back ---------------------------------------------- */

static bool status_field(const char *status, const char *name, char *out, size_t n)
{
        _cleanup_free_ char *key = xasprintf("\n%s:", name);
        const char *p = status ? strstr(status, key) : NULL;
        if (!p)
                return false;
        p += strlen(key);
        p += strspn(p, " \t");
        snprintf(out, n, "%.*s", (int) strcspn(p, "\n"), p);
        return true;
}

/* The soft limit in /proc/PID/limits' line that starts with name; 0 = unlimited. */
static bool limit_of(const char *limits, const char *name, uint64_t *ret)
{
        const char *p = limits ? strstr(limits, name) : NULL;
        if (!p)
                return false;
        p += strlen(name);
        p += strspn(p, " ");
        *ret = startswith(p, "unlimited") ? 0 : strtoull(p, NULL, 10);
        return true;
}

/* The folder of pid's cgroup for a v1 controller, or its v2 one (controller NULL). */
static char *cgroup_dir(const char *cgroup, const char *controller)
{
        _cleanup_free_ char *copy = xstrdup(cgroup);
        char *save = NULL;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                *c2 = '\0';
                const char *ctrls = c1 + 1, *path = c2 + 1;
                if (!controller && !*ctrls) {
                        struct statfs sf;
                        bool v2root = statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == 0x63677270;
                        return xasprintf("%s%s", v2root ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified", path);
                }
                _cleanup_free_ char *list = xasprintf(",%s,", ctrls), *want = xasprintf(",%s,", controller ? controller : "");
                if (controller && strstr(list, want))
                        return xasprintf("/sys/fs/cgroup/%s%s", controller, path);
        }
        return NULL;
}

static bool cgroup_value(const char *dir, const char *file, char *out, size_t n)
{
        if (!dir || !strstr(dir, "/berth/"))
                return false; /* not a cgroup berth made: no limit of ours there */
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, file), *buf = NULL;
        if (read_file_bounded(AT_FDCWD, path, 4096, file, &buf, NULL, NULL) < 0)
                return false;
        snprintf(out, n, "%.*s", (int) strcspn(buf, "\n"), buf);
        return true;
}

static char *size_or_none(uint64_t b)
{
        return b ? cli_spec_size(b) : xstrdup("no limit");
}

static void compare_u64(struct report *r, const char *pre, const char *key, uint64_t spec, uint64_t kernel,
                        bool size)
{
        if (!spec)
                return;
        char *ks = size ? size_or_none(kernel) : kernel ? xasprintf("%" PRIu64, kernel) : xstrdup("no limit");
        add_check(r, "kernel", spec == kernel, xasprintf("%s%s", pre, key),
                  size ? cli_spec_size(spec) : xasprintf("%" PRIu64, spec), ks);
}

static uint64_t kernel_memory(const char *cgroup, const char *limits)
{
        char v[64];
        _cleanup_free_ char *v1 = cgroup_dir(cgroup, "memory"), *v2 = cgroup_dir(cgroup, NULL);
        if (cgroup_value(v1, "memory.limit_in_bytes", v, sizeof(v)) ||
            cgroup_value(v2, "memory.max", v, sizeof(v))) {
                uint64_t b = strtoull(v, NULL, 10);
                return streq(v, "max") || b >= (1ULL << 62) ? 0 : b;
        }
        uint64_t as = 0;
        limit_of(limits, "Max address space", &as);
        return as;
}

static uint64_t kernel_pids(const char *cgroup, const char *limits)
{
        char v[64];
        _cleanup_free_ char *v1 = cgroup_dir(cgroup, "pids"), *v2 = cgroup_dir(cgroup, NULL);
        if (cgroup_value(v1, "pids.max", v, sizeof(v)) || cgroup_value(v2, "pids.max", v, sizeof(v)))
                return streq(v, "max") ? 0 : strtoull(v, NULL, 10);
        uint64_t n = 0;
        limit_of(limits, "Max processes", &n);
        return n;
}

static uint64_t kernel_millicpus(const char *cgroup)
{
        char q[64], p[64];
        _cleanup_free_ char *v1 = cgroup_dir(cgroup, "cpu"), *v2 = cgroup_dir(cgroup, NULL);
        if (cgroup_value(v1, "cpu.cfs_quota_us", q, sizeof(q)) && cgroup_value(v1, "cpu.cfs_period_us", p, sizeof(p))) {
                long long quota = strtoll(q, NULL, 10), period = strtoll(p, NULL, 10);
                return quota > 0 && period > 0 ? (uint64_t) (quota * 1000 / period) : 0;
        }
        if (cgroup_value(v2, "cpu.max", q, sizeof(q)) && !startswith(q, "max")) {
                unsigned long long quota = 0, period = 0;
                if (sscanf(q, "%llu %llu", &quota, &period) == 2 && period)
                        return quota * 1000 / period;
        }
        return 0;
}

static char *cpus_text(uint64_t m)
{
        return m ? xasprintf("%g", (double) m / 1000.0) : xstrdup("no limit");
}

static void check_resources(struct report *r, const char *pre, const struct spec_resources *res, pid_t pid)
{
        _cleanup_free_ char *cgroup = proc_file(pid, "cgroup"), *limits = proc_file(pid, "limits");
        if (!cgroup || !limits)
                return;
        compare_u64(r, pre, "resources.memory", res->memory, kernel_memory(cgroup, limits), true);
        compare_u64(r, pre, "resources.pids", res->pids, kernel_pids(cgroup, limits), false);
        uint64_t nofile = 0;
        limit_of(limits, "Max open files", &nofile);
        compare_u64(r, pre, "resources.nofile", res->nofile, nofile, false);
        if (res->millicpus) {
                uint64_t m = kernel_millicpus(cgroup);
                add_check(r, "kernel", m == res->millicpus, xasprintf("%sresources.cpus", pre), cpus_text(res->millicpus),
                          cpus_text(m));
        }
}

static char *cap_list(uint64_t mask)
{
        const char *const *names = spec_cap_names();
        _cleanup_dynbuf_ dynbuf b;
        dynbuf_init(&b, SIZE_MAX, NULL);
        for (int i = 0; names[i] && i < 64; i++)
                if (mask & (1ULL << i))
                        dynbuf_printf(&b, NULL, "%s%s", b.len ? "," : "", names[i]);
        return b.len ? dynbuf_take(&b, NULL) : xstrdup("none");
}

static void check_security(struct report *r, const char *pre, const struct spec_security *sec, pid_t pid)
{
        _cleanup_free_ char *status = proc_file(pid, "status");
        char v[64];
        if (!status)
                return;
        bool filtered = sec->seccomp != SPEC_SECCOMP_UNCONFINED;
        if (status_field(status, "Seccomp", v, sizeof(v)))
                add_check(r, "kernel", streq(v, filtered ? "2" : "0"), xasprintf("%ssecurity.seccomp", pre),
                          xstrdup(filtered ? "filter" : "unconfined"),
                          xstrdup(streq(v, "2") ? "filter" : streq(v, "0") ? "unconfined" : v));
        if (status_field(status, "NoNewPrivs", v, sizeof(v)))
                add_check(r, "kernel", streq(v, "1"), xasprintf("%ssecurity.no_new_privs", pre), xstrdup("1"), xstrdup(v));
        uint64_t want;
        if (status_field(status, "CapBnd", v, sizeof(v)) && sandbox_caps_mask(sec->cap_add, sec->cap_drop, &want, NULL) == 0) {
                uint64_t got = strtoull(v, NULL, 16);
                size_t n = 0;
                while (spec_cap_names()[n])
                        n++;
                uint64_t known = n >= 64 ? ~0ULL : (1ULL << n) - 1;
                add_check(r, "kernel", (got & known) == (want & known), xasprintf("%ssecurity.capabilities", pre),
                          cap_list(want & known), cap_list(got & known));
        }
}

/* ---- the verb ------------------------------------------------------------- */

static void read_back(struct report *r, const struct spec *s, pid_t pid)
{
        check_resources(r, "", &s->resources, pid);
        check_security(r, "", &s->security, pid);
}

/* A dev sandbox that runs (found by its cgroup, so only with limits). */
static pid_t running_dev_sandbox(const struct spec *s)
{
        const struct spec_resources *l = &s->resources;
        if (!l->memory && !l->millicpus && !l->pids)
                return -1;
        _cleanup_free_ char *prefix = xasprintf("/berth/%s-", s->name);
        return find_command(prefix);
}

static bool has_runtime_checks(const struct spec *s)
{
        for (size_t i = 0; i < s->n_image; i++)
                if (s->image[i].check && s->image[i].version)
                        return true;
        return false;
}

/* One fresh ephemeral sandbox runs every check: command and, when
 * read_kernel, stays until its shell has been read back. */
static int verify_fresh(struct report *r, const struct spec *s, bool read_kernel, berth_error **err)
{
        char nonce[64];
        snprintf(nonce, sizeof(nonce), "berth-verify-%d", (int) getpid());
        _cleanup_free_ char *script = fresh_script(s, nonce, read_kernel), *ready = xasprintf("%s-ready", nonce);
        char *argv[] = { "sh", "-c", script, nonce, NULL };
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return berth_err(err, errno, "pipe");
        pid_t child = start_sandbox(s, argv, p[1]);
        close(p[1]);
        _cleanup_free_ char *out = read_until(p[0], ready);
        close(p[0]);
        _cleanup_free_ char *line = xasprintf("%s\n", ready);
        bool started = strstr(out, line) != NULL;
        pid_t pid = started && read_kernel ? find_by_nonce(child, nonce, 0) : -1;
        if (started)
                check_runtimes(r, s, out, nonce);
        if (pid > 0) {
                read_back(r, s, pid);
                kill(pid, SIGKILL); /* the init then ends the sandbox */
        }
        kill(child, SIGTERM);
        waitpid(child, NULL, 0);
        if (!started || (read_kernel && pid <= 0)) {
                out[strcspn(out, "\n")] = '\0';
                return berth_err(err, 0, "could not read a dev sandbox back%s%s (does the image have sh and sleep? see "
                                         "berth doctor)", *out ? ": " : "", out);
        }
        return 0;
}

static int verify_dev_sandbox(struct report *r, const struct spec *s, berth_error **err)
{
        pid_t pid = running_dev_sandbox(s);
        if (pid > 0)
                read_back(r, s, pid);
        /* With services, what is read back is the environment that is up. */
        bool fresh = pid <= 0 && !s->n_services;
        if (!fresh && !has_runtime_checks(s))
                return 0;
        return verify_fresh(r, s, fresh, err);
}

/* ---- services -------------------------------------------------------------- */

static json_t *service_entry(json_t *doc, const char *name)
{
        json_t *v;
        size_t i;
        json_array_foreach(doc ? json_object_get(doc, "services") : NULL, i, v)
                if (streq_ptr(json_string_value(json_object_get(v, "name")), name))
                        return v;
        return NULL;
}

/* A service's own runtime layers: their check: runs inside the running
 * service (as exec does), its output through a pipe. */
static void service_runtimes(struct report *r, const struct spec *s, const struct spec_service *v)
{
        for (size_t i = 0; i < v->n_image; i++) {
                const struct spec_layer *l = &v->image[i];
                int p[2];
                if (!l->check || !l->version || pipe2(p, O_CLOEXEC) < 0)
                        continue;
                fflush(stdout);
                fflush(stderr);
                pid_t pid = fork();
                if (pid == 0) {
                        int null = open("/dev/null", O_RDONLY | O_CLOEXEC), st = 125;
                        dup2(null >= 0 ? null : 0, 0);
                        dup2(p[1], 1);
                        dup2(p[1], 2);
                        _cleanup_error_ berth_error *e = NULL;
                        if (envs_exec(s, v->name, l->check, &st, &e) < 0)
                                dprintf(2, "%s\n", e->msg);
                        _exit(st & 0xff);
                }
                close(p[1]);
                _cleanup_free_ char *out = read_until(p[0], ""); /* its first line */
                close(p[0]);
                if (pid > 0)
                        waitpid(pid, NULL, 0);
                out[strcspn(out, "\n")] = '\0';
                add_check(r, "output", strstr(out, l->version) != NULL,
                          xasprintf("services.%s.image[%zu].version", v->name, i), xstrdup(l->version),
                          *out ? xasprintf("\"%.80s\"", out) : xstrdup("no output"));
        }
}

/* A service is well when healthy (with a healthcheck) or running; then its
 * command, the first child of its sandbox's init, is read back. */
static void verify_service(struct report *r, const struct spec *s, const struct spec_service *v, json_t *doc,
                           const char *down_state)
{
        json_t *e = service_entry(doc, v->name);
        const char *state = e ? json_string_value(json_object_get(e, "state")) : down_state;
        const char *want = v->healthcheck.command ? "healthy" : "running";
        json_t *code = e ? json_object_get(e, "exit_status") : NULL;
        add_check(r, "supervisor", streq_ptr(state, want), xasprintf("services.%s.state", v->name), xstrdup(want),
                  code ? xasprintf("%s %" JSON_INTEGER_FORMAT, state ? state : "exited", json_integer_value(code))
                       : xstrdup(state ? state : "unknown"));
        pid_t init = e ? (pid_t) json_integer_value(json_object_get(e, "pid")) : 0;
        pid_t cmd = init > 0 ? first_child(init) : -1;
        if (cmd <= 0)
                return;
        _cleanup_free_ char *pre = xasprintf("services.%s.", v->name);
        check_resources(r, pre, &v->resources, cmd);
        check_security(r, pre, &s->security, cmd);
        service_runtimes(r, s, v);
}

static int verify_services(struct report *r, const struct spec *s, berth_error **err)
{
        enum envs_liveness live;
        json_t *doc = NULL;
        if (!s->n_services)
                return 0;
        if (envs_status(s, &live, &doc, err) < 0)
                return -1;
        for (size_t i = 0; i < s->n_services; i++)
                verify_service(r, s, &s->services[i], doc, live == ENVS_DEAD ? "dead (supervisor)" : "down");
        json_decref(doc);
        return 0;
}

static void print_report(struct cli_ctx *ctx, const struct report *r, bool ok)
{
        if (ctx->json) {
                json_t *a = json_array();
                for (size_t i = 0; i < r->n; i++)
                        json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:b}", "key", r->v[i].key, "spec",
                                                           r->v[i].spec, "actual", r->v[i].actual, "source",
                                                           r->v[i].source, "ok", r->v[i].ok));
                cli_print_json(json_pack("{s:b,s:o}", "ok", ok, "checks", a));
                return;
        }
        for (size_t i = 0; i < r->n; i++) {
                const struct check *c = &r->v[i];
                if (!c->ok)
                        printf("%s: spec %s, %s %s\n", c->key, c->spec, c->source, c->actual);
                else if (ctx->verbosity > 0)
                        printf("%s: %s (ok)\n", c->key, c->actual);
        }
        if (ok && ctx->verbosity >= 0)
                printf("verify: %zu checks match\n", r->n);
}

int cmd_verify(struct cli_ctx *ctx, int argc, char **argv)
{
        int status = cli_parse_common_only(ctx, argc, argv);
        if (status)
                return status;
        _cleanup_spec_ struct spec *s = NULL;
        if (cli_load_spec(ctx, &s, &status) < 0)
                return status;
        _cleanup_(report_done) struct report r = {};
        _cleanup_error_ berth_error *err = NULL;
        check_layers(&r, s);
        if (verify_services(&r, s, &err) < 0 || verify_dev_sandbox(&r, s, &err) < 0)
                return cli_report(ctx, err);
        bool ok = true;
        for (size_t i = 0; i < r.n; i++)
                ok = ok && r.v[i].ok;
        print_report(ctx, &r, ok);
        return ok ? EXIT_OK : EXIT_FAIL;
}
