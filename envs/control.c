/* The client side of an environment's supervisor: start it (`up`), ask it
 * (`ps`, `exec`), stop it (`down`). A supervisor is trusted only when it
 * holds the environment's supervisor.lock, its pid file names a live
 * process and its control socket answers. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "envs-private.h"

static char *state_path(const struct spec *s, const char *name, berth_error **err)
{
        _cleanup_free_ char *base = NULL;
        if (berth_state_dir(&base, err) < 0)
                return NULL;
        _cleanup_free_ char *dir = envs_dir_path(base, s);
        return name ? xasprintf("%s/%s", dir, name) : TAKE_PTR(dir);
}

static int connect_to(const char *state, int *ret, berth_error **err)
{
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        _cleanup_free_ char *path = xasprintf("%s/" ENVS_SOCKET, state);
        if (strlen(path) >= sizeof(a.sun_path))
                return berth_error_make(err, BERTH_E_LIMIT, 0, "control socket path too long: %s", path);
        memcpy(a.sun_path, path, strlen(path));
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &a, sizeof(a)) < 0)
                return berth_err(err, errno, "the supervisor's control socket");
        *ret = TAKE_FD(fd);
        return 0;
}

/* Send one request and read the whole answer (the supervisor closes). */
static int ask(const char *state, const char *req, char **ret, berth_error **err)
{
        _cleanup_close_ int fd = -1;
        if (connect_to(state, &fd, err) < 0)
                return -1;
        if (write_all(fd, req, strlen(req)) < 0)
                return berth_err(err, errno, "the supervisor's control socket");
        return read_fd_bounded(fd, 1 << 20, "the supervisor's answer", ret, NULL, err);
}

/* 1 and the pid when the lock is held, the pid file names a live process and
 * the socket answers with that pid; 0 when no supervisor holds the lock (a
 * leftover pid file or socket is stale); 2 when the lock is held but the
 * socket does not answer (starting, or stuck). */
static int supervisor_alive(const char *state, pid_t *ret_pid)
{
        _cleanup_free_ char *lock = xasprintf("%s/" ENVS_LOCKFILE, state);
        _cleanup_close_ int fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        *ret_pid = 0;
        if (fd < 0 || flock(fd, LOCK_SH | LOCK_NB) == 0)
                return 0;
        _cleanup_free_ char *pidfile = xasprintf("%s/" ENVS_PIDFILE, state), *buf = NULL, *pong = NULL;
        _cleanup_error_ berth_error *e = NULL;
        if (read_file_bounded(AT_FDCWD, pidfile, 64, "pid file", &buf, NULL, &e) < 0)
                return 2;
        pid_t pid = (pid_t) atoi(buf);
        if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH) || ask(state, "ping\n", &pong, &e) < 0)
                return 2;
        if (!startswith(pong, "pong ") || atoi(pong + 5) != pid)
                return 2;
        *ret_pid = pid;
        return 1;
}

bool envs_is_up(const char *state)
{
        pid_t pid;
        return supervisor_alive(state, &pid) == 1;
}

int envs_detach(const struct spec *s, berth_error **err)
{
        _cleanup_free_ char *state = state_path(s, NULL, err), *answer = NULL;
        if (!state || ask(state, "detach\n", &answer, err) < 0)
                return -1;
        if (!startswith(answer, "ok"))
                return berth_err(err, 0, "the supervisor did not take the environment over");
        return 0;
}

static void remove_stale(const char *state)
{
        static const char *const names[] = { ENVS_SOCKET, ENVS_PIDFILE };
        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                _cleanup_free_ char *p = xasprintf("%s/%s", state, names[i]);
                unlink(p);
        }
}

/* Fork twice so the supervisor belongs to no terminal session and no one
 * waits for it; it tells us over a pipe when it listens. */
static int spawn_supervisor(const struct spec *s, const char *state, char ***layers, const char *cache, int lock_fd,
                            pid_t owner, berth_error **err)
{
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return berth_err(err, errno, "pipe");
        pid_t mid = fork();
        if (mid == 0) {
                close(p[0]);
                if (setsid() < 0 || fork() != 0)
                        _exit(0);
                envs_supervise(s, state, layers, cache, lock_fd, owner, p[1]);
        }
        close(p[1]);
        if (mid > 0)
                while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
                        ;
        /* One line: processes the supervisor forks keep the pipe open. */
        char msg[1024];
        size_t len = 0;
        ssize_t n;
        while (len < sizeof(msg) - 1 && (n = read(p[0], msg + len, sizeof(msg) - 1 - len)) != 0) {
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        break;
                len += (size_t) n;
                if (memchr(msg, '\n', len))
                        break;
        }
        msg[len] = 0;
        close(p[0]);
        if (mid < 0)
                return berth_err(err, errno, "fork");
        if (!startswith(msg, "ok\n"))
                return berth_err(err, 0, "the supervisor did not start: %s", *msg ? msg : "it died");
        return 0;
}

struct layer_lists {
        char ***v;
        size_t n;
};

static void layer_lists_freep(struct layer_lists *l)
{
        for (size_t i = 0; i < l->n; i++)
                strv_free(l->v[i]);
        free(l->v);
}

int envs_up(const struct spec *s, pid_t owner, bool *ret_started, berth_error **err)
{
        _cleanup_free_ char *state = state_path(s, NULL, err), *cache = NULL;
        _cleanup_(layer_lists_freep) struct layer_lists layers = { xcalloc(s->n_services + 1, sizeof(char **)),
                                                                  s->n_services };
        pid_t pid;
        *ret_started = false;
        if (!state || berth_cache_dir(&cache, err) < 0 || mkdir_p(state, 0700, err) < 0)
                return -1;
        _cleanup_free_ char *lock = xasprintf("%s/" ENVS_LOCKFILE, state);
        _cleanup_close_ int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return berth_err(err, errno, "state: open `%s`", lock);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno != EWOULDBLOCK)
                        return berth_err(err, errno, "state: lock `%s`", lock);
                if (supervisor_alive(state, &pid) == 1)
                        return 0;
                return berth_err(err, 0, "%s: another berth is starting or stopping this environment", s->name);
        }
        remove_stale(state);
        if (envs_network_ports_free(s, err) < 0)
                return -1;
        for (size_t i = 0; i < s->n_services; i++)
                if (envs_service_layers(s, &s->services[i], state, true, &layers.v[i], err) < 0)
                        return -1;
        if (spawn_supervisor(s, state, layers.v, cache, fd, owner, err) < 0)
                return -1;
        *ret_started = true;
        return 0;
}

int envs_status(const struct spec *s, enum envs_liveness *ret_live, json_t **ret, berth_error **err)
{
        _cleanup_free_ char *state = state_path(s, NULL, err), *pidfile = NULL, *answer = NULL;
        pid_t pid;
        if (ret)
                *ret = NULL;
        if (!state)
                return -1;
        int alive = supervisor_alive(state, &pid);
        pidfile = xasprintf("%s/" ENVS_PIDFILE, state);
        if (alive != 1) {
                struct stat st;
                *ret_live = alive == 2 || lstat(pidfile, &st) == 0 ? ENVS_DEAD : ENVS_DOWN;
                return 0;
        }
        *ret_live = ENVS_UP;
        if (!ret)
                return 0;
        if (ask(state, "ps\n", &answer, err) < 0)
                return -1;
        json_error_t je;
        *ret = json_loads(answer, 0, &je);
        if (!*ret)
                return berth_err(err, 0, "the supervisor's answer: %s", je.text);
        return 0;
}

/* Wait (up to 60 s past the services' own stop timeouts) for the
 * supervisor to let go of its lock. */
static int wait_unlocked(const char *state, berth_error **err)
{
        _cleanup_free_ char *lock = xasprintf("%s/" ENVS_LOCKFILE, state);
        _cleanup_close_ int fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return 0;
        for (int i = 0; i < 6000; i++) {
                if (flock(fd, LOCK_SH | LOCK_NB) == 0)
                        return 0;
                struct timespec t = { 0, 10 * 1000 * 1000 };
                nanosleep(&t, NULL);
        }
        return berth_err(err, 0, "the supervisor did not stop");
}

int envs_services_down(const struct spec *s, bool *ret_was_up, berth_error **err)
{
        _cleanup_free_ char *state = state_path(s, NULL, err), *answer = NULL;
        pid_t pid;
        *ret_was_up = false;
        if (!state)
                return -1;
        int alive = supervisor_alive(state, &pid);
        if (alive == 1) {
                _cleanup_error_ berth_error *e = NULL;
                ask(state, "down\n", &answer, &e);
                *ret_was_up = true;
        }
        if (alive != 0 && wait_unlocked(state, err) < 0)
                return -1;
        /* Whatever is left in its cgroup goes with it (its janitor does the
         * same, and does it alone after a kill -9). */
        if (envs_cgroup_cleanup(state, err) < 0)
                return -1;
        remove_stale(state);
        static const char *const dirs[] = { "services", "logs" };
        for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
                _cleanup_free_ char *d = xasprintf("%s/%s", state, dirs[i]);
                if (rm_rf_at(AT_FDCWD, d, err) < 0 && (*err)->kind != BERTH_E_NOTFOUND)
                        return berth_error_wrap(err, "state");
                berth_error_freep(err);
        }
        return 0;
}

char *envs_logs_dir(const struct spec *s, berth_error **err)
{
        return state_path(s, "logs", err);
}

static const struct spec_service *find_service(const struct spec *s, const char *name)
{
        for (size_t i = 0; i < s->n_services; i++)
                if (streq(s->services[i].name, name))
                        return &s->services[i];
        return NULL;
}

/* The service's entry in the supervisor's `ps`: its init's pid, or an
 * error saying what state it is in. */
static int running_pid(const struct spec *s, const char *name, pid_t *ret, berth_error **err)
{
        enum envs_liveness live;
        json_t *doc = NULL;
        if (envs_status(s, &live, &doc, err) < 0)
                return -1;
        const char *st = live == ENVS_DEAD ? "dead" : "down";
        json_t *v;
        size_t i;
        *ret = 0;
        json_array_foreach(doc ? json_object_get(doc, "services") : NULL, i, v)
                if (streq(json_string_value(json_object_get(v, "name")), name)) {
                        st = json_string_value(json_object_get(v, "state"));
                        *ret = (pid_t) json_integer_value(json_object_get(v, "pid"));
                }
        int r = 0;
        if (*ret <= 0)
                r = berth_error_make(err, BERTH_E_FAILED, 0, "%s is not running (state: %s)", name, st);
        json_decref(doc);
        return r;
}

int envs_exec(const struct spec *s, const char *service, char *const *argv, int *ret_status, berth_error **err)
{
        const struct spec_service *v = find_service(s, service);
        if (!v)
                return berth_error_make(err, BERTH_E_NOTFOUND, 0, "no service named `%s` in %s", service, s->path);
        _cleanup_free_ char *state = state_path(s, NULL, err), *cache = NULL;
        _cleanup_strv_ char **layers = NULL;
        pid_t init, pid;
        if (!state || running_pid(s, service, &init, err) < 0 || berth_cache_dir(&cache, err) < 0 ||
            envs_service_layers(s, v, state, false, &layers, err) < 0)
                return -1;
        struct envs_service_sandbox b;
        int r = envs_service_sandbox(s, v, state, layers, &b, err);
        if (r == 0) {
                b.c.argv = argv;
                b.c.cache_dir = cache;
                r = sandbox_enter_start(init, &b.c, &pid, err);
        }
        envs_service_sandbox_done(&b);
        if (r < 0)
                return -1;
        int st;
        while (waitpid(pid, &st, 0) < 0)
                if (errno != EINTR)
                        return berth_err(err, errno, "wait for the command");
        *ret_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return 0;
}

/* The supervisor's answer proves it alive: no ping first. One that holds its
 * lock but does not listen (starting, or stuck) is not up. */
int envs_join_network(const char *state, struct sandbox_shared_ns *ret, berth_error **err)
{
        _cleanup_free_ char *lock = xasprintf("%s/" ENVS_LOCKFILE, state);
        _cleanup_close_ int lock_fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        _cleanup_close_ int fd = -1;
        _cleanup_error_ berth_error *e = NULL;
        if (lock_fd < 0 || flock(lock_fd, LOCK_SH | LOCK_NB) == 0 || connect_to(state, &fd, &e) < 0)
                return 0;
        if (write_all(fd, "join\n", 5) < 0)
                return berth_err(err, errno, "the supervisor's control socket");
        return sandbox_shared_ns_recv(fd, ret, err) < 0 ? -1 : 1;
}
