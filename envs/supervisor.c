/* The supervisor: one process per environment that is up. It holds the
 * shared namespaces, starts services in dependency order, runs their
 * healthchecks, restarts them as their policy says, captures their output
 * into rotated log files and answers the control socket. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include <jansson.h>

#include "envs-private.h"
#include "images/images.h"

#define LINE_MAX_BYTES 4096
#define BACKOFF_BASE_MS 100
#define BACKOFF_MAX_MS 30000
#define DEFAULT_LOG_MAX (10u << 20)

enum svc_state { SVC_WAITING, SVC_STARTING, SVC_RUNNING, SVC_HEALTHY, SVC_UNHEALTHY, SVC_RESTARTING, SVC_EXITED,
                 SVC_STOPPED };
static const char *const state_names[] = { "waiting", "starting", "running", "healthy", "unhealthy",
                                           "restarting", "exited", "stopped" };

struct stream {
        int fd;
        char buf[LINE_MAX_BYTES];
        size_t len;
        const char *tag;        /* "out" or "err" */
};

struct svc {
        const struct spec_service *s;
        struct envs_service_sandbox sb;
        struct sandbox_proc *proc;
        pid_t pid;
        enum svc_state state;
        int exit_status;
        int64_t started_ms, next_start_ms;
        unsigned restarts;
        struct stream out, err;
        int log_fd;
        uint64_t log_size;
        char *log_path;
        pid_t hc_pid;
        int hc_fd;
        char hc_out[512];
        size_t hc_len;
        int64_t hc_deadline_ms, hc_next_ms;
        unsigned hc_failures;
        char reason[768];
        bool stopping;
};

struct sup {
        const struct spec *spec;
        const char *state;
        char ***layers;                 /* each service's */
        const char *cache;
        struct sandbox_shared_ns ns;
        struct sandbox_net net;         /* pasta on ns, for network private */
        struct svc *svcs;
        size_t n;
        int listen_fd, sig_fd, devnull;
        int owner_fd;                   /* pidfd of the run that brought us up, or -1 */
        int *inuse;                     /* the cache's records of each service's layers */
        uint64_t log_max;
        berth_warnings warnings;        /* fallbacks taken, in `ps` for up to say */
};

/* The janitor's pipe (see env_cgroup()): one byte on it says the supervisor
 * stopped as asked. */
static int janitor_fd = -1;

static int64_t now_ms(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t) t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- logs ---------------------------------------------------------------- */

/* One line: "<seconds.microseconds since the epoch> out|err <text>". Past
 * log_max bytes the file becomes <name>.log.1 (one old file kept). */
static void log_line(struct sup *x, struct svc *v, const char *tag, const char *text, size_t len)
{
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        char head[64];
        int n = snprintf(head, sizeof(head), "%lld.%06ld %s ", (long long) t.tv_sec, t.tv_nsec / 1000, tag);
        if (v->log_fd >= 0 && v->log_size + (uint64_t) n + len + 1 > x->log_max) {
                _cleanup_free_ char *old = xasprintf("%s.1", v->log_path);
                close(v->log_fd);
                v->log_fd = -1;
                (void) rename(v->log_path, old);
        }
        if (v->log_fd < 0) {
                v->log_fd = open(v->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
                struct stat st;
                v->log_size = v->log_fd >= 0 && fstat(v->log_fd, &st) == 0 ? (uint64_t) st.st_size : 0;
        }
        if (v->log_fd < 0)
                return;
        struct iovec io[3] = { { head, (size_t) n }, { (void *) text, len }, { (void *) "\n", 1 } };
        ssize_t w = writev(v->log_fd, io, 3);
        if (w > 0)
                v->log_size += (uint64_t) w;
}

/* Read what the stream has: false when there is nothing more for now (EOF
 * closes it). */
static bool drain(struct sup *x, struct svc *v, struct stream *s)
{
        ssize_t n = read(s->fd, s->buf + s->len, sizeof(s->buf) - s->len);
        if (n < 0)
                return errno == EINTR;
        if (n == 0) {
                if (s->len)
                        log_line(x, v, s->tag, s->buf, s->len);
                s->len = 0;
                close(s->fd);
                s->fd = -1;
                return false;
        }
        s->len += (size_t) n;
        char *start = s->buf, *nl;
        while ((nl = memchr(start, '\n', s->len - (size_t) (start - s->buf)))) {
                log_line(x, v, s->tag, start, (size_t) (nl - start));
                start = nl + 1;
        }
        s->len -= (size_t) (start - s->buf);
        memmove(s->buf, start, s->len);
        if (s->len == sizeof(s->buf)) {
                log_line(x, v, s->tag, s->buf, s->len);
                s->len = 0;
        }
        return true;
}

/* ---- starting ------------------------------------------------------------ */

static void set_state(struct svc *v, enum svc_state st)
{
        v->state = st;
}

/* Our stdout and stderr are /dev/null; a child started now inherits out/err. */
static void with_stdio(struct sup *x, int out, int err)
{
        dup2(out >= 0 ? out : x->devnull, STDOUT_FILENO);
        dup2(err >= 0 ? err : x->devnull, STDERR_FILENO);
}

static int open_streams(struct svc *v, int *w_out, int *w_err)
{
        int a[2], b[2];
        if (pipe2(a, O_CLOEXEC) < 0)
                return -1;
        if (pipe2(b, O_CLOEXEC) < 0) {
                close(a[0]);
                close(a[1]);
                return -1;
        }
        /* A writer that outlived the last run kept these open. */
        if (v->out.fd >= 0)
                close(v->out.fd);
        if (v->err.fd >= 0)
                close(v->err.fd);
        v->out = (struct stream) { .fd = a[0], .tag = "out" };
        v->err = (struct stream) { .fd = b[0], .tag = "err" };
        fcntl(a[0], F_SETFL, O_NONBLOCK);
        fcntl(b[0], F_SETFL, O_NONBLOCK);
        *w_out = a[1];
        *w_err = b[1];
        return 0;
}

static void schedule_restart(struct svc *v, int64_t now);

static void start_failed(struct svc *v, berth_error *e)
{
        v->exit_status = e->kind == BERTH_E_NOCMD ? 127 : e->kind == BERTH_E_NOEXEC ? 126 : 125;
        _cleanup_free_ char *text = berth_error_text(e);
        snprintf(v->reason, sizeof(v->reason), "exit status %d: %s", v->exit_status, text);
        schedule_restart(v, now_ms());
}

static void start_service(struct sup *x, struct svc *v)
{
        _cleanup_error_ berth_error *e = NULL;
        int w_out = -1, w_err = -1;
        if (open_streams(v, &w_out, &w_err) < 0) {
                berth_err(&e, errno, "pipe");
                start_failed(v, e);
                return;
        }
        with_stdio(x, w_out, w_err);
        int r = sandbox_start(&v->sb.c, &v->proc, &e);
        with_stdio(x, -1, -1);
        close(w_out);
        close(w_err);
        v->reason[0] = 0;
        v->started_ms = now_ms();
        v->hc_failures = 0;
        if (r < 0) {
                v->proc = NULL;
                start_failed(v, e);
                return;
        }
        v->pid = sandbox_proc_pid(v->proc);
        v->hc_next_ms = v->started_ms; /* the first check at once, then every interval */
        set_state(v, v->s->healthcheck.command ? SVC_STARTING : SVC_RUNNING);
}

static struct svc *find(struct sup *x, const char *name)
{
        for (size_t i = 0; i < x->n; i++)
                if (streq(x->svcs[i].s->name, name))
                        return &x->svcs[i];
        return NULL;
}

static bool deps_ready(struct sup *x, const struct svc *v)
{
        for (char **d = v->s->depends_on; d && *d; d++) {
                struct svc *dep = find(x, *d);
                if (!dep || (dep->state != SVC_HEALTHY && dep->state != SVC_RUNNING))
                        return false;
        }
        return true;
}

static void start_ready(struct sup *x, int64_t now)
{
        for (size_t i = 0; i < x->n; i++) {
                struct svc *v = &x->svcs[i];
                if ((v->state == SVC_WAITING && deps_ready(x, v)) ||
                    (v->state == SVC_RESTARTING && now >= v->next_start_ms))
                        start_service(x, v);
        }
}

/* ---- exits and restarts ----------------------------------------------------- */

static void schedule_restart(struct svc *v, int64_t now)
{
        enum spec_restart p = v->s->restart;
        if (!v->stopping && (p == SPEC_RESTART_ALWAYS || (p == SPEC_RESTART_ON_FAILURE && v->exit_status != 0))) {
                unsigned shift = v->restarts < 16 ? v->restarts : 16;
                int64_t delay = (int64_t) BACKOFF_BASE_MS << shift;
                v->next_start_ms = now + (delay < BACKOFF_MAX_MS ? delay : BACKOFF_MAX_MS);
                v->restarts++;
                set_state(v, SVC_RESTARTING);
        } else
                set_state(v, v->stopping ? SVC_STOPPED : SVC_EXITED);
}

static void service_exited(struct svc *v, int st)
{
        v->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        sandbox_proc_done(v->proc);
        v->proc = NULL;
        v->pid = 0;
        if (!v->reason[0] || v->state != SVC_UNHEALTHY)
                snprintf(v->reason, sizeof(v->reason), "exit status %d", v->exit_status);
        schedule_restart(v, now_ms());
}

/* ---- healthchecks -------------------------------------------------------------- */

static void start_check(struct sup *x, struct svc *v, int64_t now)
{
        const struct spec_healthcheck *h = &v->s->healthcheck;
        struct sandbox_config c = v->sb.c;
        c.argv = h->command;
        int p[2];
        v->hc_next_ms = now + (int64_t) h->interval_ms;
        if (pipe2(p, O_CLOEXEC) < 0)
                return;
        _cleanup_error_ berth_error *e = NULL;
        with_stdio(x, p[1], p[1]);
        int r = sandbox_enter_start(v->pid, &c, &v->hc_pid, &e);
        with_stdio(x, -1, -1);
        close(p[1]);
        v->hc_len = 0;
        if (r < 0) {
                close(p[0]);
                v->hc_pid = 0;
                v->hc_len = (size_t) snprintf(v->hc_out, sizeof(v->hc_out), "%s", e->msg);
                return;
        }
        fcntl(p[0], F_SETFL, O_NONBLOCK);
        v->hc_fd = p[0];
        v->hc_deadline_ms = now + (int64_t) h->timeout_ms;
}

static void read_check(struct svc *v)
{
        if (v->hc_fd < 0)
                return;
        ssize_t n = read(v->hc_fd, v->hc_out + v->hc_len, sizeof(v->hc_out) - 1 - v->hc_len);
        if (n > 0)
                v->hc_len += (size_t) n;
        else if (n == 0 || (errno != EAGAIN && errno != EINTR) || v->hc_len == sizeof(v->hc_out) - 1) {
                close(v->hc_fd);
                v->hc_fd = -1;
        }
}

/* The check's last output, on one line, for `ps` and `up`. */
static void check_failed(struct svc *v, const char *why)
{
        const struct spec_healthcheck *h = &v->s->healthcheck;
        v->hc_out[v->hc_len] = 0;
        for (size_t i = 0; i < v->hc_len; i++)
                if (v->hc_out[i] == '\n')
                        v->hc_out[i] = i + 1 == v->hc_len ? 0 : ' ';
        snprintf(v->reason, sizeof(v->reason), "healthcheck failing: %s%s\"%s\"", why, *why ? ", " : "", v->hc_out);
        if (now_ms() - v->started_ms < (int64_t) h->start_period_ms)
                return;
        if (++v->hc_failures >= h->retries && v->state != SVC_UNHEALTHY)
                set_state(v, SVC_UNHEALTHY);
}

static void check_done(struct svc *v, int st)
{
        v->hc_pid = 0;
        while (v->hc_fd >= 0)
                read_check(v);
        if (v->pid <= 0)
                return;
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
                v->hc_failures = 0;
                v->reason[0] = 0;
                set_state(v, SVC_HEALTHY);
                return;
        }
        char why[64] = "";
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
                snprintf(why, sizeof(why), "timed out");
        else
                snprintf(why, sizeof(why), "exit status %d", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        check_failed(v, why);
}

static void run_checks(struct sup *x, int64_t now)
{
        for (size_t i = 0; i < x->n; i++) {
                struct svc *v = &x->svcs[i];
                if (v->hc_pid > 0 && now >= v->hc_deadline_ms)
                        kill(v->hc_pid, SIGKILL);
                if (v->hc_pid > 0 || v->pid <= 0 || !v->s->healthcheck.command || now < v->hc_next_ms)
                        continue;
                start_check(x, v, now);
                if (v->hc_pid <= 0)
                        check_failed(v, "");
        }
}

static void reap(struct sup *x)
{
        int st;
        pid_t p;
        while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
                /* Reaped here, it is no one's to kill later. */
                if (p == x->net.pid)
                        x->net.pid = -1;
                for (size_t i = 0; i < x->n; i++) {
                        struct svc *v = &x->svcs[i];
                        if (p == v->pid) {
                                while (v->out.fd >= 0 && drain(x, v, &v->out))
                                        ;
                                while (v->err.fd >= 0 && drain(x, v, &v->err))
                                        ;
                                service_exited(v, st);
                        } else if (p == v->hc_pid)
                                check_done(v, st);
                }
        }
}

/* ---- stopping ----------------------------------------------------------------- */

static void stop_service(struct sup *x, struct svc *v)
{
        v->stopping = true;
        if (v->hc_pid > 0)
                kill(v->hc_pid, SIGKILL);
        if (v->pid <= 0) {
                set_state(v, SVC_STOPPED);
                return;
        }
        kill(v->pid, SIGTERM);
        int64_t deadline = now_ms() + (int64_t) v->s->stop_timeout_ms;
        bool killed = false;
        while (v->pid > 0) {
                struct pollfd p[3] = { { .fd = x->sig_fd, .events = POLLIN }, { .fd = v->out.fd, .events = POLLIN },
                                       { .fd = v->err.fd, .events = POLLIN } };
                int64_t left = deadline - now_ms();
                if (left <= 0 && !killed) {
                        kill(v->pid, SIGKILL);
                        killed = true;
                }
                poll(p, 3, killed ? 100 : (int) (left < 100 ? left : 100));
                if (p[1].revents)
                        drain(x, v, &v->out);
                if (p[2].revents)
                        drain(x, v, &v->err);
                struct signalfd_siginfo si;
                while (read(x->sig_fd, &si, sizeof(si)) > 0)
                        ;
                reap(x);
        }
}

static _Noreturn void shut_down(struct sup *x, int client)
{
        for (size_t i = x->n; i-- > 0;)
                stop_service(x, &x->svcs[i]);
        sandbox_net_stop(&x->net);
        for (size_t i = 0; x->inuse && i < x->spec->n_services; i++)
                images_inuse_release(&x->inuse[i]);
        if (janitor_fd >= 0)
                (void) !write(janitor_fd, "d", 1);
        sandbox_shared_ns_done(&x->ns);
        _cleanup_free_ char *pid = xasprintf("%s/" ENVS_PIDFILE, x->state);
        _cleanup_free_ char *sock = xasprintf("%s/" ENVS_SOCKET, x->state);
        unlink(sock);
        unlink(pid);
        if (client >= 0)
                (void) !write(client, "ok\n", 3);
        _exit(0);
}

/* ---- the control socket ---------------------------------------------------------- */

/* Ports are shown while pasta publishes them. */
static json_t *ports_json(const struct sup *x, const struct spec_port *p, size_t n)
{
        return envs_ports_json(p, x->net.pid > 0 ? n : 0);
}

static json_t *svc_json(const struct sup *x, const struct svc *v, int64_t now)
{
        json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I}", "name", v->s->name, "state", state_names[v->state],
                              "pid", (json_int_t) v->pid, "uptime_ms",
                              (json_int_t) (v->pid > 0 ? now - v->started_ms : 0), "restarts",
                              (json_int_t) v->restarts);
        if (v->state == SVC_EXITED || v->state == SVC_RESTARTING || v->state == SVC_STOPPED)
                json_object_set_new(o, "exit_status", json_integer(v->exit_status));
        if (v->reason[0])
                json_object_set_new(o, "reason", json_string(v->reason));
        json_object_set_new(o, "ports", ports_json(x, v->s->ports, v->s->n_ports));
        return o;
}

static void answer(struct sup *x, int c)
{
        char req[64] = "";
        struct pollfd p = { .fd = c, .events = POLLIN };
        if (poll(&p, 1, 1000) <= 0 || read(c, req, sizeof(req) - 1) <= 0)
                return;
        if (startswith(req, "ping")) {
                char pong[32];
                int n = snprintf(pong, sizeof(pong), "pong %d\n", (int) getpid());
                (void) !write(c, pong, (size_t) n);
        } else if (startswith(req, "ps")) {
                int64_t now = now_ms();
                json_t *a = json_array();
                for (size_t i = 0; i < x->n; i++)
                        json_array_append_new(a, svc_json(x, &x->svcs[i], now));
                json_t *w = json_array();
                for (size_t i = 0; i < x->warnings.n; i++)
                        json_array_append_new(w, json_pack("{s:s?, s:s}", "key", x->warnings.v[i].key, "message",
                                                           x->warnings.v[i].msg));
                json_t *doc = json_pack("{s:i, s:o, s:o, s:o}", "supervisor", (int) getpid(), "services", a, "ports",
                                        ports_json(x, x->spec->ports, x->spec->n_ports), "warnings", w);
                char *text = json_dumps(doc, JSON_COMPACT);
                json_decref(doc);
                if (text) {
                        write_all(c, text, strlen(text));
                        write_all(c, "\n", 1);
                        free(text);
                }
        } else if (startswith(req, "join"))
                sandbox_shared_ns_send(c, &x->ns);
        else if (startswith(req, "down"))
                shut_down(x, c);
        else if (startswith(req, "detach")) {
                /* `up` returned: the environment is on its own from now on. */
                if (x->owner_fd >= 0)
                        close(x->owner_fd);
                x->owner_fd = -1;
                (void) !write(c, "ok\n", 3);
        }
}

static void accept_clients(struct sup *x)
{
        int c;
        while ((c = accept4(x->listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
                answer(x, c);
                close(c);
        }
}

/* ---- set up and loop -------------------------------------------------------------- */

static int listen_socket(struct sup *x, berth_error **err)
{
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        _cleanup_free_ char *path = xasprintf("%s/" ENVS_SOCKET, x->state);
        if (strlen(path) >= sizeof(a.sun_path))
                return berth_error_make(err, BERTH_E_LIMIT, 0, "control socket path too long: %s", path);
        memcpy(a.sun_path, path, strlen(path));
        unlink(path);
        x->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (x->listen_fd < 0 || bind(x->listen_fd, (struct sockaddr *) &a, sizeof(a)) < 0 ||
            listen(x->listen_fd, 16) < 0)
                return berth_err(err, errno, "control socket `%s`", path);
        return 0;
}

static int setup(struct sup *x, berth_error **err)
{
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGCHLD);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        sigprocmask(SIG_BLOCK, &set, NULL);
        /* A client that hangs up before its answer must not kill us. */
        signal(SIGPIPE, SIG_IGN);
        x->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        const char *max = getenv("BERTH_LOG_MAX");
        x->log_max = max && strtoull(max, NULL, 10) > 0 ? strtoull(max, NULL, 10) : DEFAULT_LOG_MAX;
        _cleanup_free_ char *logs = xasprintf("%s/logs", x->state);
        if (x->sig_fd < 0 || (mkdir(logs, 0700) < 0 && errno != EEXIST))
                return berth_err(err, errno, "supervisor setup");
        if (sandbox_shared_ns_create(&x->ns, x->spec->network != SPEC_NET_HOST, err) < 0 ||
            envs_network_start(x->spec, &x->ns, &x->net, &x->warnings, err) < 0)
                return -1;
        /* The cache keeps every service's layers while we run (never closed). */
        x->inuse = xcalloc(x->spec->n_services + 1, sizeof(int));
        for (size_t i = 0; i < x->spec->n_services; i++)
                x->inuse[i] = -1;
        for (size_t i = 0; i < x->spec->n_services; i++)
                if (images_inuse_hold(x->cache, x->layers[i], &x->inuse[i], err) < 0)
                        return -1;
        x->svcs = xcalloc(x->spec->n_services ? x->spec->n_services : 1, sizeof(*x->svcs));
        x->n = x->spec->n_services;
        for (size_t i = 0; i < x->n; i++) {
                struct svc *v = &x->svcs[i];
                *v = (struct svc) { .s = &x->spec->services[i], .log_fd = -1, .hc_fd = -1,
                                    .out.fd = -1, .err.fd = -1 };
                v->log_path = xasprintf("%s/%s.log", logs, v->s->name);
                if (envs_service_sandbox(x->spec, v->s, x->state, x->layers[i], &v->sb, err) < 0)
                        return -1;
                v->sb.c.join = &x->ns;
                v->sb.c.cache_dir = x->cache;
        }
        if (listen_socket(x, err) < 0)
                return -1;
        _cleanup_free_ char *pidfile = xasprintf("%s/" ENVS_PIDFILE, x->state);
        char pid[32];
        int n = snprintf(pid, sizeof(pid), "%d\n", (int) getpid());
        return write_file_atomic(AT_FDCWD, pidfile, pid, (size_t) n, 0600, err);
}

static int64_t next_timer(struct sup *x, int64_t now)
{
        int64_t t = now + 1000;
        for (size_t i = 0; i < x->n; i++) {
                const struct svc *v = &x->svcs[i];
                if (v->state == SVC_RESTARTING && v->next_start_ms < t)
                        t = v->next_start_ms;
                if (v->hc_pid > 0 && v->hc_deadline_ms < t)
                        t = v->hc_deadline_ms;
                if (v->hc_pid <= 0 && v->pid > 0 && v->s->healthcheck.command && v->hc_next_ms < t)
                        t = v->hc_next_ms;
        }
        return t < now ? 0 : t - now;
}

static void loop_once(struct sup *x)
{
        size_t n = 3 + 3 * x->n;
        _cleanup_free_ struct pollfd *p = xcalloc(n, sizeof(*p));
        p[0] = (struct pollfd) { .fd = x->listen_fd, .events = POLLIN };
        p[1] = (struct pollfd) { .fd = x->sig_fd, .events = POLLIN };
        for (size_t i = 0; i < x->n; i++) {
                p[2 + 3 * i] = (struct pollfd) { .fd = x->svcs[i].out.fd, .events = POLLIN };
                p[3 + 3 * i] = (struct pollfd) { .fd = x->svcs[i].err.fd, .events = POLLIN };
                p[4 + 3 * i] = (struct pollfd) { .fd = x->svcs[i].hc_fd, .events = POLLIN };
        }
        p[n - 1] = (struct pollfd) { .fd = x->owner_fd, .events = POLLIN };
        int64_t now = now_ms();
        poll(p, (nfds_t) n, (int) next_timer(x, now));
        if (p[n - 1].revents)
                shut_down(x, -1);
        for (size_t i = 0; i < x->n; i++) {
                struct svc *v = &x->svcs[i];
                if (p[2 + 3 * i].revents)
                        drain(x, v, &v->out);
                if (p[3 + 3 * i].revents)
                        drain(x, v, &v->err);
                if (p[4 + 3 * i].revents)
                        read_check(v);
        }
        if (p[1].revents) {
                struct signalfd_siginfo si;
                while (read(x->sig_fd, &si, sizeof(si)) == (ssize_t) sizeof(si))
                        if (si.ssi_signo != SIGCHLD)
                                shut_down(x, -1);
                reap(x);
        }
        if (p[0].revents)
                accept_clients(x);
        now = now_ms();
        run_checks(x, now);
        start_ready(x, now);
}

/* ---- the environment's cgroup ------------------------------------------------------ */

/* The janitor: a small process outside the environment's cgroup that waits
 * for the supervisor to end, however it ends (kill -9 included), then kills
 * whatever is left in the cgroup and removes it. */
static _Noreturn void janitor(pid_t sup, int graceful_fd, const struct sandbox_env_cgroup *g, const char *state)
{
        prctl(PR_SET_NAME, "berth-cgroup");
        if (dup2(graceful_fd, 3) < 0)
                _exit(1);
        syscall(SYS_close_range, 4, ~0u, 0);
        int fd = (int) syscall(SYS_pidfd_open, sup, 0);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        while (fd >= 0 && poll(&p, 1, -1) < 0 && errno == EINTR)
                ;
        _cleanup_error_ berth_error *e = NULL, *e2 = NULL;
        sandbox_env_cgroup_remove(g, &e);
        /* The root runs kept mounted while the environment was up: `down`
         * releases it (and says so) unless the supervisor died. */
        char c;
        fcntl(3, F_SETFL, O_NONBLOCK);
        _cleanup_free_ char *keep_at = envs_kept_root_path(state);
        if (read(3, &c, 1) != 1)
                sandbox_root_release(keep_at, &e2);
        _exit(0);
}


/* Enter the environment's cgroup (with a janitor for it), where the user
 * may create one; else the services' parent-death signals and pid
 * namespaces are what ends them (doctor says which). */
static int env_cgroup(const char *state, berth_error **err)
{
        _cleanup_free_ char *id = envs_cgroup_id(state);
        struct sandbox_env_cgroup g;
        sandbox_env_cgroup_open(id, &g);
        int r = 0;
        /* What a supervisor that died left behind. */
        if (g.mech != SANDBOX_LIMIT_NONE)
                r = sandbox_env_cgroup_remove(&g, err);
        /* As root, a kept root may need releasing too. */
        int p[2];
        if (r == 0 && (g.mech != SANDBOX_LIMIT_NONE || geteuid() == 0)) {
                pid_t sup = getpid(), j = pipe2(p, O_CLOEXEC) < 0 ? -1 : fork();
                if (j == 0)
                        janitor(sup, p[0], &g, state);
                if (j < 0)
                        r = berth_err(err, errno, "start the environment's janitor");
                else {
                        close(p[0]);
                        janitor_fd = p[1];
                }
        }
        if (r == 0 && g.mech != SANDBOX_LIMIT_NONE)
                r = sandbox_env_cgroup_enter(&g, err);
        sandbox_env_cgroup_done(&g);
        return r;
}

_Noreturn void envs_supervise(const struct spec *s, const char *state, char ***layers, const char *cache,
                              int lock_fd, pid_t owner, int ready_fd)
{
        struct sup x = { .spec = s, .state = state, .layers = layers, .cache = cache, .listen_fd = -1,
                         .sig_fd = -1, .owner_fd = -1, .net = { .pid = -1, .ready_fd = -1, .err_fd = -1 } };
        _cleanup_error_ berth_error *e = NULL;
        /* Only the lock (held until we exit) and the ready pipe stay open:
         * whatever else the command had must not outlive it. */
        int hi_lock = fcntl(lock_fd, F_DUPFD_CLOEXEC, 100), hi_ready = fcntl(ready_fd, F_DUPFD_CLOEXEC, 100);
        if (hi_lock < 0 || hi_ready < 0 || dup3(hi_lock, 3, O_CLOEXEC) < 0 || dup3(hi_ready, 4, O_CLOEXEC) < 0)
                _exit(1);
        ready_fd = 4;
        syscall(SYS_close_range, 5, ~0u, 0);
        prctl(PR_SET_NAME, "berth-supervise");
        /* Before anything is forked: the caller's stdio (a terminal, a
         * pipe someone reads to its end) is not ours to keep open. */
        x.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        dup2(x.devnull, STDIN_FILENO);
        with_stdio(&x, -1, -1);
        /* Opened before the owner could be gone: it waits for our "ok". */
        if (owner > 0 && (x.owner_fd = (int) syscall(SYS_pidfd_open, owner, 0)) < 0)
                berth_err(&e, errno, "watch the process that started the environment");
        if (e || env_cgroup(state, &e) < 0 || setup(&x, &e) < 0) {
                _cleanup_free_ char *text = berth_error_text(e);
                write_all(ready_fd, text, strlen(text));
                write_all(ready_fd, "\n", 1);
                _exit(1);
        }
        write_all(ready_fd, "ok\n", 3);
        close(ready_fd);
        for (;;)
                loop_once(&x);
}
