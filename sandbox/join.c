/* Namespaces that several sandboxes share (an environment's network), and
 * entering a running sandbox (`exec`, healthchecks). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "sandbox-private.h"

/* The holder: makes the namespaces, waits for its maps, brings loopback up,
 * then lives until its creator hangs up or dies. */
static _Noreturn void holder_main(int sock, bool own_net)
{
        char b = 0;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        prctl(PR_SET_NAME, "berth-netns");
        /* Not dumpable: its memory is a copy of berth's. */
        prctl(PR_SET_DUMPABLE, 0);
        if (unshare(CLONE_NEWUSER | (own_net ? CLONE_NEWNET : 0)) < 0 || write(sock, "u", 1) != 1 ||
            read(sock, &b, 1) != 1 || b != 'm')
                _exit(1);
        _cleanup_error_ berth_error *e = NULL;
        /* Not dumpable, its /proc is closed to its creator: it sends them. */
        int fds[2] = { open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC),
                       own_net ? open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC) : -1 };
        if (fds[0] < 0 || (own_net && (fds[1] < 0 || loopback_up(&e) < 0)) ||
            send_fds(sock, "r", 1, fds, own_net ? 2 : 1) < 0)
                _exit(1);
        close(fds[0]);
        if (fds[1] >= 0)
                close(fds[1]);
        while (read(sock, &b, 1) < 0 && errno == EINTR)
                ;
        _exit(0);
}

static int wait_byte(int sock, char want, berth_error **err)
{
        char b = 0;
        ssize_t n;
        while ((n = read(sock, &b, 1)) < 0 && errno == EINTR)
                ;
        if (n != 1 || b != want)
                return berth_err(err, n < 0 ? errno : 0, "the shared namespaces' holder failed (are user namespaces allowed?)");
        return 0;
}

static int open_ns(pid_t pid, const char *name, int *ret, berth_error **err)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int) pid, name);
        *ret = open(path, O_RDONLY | O_CLOEXEC);
        return *ret < 0 ? berth_err(err, errno, "open %s", path) : 0;
}

int sandbox_shared_ns_create(struct sandbox_shared_ns *ret, bool own_net, berth_error **err)
{
        struct idmap_plan ids;
        int sv[2];
        *ret = (struct sandbox_shared_ns) { .userns_fd = -1, .netns_fd = -1, .holder_sock = -1, .holder = -1 };
        if (idmap_plan_make(&ids, err) < 0)
                return -1;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return berth_err(err, errno, "socketpair");
        pid_t pid = fork();
        if (pid == 0) {
                close(sv[0]);
                holder_main(sv[1], own_net);
        }
        close(sv[1]);
        if (pid < 0) {
                close(sv[0]);
                return berth_err(err, errno, "fork");
        }
        ret->holder = pid;
        /* The socket stays open in the holder's creator: its end is the
         * holder's life. */
        char b = 0;
        int fds[MAX_PASSED_FDS];
        size_t n = 0;
        if (wait_byte(sv[0], 'u', err) < 0 || idmap_write(&ids, pid, err) < 0 || write(sv[0], "m", 1) != 1 ||
            recv_fds(sv[0], &b, 1, fds, &n) < 0 || b != 'r' || n != (own_net ? 2u : 1u)) {
                for (size_t i = 0; i < n; i++)
                        close(fds[i]);
                if (!*err)
                        berth_err(err, errno, "the shared namespaces' holder failed");
                close(sv[0]);
                sandbox_shared_ns_done(ret);
                return berth_error_wrap(err, "shared network namespace");
        }
        ret->userns_fd = fds[0];
        ret->netns_fd = own_net ? fds[1] : -1;
        ret->holder_sock = sv[0];
        return 0;
}

void sandbox_shared_ns_done(struct sandbox_shared_ns *ns)
{
        if (ns->userns_fd >= 0)
                close(ns->userns_fd);
        if (ns->netns_fd >= 0)
                close(ns->netns_fd);
        if (ns->holder > 0) {
                kill(ns->holder, SIGKILL);
                while (waitpid(ns->holder, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        if (ns->holder_sock >= 0)
                close(ns->holder_sock);
        *ns = (struct sandbox_shared_ns) { .userns_fd = -1, .netns_fd = -1, .holder_sock = -1, .holder = -1 };
}

/* 'p': pasta serves the network (outbound access, DNS), 'n': loopback only. */
int sandbox_shared_ns_send(int sock, const struct sandbox_shared_ns *ns)
{
        int fds[2] = { ns->userns_fd, ns->netns_fd };
        if (ns->netns_fd < 0) {
                errno = ENOENT;
                return -1;
        }
        return send_fds(sock, ns->outbound ? "p" : "n", 1, fds, 2);
}

int sandbox_shared_ns_recv(int sock, struct sandbox_shared_ns *ret, berth_error **err)
{
        char b = 0;
        int fds[MAX_PASSED_FDS];
        size_t n = 0;
        *ret = (struct sandbox_shared_ns) { .userns_fd = -1, .netns_fd = -1, .holder_sock = -1, .holder = -1 };
        if (recv_fds(sock, &b, 1, fds, &n) < 0 || (b != 'n' && b != 'p') || n != 2) {
                for (size_t i = 0; i < n; i++)
                        close(fds[i]);
                return berth_err(err, errno, "receive the shared namespaces");
        }
        ret->userns_fd = fds[0];
        ret->netns_fd = fds[1];
        ret->outbound = b == 'p';
        return 0;
}

/* ---- entering a running sandbox ------------------------------------------ */

static const char *const ns_names[] = { "user", "ipc", "uts", "net", "pid", "cgroup", "mnt" };

struct enter {
        const struct sandbox_config *c;
        struct child_args a;
        struct sandbox_bpf bpf;
        int ns[ARRAY_SIZE(ns_names)];
        int report[2];
};

static _Noreturn void enter_fail(int fd, berth_error *e, int status)
{
        struct child_report rep = { .kind = e ? e->kind : BERTH_E_FAILED, .errnum = e ? e->errnum : 0 };
        snprintf(rep.msg, sizeof(rep.msg), "%s", e ? e->msg : "enter the sandbox");
        (void) !write(fd, &rep, sizeof(rep));
        _exit(status);
}

/* In the sandbox's pid namespace: the command, set up as the init sets up
 * a sandbox's own command. */
static _Noreturn void enter_command(struct enter *x, int last_cap)
{
        berth_error *e = NULL;
        bool has_path;
        static const int sigs[] = { SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGCHLD, SIGTSTP, SIGTTIN, SIGTTOU,
                                    SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH };
        sigset_t none;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* What the caller ignored or blocked is not the command's business. */
        for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
                signal(sigs[i], SIG_DFL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (setsid() < 0)
                berth_err(&e, errno, "setsid");
        else if (chdir(x->c->cwd ? x->c->cwd : "/") < 0)
                berth_err(&e, errno, "working directory `%s`", x->c->cwd);
        else if (caps_bound(x->a.caps, last_cap, &e) == 0 && become_user(&x->a, &e) == 0 &&
                 caps_apply(x->a.caps, x->a.uid == 0, &e) == 0) {
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        berth_err(&e, errno, "no_new_privs");
                else if (syscall(SYS_close_range, 3, ~0u, CLOSE_RANGE_CLOEXEC) < 0)
                        berth_err(&e, errno, "close_range");
        }
        if (e || (x->a.bpf && load_seccomp(x->a.bpf, &e) < 0))
                enter_fail(x->report[1], e, 125);
        environ = command_env(x->c->env, &has_path);
        execvp(x->c->argv[0], x->c->argv);
        int en = errno;
        bool missing = en == ENOENT || en == ENOTDIR;
        berth_error_make(&e, missing ? BERTH_E_NOCMD : BERTH_E_NOEXEC, en, "exec `%s`", x->c->argv[0]);
        enter_fail(x->report[1], e, missing ? 127 : 126);
}

/* Joins every namespace (the user namespace first: it gives the rest),
 * then forks into the pid namespace and passes the command's status up. */
static _Noreturn void enter_main(struct enter *x)
{
        berth_error *e = NULL;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(x->report[0]);
        int last_cap = read_last_cap();
        for (size_t i = 0; i < ARRAY_SIZE(ns_names); i++)
                if (x->ns[i] >= 0 && setns(x->ns[i], 0) < 0) {
                        berth_err(&e, errno, "join the sandbox's %s namespace", ns_names[i]);
                        enter_fail(x->report[1], e, 125);
                }
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
                berth_err(&e, errno, "become root in the sandbox");
                enter_fail(x->report[1], e, 125);
        }
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        prctl(PR_SET_DUMPABLE, 0);
        pid_t pid = fork();
        if (pid == 0)
                enter_command(x, last_cap);
        close(x->report[1]);
        if (pid < 0)
                _exit(125);
        int st;
        while (waitpid(pid, &st, 0) < 0)
                if (errno != EINTR)
                        _exit(125);
        if (WIFSIGNALED(st))
                _exit(128 + WTERMSIG(st));
        _exit(WEXITSTATUS(st));
}

static void enter_done(struct enter *x)
{
        for (size_t i = 0; i < ARRAY_SIZE(ns_names); i++)
                if (x->ns[i] >= 0)
                        close(x->ns[i]);
        for (size_t i = 0; i < 2; i++)
                if (x->report[i] >= 0)
                        close(x->report[i]);
        sandbox_bpf_done(&x->bpf);
}

/* The init is not dumpable (its memory is a copy of berth's), so its /proc
 * is closed to us when rootless; the command it started, in the same
 * namespaces, is ours to enter. */
static pid_t command_of(pid_t init)
{
        char path[80];
        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int) init, (int) init);
        _cleanup_free_ char *buf = NULL;
        _cleanup_error_ berth_error *e = NULL;
        if (read_file_bounded(AT_FDCWD, path, 4096, "children", &buf, NULL, &e) < 0 || atoi(buf) <= 0)
                return init;
        return (pid_t) atoi(buf);
}

/* A namespace the sandbox shares with us (the host's network, for a
 * service with network host) is not entered: we are in it already, and
 * from inside the sandbox's user namespace we could not. */
static bool same_as_ours(int fd, const char *name)
{
        char path[64];
        struct stat a, b;
        snprintf(path, sizeof(path), "/proc/self/ns/%s", name);
        return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int enter_prepare(struct enter *x, pid_t init, berth_error **err)
{
        const struct sandbox_config *c = x->c;
        if (!c->argv || !c->argv[0])
                return berth_error_make(err, BERTH_E_USAGE, 0, "no command to run");
        if (user_resolve(&c->root, c->user, &x->a.uid, &x->a.gid, err) < 0 ||
            caps_mask_for(c->cap_add, c->cap_drop, &x->a.caps, err) < 0)
                return -1;
        if (c->seccomp != SANDBOX_SECCOMP_UNCONFINED) {
                if (sandbox_seccomp_compile_caps(c->seccomp, c->seccomp_profile, x->a.caps, c->cache_dir, &x->bpf,
                                                 NULL, err) < 0)
                        return berth_error_wrap(err, "seccomp");
                x->a.bpf = &x->bpf;
        }
        pid_t target = command_of(init);
        for (size_t i = 0; i < ARRAY_SIZE(ns_names); i++) {
                if (open_ns(target, ns_names[i], &x->ns[i], err) < 0)
                        return berth_error_wrap(err, "the sandbox is gone");
                if (same_as_ours(x->ns[i], ns_names[i])) {
                        close(x->ns[i]);
                        x->ns[i] = -1;
                }
        }
        if (pipe2(x->report, O_CLOEXEC) < 0)
                return berth_err(err, errno, "pipe");
        return 0;
}

int sandbox_enter_start(pid_t init, const struct sandbox_config *c, pid_t *ret_pid, berth_error **err)
{
        struct enter x = { .c = c, .report = { -1, -1 } };
        for (size_t i = 0; i < ARRAY_SIZE(ns_names); i++)
                x.ns[i] = -1;
        int r = -1;
        if (enter_prepare(&x, init, err) < 0)
                goto out;
        pid_t pid = fork();
        if (pid < 0) {
                berth_err(err, errno, "fork");
                goto out;
        }
        if (pid == 0)
                enter_main(&x);
        close(x.report[1]);
        x.report[1] = -1;
        struct child_report rep;
        ssize_t n;
        while ((n = read(x.report[0], &rep, sizeof(rep))) < 0 && errno == EINTR)
                ;
        if (n == (ssize_t) sizeof(rep)) {
                rep.msg[sizeof(rep.msg) - 1] = 0;
                berth_error_make(err, rep.kind, rep.errnum, "%s", rep.msg);
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                goto out;
        }
        *ret_pid = pid;
        r = 0;
out:
        enter_done(&x);
        return r;
}
