/* berth's side of a sandbox: prepare what needs the host (seccomp program,
 * id maps, cgroup, idmapped binds), clone into new namespaces, then relay
 * signals (and the pty) until the sandbox's init exits. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>

#include "sandbox-private.h"

#define MAX_RESOLV_CONF 65536

struct run {
        const struct sandbox_config *c;
        struct child_args args;
        struct idmap_plan ids;
        struct sandbox_bpf bpf;
        struct cgroup_handle cgroup;
        bool self_join;                         /* v1: the init joins itself */
        pthread_t cgroup_thread;
        bool cgroup_started;
        berth_error *cgroup_err;
        int *bind_fds;
        pid_t child;
        int sync_w, report_r, pty_sock, root_sock, sig_fd, master;
        sigset_t old_mask;
        struct termios saved_tio;
        bool raw;
        bool fd_layers;                         /* overlay takes idmapped layers as fds */
        char *keep_key;                         /* the root is kept mounted (keep.c) */
        struct sandbox_net net;                 /* pasta, for a private network */
        int kept_fd;                            /* a clone of the kept root, or -1 */
};

static int check_config(const struct sandbox_config *c, berth_error **err)
{
        if (!c->argv || !c->argv[0])
                return berth_error_make(err, BERTH_E_USAGE, 0, "no command to run");
        if (!c->root.dir && (c->root.n_lowerdirs == 0 || !c->root.mountpoint))
                return berth_error_make(err, BERTH_E_INVALID, 0, "sandbox root: need a folder or layers and a mountpoint");
        if (!c->root.dir && c->root.upperdir && !c->root.workdir)
                return berth_error_make(err, BERTH_E_INVALID, 0, "sandbox root: an upper dir needs a work dir");
        for (size_t i = 0; i < c->n_mounts; i++)
                if (!c->mounts[i].target || c->mounts[i].target[0] != '/' ||
                    (c->mounts[i].type == SANDBOX_MOUNT_BIND && !c->mounts[i].source))
                        return berth_error_make(err, BERTH_E_INVALID, 0, "mount %zu: needs an absolute target%s", i,
                                                c->mounts[i].type == SANDBOX_MOUNT_BIND ? " and a source" : "");
        return 0;
}

/* As root, a bind the sandbox writes into gets an idmapped mount: files the
 * sandbox's user creates there belong to the folder's owner on the host. */
static int prepare_binds(struct run *r, berth_error **err)
{
        const struct sandbox_config *c = r->c;
        r->bind_fds = xcalloc(c->n_mounts ? c->n_mounts : 1, sizeof(int));
        for (size_t i = 0; i < c->n_mounts; i++)
                r->bind_fds[i] = -1;
        if (!r->ids.as_root)
                return 0;
        for (size_t i = 0; i < c->n_mounts; i++) {
                const struct sandbox_mount *m = &c->mounts[i];
                struct stat st;
                if (m->type != SANDBOX_MOUNT_BIND)
                        continue;
                if (!m->owned_by_source) {
                        r->bind_fds[i] = open_tree(AT_FDCWD, m->source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
                        if (r->bind_fds[i] < 0)
                                return berth_err(err, errno, "bind `%s`", m->source);
                        continue;
                }
                if (stat(m->source, &st) < 0)
                        return berth_err(err, errno, "bind source `%s`", m->source);
                _cleanup_close_ int ns = -1;
                if (idmap_userns_fd(st.st_uid, idmap_host_uid(&r->ids, r->args.uid), st.st_gid,
                                    idmap_host_gid(&r->ids, r->args.gid), &ns, err) < 0)
                        return -1;
                int t = open_tree(AT_FDCWD, m->source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
                if (t < 0)
                        return berth_err(err, errno, "clone `%s`", m->source);
                r->bind_fds[i] = t;
                struct mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t) ns };
                if (mount_setattr(t, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0)
                        return berth_err(err, errno, "idmapped mount of `%s`", m->source);
        }
        return 0;
}

/* overlay takes idmapped layers only when they are attached in the caller's
 * mount namespace, so as root berth moves itself into a private one (once)
 * and stacks them there; the overlay keeps private clones of its layers, so
 * they are detached again right after. */
static int enter_private_mntns(berth_error **err)
{
        static bool done;
        if (done)
                return 0;
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return berth_err(err, errno, "private mount namespace");
        done = true;
        return 0;
}

/* The idmapped layers were stacked on the mountpoint only for overlay to
 * find them; it holds its own references. */
static void detach_layers(const struct run *r)
{
        if (!r->c->root.dir && !r->fd_layers)
                while (umount2(r->c->root.mountpoint, MNT_DETACH) == 0)
                        ;
}

/* A fresh overlay, kept from now on when the pin works. A pin that failed
 * half way may have taken the overlay with it: mount another. */
static int pin_root(struct run *r, int userns, int *fd, berth_error **err)
{
        _cleanup_error_ berth_error *e = NULL;
        int c;
        if (kept_root_pin(*fd, r->c->root.keep_at, r->keep_key, &c, &e) == 0) {
                log_debug("root: a new overlay, kept mounted from now on (%s)", r->c->root.keep_at);
                close(*fd);
                *fd = c;
                return 0;
        }
        log_debug("the root is mounted for this run only: %s", e->msg);
        close(*fd);
        *fd = -1;
        return root_make_idmapped(&r->c->root, userns, r->fd_layers, fd, err);
}

/* Image files belong to host ids 0..65535 (root unpacked them); idmapped
 * layers show them as the sandbox's range, so its root owns its image. The
 * sandbox's own user namespace, once mapped, is exactly that idmapping
 * (0.. -> base..), so it serves as one: no extra namespace to create. The
 * mount goes to the child over root_sock before it is released. */
static int send_root(struct run *r, berth_error **err)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/user", (int) r->child);
        _cleanup_close_ int ns = open(path, O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int fd = -1;
        if (ns < 0)
                return berth_err(err, errno, "open %s", path);
        int ok = 0;
        _cleanup_error_ berth_error *e = NULL;
        if (r->kept_fd >= 0)
                fd = TAKE_FD(r->kept_fd);
        else if (r->c->root.dir && r->c->root.owned_by_sandbox)
                ok = root_make(&r->c->root, true, &fd, &e);
        else if ((ok = root_make_idmapped(&r->c->root, ns, r->fd_layers, &fd, &e)) == 0 && r->keep_key)
                ok = pin_root(r, ns, &fd, &e);
        if (ok < 0) {
                detach_layers(r);
                _cleanup_free_ char *why = berth_error_text(e);
                if (root_make(&r->c->root, true, &fd, err) < 0)
                        return berth_error_wrap(err, "root");
                berth_warn(r->c->warnings, NULL, "the root cannot be idmapped (%s): its files keep their host "
                           "owners, so root inside cannot change them", why);
        }
        if (send_fd(r->root_sock, fd) < 0)
                return berth_err(err, errno, "hand the root to the sandbox");
        /* Only now, while the child makes its mounts. */
        detach_layers(r);
        return 0;
}

static int block_signals(struct run *r, berth_error **err)
{
        sigset_t set;
        relayed_signals(&set);
        if (sigprocmask(SIG_BLOCK, &set, &r->old_mask) < 0)
                return berth_err(err, errno, "sigprocmask");
        r->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        if (r->sig_fd < 0)
                return berth_err(err, errno, "signalfd");
        return 0;
}

static int make_cgroup(struct run *r, const char *v2, berth_error **err)
{
        int sj;
        if (cgroup_create(v2, &r->c->limits, r->c->name, &r->cgroup, err) < 0 ||
            (sj = cgroup_prepare_self_join(&r->cgroup, err)) < 0)
                return -1;
        r->self_join = sj == 1;
        cgroup_prepare_view(&r->cgroup);
        return 0;
}

/* Only with fd layers: the mountpoint method leaves berth in a private mount
 * namespace, where a pin would not outlive it. Before any thread: setns(). */
static int open_kept_root(struct run *r, berth_error **err)
{
        const struct sandbox_root *root = &r->c->root;
        r->keep_key = kept_root_key(root, &r->ids);
        int hit = kept_root_open(root->keep_at, r->keep_key, &r->kept_fd, err);
        if (hit > 0)
                log_debug("root: the overlay kept on %s", root->keep_at);
        return hit < 0 ? -1 : 0;
}

static int prepare(struct run *r, berth_error **err)
{
        const struct sandbox_config *c = r->c;
        if (check_config(c, err) < 0 || user_resolve(&c->root, c->user, &r->args.uid, &r->args.gid, err) < 0 ||
            caps_mask_for(c->cap_add, c->cap_drop, &r->args.caps, err) < 0)
                return -1;
        if (c->seccomp != SANDBOX_SECCOMP_UNCONFINED) {
                if (sandbox_seccomp_compile_caps(c->seccomp, c->seccomp_profile, r->args.caps, c->cache_dir, &r->bpf,
                                                 NULL, err) < 0)
                        return berth_error_wrap(err, "seccomp");
                r->args.bpf = &r->bpf;
        }
        if (idmap_plan_make(&r->ids, err) < 0 || prepare_binds(r, err) < 0)
                return -1;
        /* Before any cgroup thread exists: unshare(CLONE_NEWNS) refuses a
         * process whose threads share its fs_struct. */
        if (r->ids.as_root && !c->root.dir) {
                /* BERTH_OVERLAY_LAYERS=mountpoint: the older way, for tests */
                const char *how = getenv("BERTH_OVERLAY_LAYERS");
                r->fd_layers = !(how && streq(how, "mountpoint")) && overlay_takes_fds();
                if (!r->fd_layers && enter_private_mntns(err) < 0)
                        return -1;
                if (r->fd_layers && c->root.keep_at && c->root.upperdir && !c->root.volatile_upper &&
                    open_kept_root(r, err) < 0)
                        return -1;
        }
        /* v2: the cgroup must exist now, for the thread that moves the child
         * in while the root is built (that takes an RCU grace period); v1's
         * is made now too, and the init joins it by itself. */
        bool want = limits_want_cgroup(&c->limits);
        _cleanup_free_ char *v2 = want ? cgroup2_delegated_dir() : NULL;
        if (want && make_cgroup(r, v2, err) < 0)
                return -1;
        if (net_plan(c, &r->args.announce_netns, &r->args.resolv_conf, err) < 0)
                return -1;
        if (c->network == SANDBOX_NET_HOST) {
                _cleanup_error_ berth_error *e = NULL;
                read_file_bounded(AT_FDCWD, "/etc/resolv.conf", MAX_RESOLV_CONF, "resolv.conf", &r->args.resolv_conf,
                                  NULL, &e);
        }
        return 0;
}

static unsigned long clone_flags(const struct sandbox_config *c)
{
        /* The cgroup namespace comes later, once the init is in berth's
         * cgroup. */
        return CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS |
               (c->network != SANDBOX_NET_HOST && !c->join ? CLONE_NEWNET : 0);
}

static void close_pairs(int (*p)[2], size_t n)
{
        for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < 2; k++)
                        if (p[i][k] >= 0)
                                close(p[i][k]);
}

/* The sync socket, the report pipe, the pty socket (for a tty) and, as
 * root, the root's socket: the sandbox's ids cannot reach into our private
 * folders, so we build the root and hand it over as a detached mount. All
 * or none: a failed call leaves its pair at -1. */
static int make_channels(const struct run *r, int (*p)[2], berth_error **err)
{
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p[0]) < 0 || pipe2(p[1], O_CLOEXEC) < 0 ||
            (r->c->tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p[2]) < 0) ||
            (r->ids.as_root && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p[3]) < 0)) {
                int e = errno;
                close_pairs(p, 4);
                return berth_err(err, e, "sockets and pipe to the sandbox");
        }
        return 0;
}

/* Into shared namespaces: a short-lived helper enters the user and network
 * namespaces (a user namespace cannot be left again; without a network
 * namespace of their own, the host's stays) and clones the init
 * with CLONE_PARENT, so that it is our child. Returns the init's pid, 0 in
 * the init, or -1 with errno. */
static pid_t clone_joined(const struct sandbox_shared_ns *ns, const struct child_args *a)
{
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -1;
        pid_t helper = fork();
        if (helper < 0) {
                int e = errno;
                close(p[0]);
                close(p[1]);
                errno = e;
                return -1;
        }
        if (helper == 0) {
                close(p[0]);
                pid_t pid = -1;
                int e = 0;
                if (setns(ns->userns_fd, CLONE_NEWUSER) < 0 ||
                    (ns->netns_fd >= 0 && setns(ns->netns_fd, CLONE_NEWNET) < 0))
                        e = errno;
                else if ((pid = (pid_t) syscall(SYS_clone, CLONE_PARENT | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC |
                                                CLONE_NEWUTS | SIGCHLD, NULL, NULL, NULL, NULL)) == 0) {
                        close(p[1]);
                        child_main(a);
                } else if (pid < 0)
                        e = errno;
                int msg[2] = { pid, e };
                _exit(write(p[1], msg, sizeof(msg)) == (ssize_t) sizeof(msg) ? 0 : 1);
        }
        close(p[1]);
        int msg[2] = { -1, EIO };
        ssize_t n;
        while ((n = read(p[0], msg, sizeof(msg))) < 0 && errno == EINTR)
                ;
        close(p[0]);
        while (waitpid(helper, NULL, 0) < 0 && errno == EINTR)
                ;
        if (n != (ssize_t) sizeof(msg) || msg[0] <= 0) {
                errno = msg[1] ? msg[1] : EIO;
                return -1;
        }
        return msg[0];
}

static int start_child(struct run *r, berth_error **err)
{
        int p[4][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 }, { -1, -1 } };
        if (make_channels(r, p, err) < 0)
                return -1;
        int *sync = p[0], *report = p[1], *pty = p[2], *root = p[3];
        r->args.root_sock = root[1];
        r->args.c = r->c;
        r->args.ids = &r->ids;
        r->args.sync_fd = sync[0];
        r->args.report_fd = report[1];
        r->args.pty_sock = pty[1];
        r->args.bind_fds = r->bind_fds;
        pid_t pid = r->c->join ? clone_joined(r->c->join, &r->args)
                               : (pid_t) syscall(SYS_clone, clone_flags(r->c) | SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid == 0) {
                close(sync[1]);
                close(report[0]);
                if (pty[0] >= 0)
                        close(pty[0]);
                if (root[0] >= 0)
                        close(root[0]);
                child_main(&r->args);
        }
        int e = errno;
        close(sync[0]);
        close(report[1]);
        if (pty[1] >= 0)
                close(pty[1]);
        if (root[1] >= 0)
                close(root[1]);
        r->root_sock = root[0];
        r->sync_w = sync[1];
        r->report_r = report[0];
        r->pty_sock = pty[0];
        if (pid < 0)
                return berth_err(err, e, "clone the sandbox (are user namespaces allowed?)");
        r->child = pid;
        return 0;
}

/* cgroup v2: moving the child in waits for an RCU grace period (the cgroup
 * threadgroup lock), about a millisecond; a thread does it while the root is
 * built and the child mounts. (v1: the init joins itself, see cgroup.c.) */
static void *cgroup_thread(void *arg)
{
        struct run *r = arg;
        cgroup_attach(&r->cgroup, r->child, &r->cgroup_err);
        return NULL;
}

static int cgroup_join(struct run *r, berth_error **err)
{
        if (!r->cgroup_started)
                return 0;
        pthread_join(r->cgroup_thread, NULL);
        r->cgroup_started = false;
        if (r->cgroup_err) {
                berth_error_make(err, r->cgroup_err->kind, r->cgroup_err->errnum, "%s", r->cgroup_err->msg);
                berth_error_free(r->cgroup_err);
                r->cgroup_err = NULL;
                return -1;
        }
        return 0;
}

/* Which limits the cgroup covers, with the v1 `tasks` fds and views. */
static int send_join(struct run *r, berth_error **err)
{
        const struct cgroup_handle *h = &r->cgroup;
        struct join_msg j = { .tag = 'j', .mech = (char) h->mech, .memory = h->memory, .pids = h->pids,
                              .cpus = h->cpus, .n_join = (unsigned char) h->n_join_fds };
        int fds[MAX_PASSED_FDS];
        size_t n = 0;
        for (size_t i = 0; i < h->n_join_fds; i++)
                fds[n++] = h->join_fds[i];
        for (size_t i = 0; i < h->n_view_fds; i++) {
                j.view[i] = h->view_ctrl[i][0];
                fds[n++] = h->view_fds[i];
        }
        if (send_fds(r->sync_w, &j, sizeof(j), fds, n) < 0)
                return berth_err(err, errno, "start the sandbox");
        return 0;
}

static int read_report(struct run *r, berth_error **err);

/* pasta joins the network namespace once the child has made it and sent
 * it (before that, its pid still shows berth's). It sets the network up
 * while the child mounts the root. */
static int start_pasta(struct run *r, berth_error **err)
{
        char b = 0;
        int fds[MAX_PASSED_FDS];
        size_t n = 0;
        if (recv_fds(r->sync_w, &b, 1, fds, &n) < 0 || b != 'n' || n != 2) {
                int e = errno;
                for (size_t i = 0; i < n; i++)
                        close(fds[i]);
                return read_report(r, err) < 0 ? -1 : berth_err(err, e, "the sandbox's network namespace");
        }
        struct sandbox_net_target t = { .pid = r->child, .netns_fd = fds[0], .userns_fd = fds[1] };
        int ret = sandbox_net_start(&t, r->c->ports, r->c->n_ports, &r->net, err);
        close(fds[0]);
        close(fds[1]);
        return ret;
}

/* A pasta that could not set the network up (no route on the host, say)
 * leaves loopback only, as without pasta; ports cannot go without it. */
static int pasta_ready(struct run *r, berth_error **err)
{
        _cleanup_error_ berth_error *e = NULL;
        if (sandbox_net_wait(&r->net, &e) == 0)
                return 0;
        if (r->c->n_ports)
                return berth_error_make(err, e->kind, e->errnum, "%s", e->msg);
        berth_warn(r->c->warnings, "network", "\"private\" has loopback only: %s", e->msg);
        return 0;
}

/* Two messages on the sync socket: "m" (mapped) lets the child build its
 * mounts, a join_msg lets it start the command once it is in the cgroup.
 * The socket stays open: the child sees it hang up if we die. */
static int release_child(struct run *r, berth_error **err)
{
        /* A shared user namespace was mapped when it was made. */
        if (!r->c->join && idmap_write(&r->ids, r->child, err) < 0)
                return -1;
        if (r->cgroup.n_dirs && !r->self_join) {
                int e = pthread_create(&r->cgroup_thread, NULL, cgroup_thread, r);
                if (e)
                        return berth_err(err, e, "start the cgroup thread");
                r->cgroup_started = true;
        }
        if (write(r->sync_w, "m", 1) != 1)
                return berth_err(err, errno, "start the sandbox");
        if (r->root_sock >= 0 && send_root(r, err) < 0)
                return -1;
        if (r->args.announce_netns && start_pasta(r, err) < 0)
                return -1;
        if (cgroup_join(r, err) < 0)
                return -1;
        if (r->net.pid > 0 && pasta_ready(r, err) < 0)
                return -1;
        return send_join(r, err);
        return 0;
}

/* EOF: the command was exec'd. A report: it never ran. */
static int read_report(struct run *r, berth_error **err)
{
        struct child_report rep;
        ssize_t n;
        while ((n = read(r->report_r, &rep, sizeof(rep))) < 0 && errno == EINTR)
                ;
        if (n == 0)
                return 0;
        if (n != (ssize_t) sizeof(rep))
                return berth_err(err, n < 0 ? errno : 0, "the sandbox failed before it could say why");
        rep.msg[sizeof(rep.msg) - 1] = 0;
        return berth_error_make(err, rep.kind, rep.errnum, "%s", rep.msg);
}

static void copy_winsize(struct run *r)
{
        struct winsize ws;
        if (r->master >= 0 && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                ioctl(r->master, TIOCSWINSZ, &ws);
}

static void make_raw(struct run *r)
{
        struct termios t;
        if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &r->saved_tio) < 0)
                return;
        t = r->saved_tio;
        cfmakeraw(&t);
        if (tcsetattr(STDIN_FILENO, TCSADRAIN, &t) == 0)
                r->raw = true;
        copy_winsize(r);
}

/* Returns 1 when the child is gone and *status is set. */
static int handle_signals(struct run *r, int *status)
{
        struct signalfd_siginfo si;
        int done = 0;
        while (read(r->sig_fd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
                if (si.ssi_signo == SIGWINCH)
                        copy_winsize(r);
                else if (si.ssi_signo != SIGCHLD)
                        kill(r->child, (int) si.ssi_signo);
                int st;
                if (r->child > 0 && waitpid(r->child, &st, WNOHANG) == r->child) {
                        *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                        r->child = -1;
                        done = 1;
                }
        }
        return done;
}

/* Copy what is readable from in to out; false at EOF or error. */
static bool pump(int in, int out)
{
        char buf[16384];
        ssize_t n = read(in, buf, sizeof(buf));
        if (n <= 0)
                return n < 0 && errno == EINTR;
        return write_all(out, buf, (size_t) n) == 0;
}

static int wait_child(struct run *r, int *ret_status)
{
        int status = 125;
        bool in_open = r->master >= 0, out_open = r->master >= 0;
        for (;;) {
                struct pollfd p[3] = {
                        { .fd = r->sig_fd, .events = POLLIN },
                        { .fd = in_open ? STDIN_FILENO : -1, .events = POLLIN },
                        { .fd = out_open ? r->master : -1, .events = POLLIN },
                };
                if (poll(p, 3, -1) < 0 && errno != EINTR)
                        break;
                if (p[2].revents)
                        out_open = pump(r->master, STDOUT_FILENO);
                if (p[1].revents && !(in_open = pump(STDIN_FILENO, r->master)) && !r->raw)
                        (void) !write(r->master, "\x04", 1); /* piped stdin ended: send EOF */
                if (p[0].revents && handle_signals(r, &status))
                        break;
        }
        while (out_open && r->master >= 0) {
                struct pollfd p = { .fd = r->master, .events = POLLIN };
                if (poll(&p, 1, 0) <= 0 || !(out_open = pump(r->master, STDOUT_FILENO)))
                        break;
        }
        *ret_status = status;
        return 0;
}

static void run_done(struct run *r)
{
        _cleanup_error_ berth_error *e = NULL;
        cgroup_join(r, &e);
        if (r->child > 0) {
                kill(r->child, SIGKILL);
                while (waitpid(r->child, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        sandbox_net_stop(&r->net);
        if (r->raw)
                tcsetattr(STDIN_FILENO, TCSADRAIN, &r->saved_tio);
        for (size_t i = 0; r->bind_fds && i < r->c->n_mounts; i++)
                if (r->bind_fds[i] >= 0)
                        close(r->bind_fds[i]);
        free(r->bind_fds);
        cgroup_destroy(&r->cgroup);
        sandbox_bpf_done(&r->bpf);
        if (r->kept_fd >= 0)
                close(r->kept_fd);
        free(r->keep_key);
        free(r->args.resolv_conf);
        int fds[] = { r->sync_w, r->report_r, r->pty_sock, r->root_sock, r->sig_fd, r->master };
        for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        if (r->sig_fd >= 0) {
                /* Drop signals that arrived for the child before unblocking. */
                struct timespec zero = {};
                sigset_t pend;
                sigpending(&pend);
                sigset_t chld;
                sigemptyset(&chld);
                sigaddset(&chld, SIGCHLD);
                if (sigismember(&pend, SIGCHLD))
                        sigtimedwait(&chld, NULL, &zero);
                sigprocmask(SIG_SETMASK, &r->old_mask, NULL);
        }
}

int sandbox_run(const struct sandbox_config *c, int *ret_status, berth_error **err)
{
        struct run r = { .c = c, .args.root_sock = -1, .child = -1, .sync_w = -1, .report_r = -1,
                         .pty_sock = -1, .root_sock = -1, .sig_fd = -1,
                         .master = -1, .kept_fd = -1, .net = { .pid = -1, .ready_fd = -1, .err_fd = -1 } };
        int status, ret = -1;
        if (prepare(&r, err) < 0 || block_signals(&r, err) < 0 || start_child(&r, err) < 0 ||
            release_child(&r, err) < 0)
                goto out;
        if (r.pty_sock >= 0) {
                _cleanup_error_ berth_error *e = NULL;
                if (recv_fd(r.pty_sock, "the sandbox's terminal", &r.master, &e) == 0)
                        make_raw(&r);
        }
        if (read_report(&r, err) < 0)
                goto out;
        wait_child(&r, &status);
        if (c->outcome)
                cgroup_read_outcome(&r.cgroup, c->outcome);
        *ret_status = status;
        ret = 0;
out:
        run_done(&r);
        return ret;
}

struct sandbox_proc {
        struct run r;
};

int sandbox_start(const struct sandbox_config *c, struct sandbox_proc **ret, berth_error **err)
{
        if (c->tty)
                return berth_error_make(err, BERTH_E_INVALID, 0, "a sandbox started in the background has no tty");
        struct sandbox_proc *p = xcalloc(1, sizeof(*p));
        p->r = (struct run) { .c = c, .args.root_sock = -1, .child = -1, .sync_w = -1, .report_r = -1,
                              .pty_sock = -1, .root_sock = -1, .sig_fd = -1, .master = -1, .kept_fd = -1 };
        /* The init waits for the relayed signals (sigwaitinfo): they must be
         * blocked when it is cloned, as sandbox_run() has them. */
        sigset_t set, old;
        relayed_signals(&set);
        sigprocmask(SIG_BLOCK, &set, &old);
        int r = prepare(&p->r, err) < 0 || start_child(&p->r, err) < 0 ? -1 : 0;
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (r < 0 || release_child(&p->r, err) < 0 || read_report(&p->r, err) < 0) {
                sandbox_proc_done(p);
                return -1;
        }
        *ret = p;
        return 0;
}

pid_t sandbox_proc_pid(const struct sandbox_proc *p)
{
        return p->r.child;
}

/* The caller has reaped the init: nothing left to kill, only to release. */
void sandbox_proc_done(struct sandbox_proc *p)
{
        if (!p)
                return;
        _cleanup_error_ berth_error *e = NULL;
        cgroup_join(&p->r, &e);
        if (p->r.child > 0 && waitpid(p->r.child, NULL, WNOHANG) == 0) {
                kill(p->r.child, SIGKILL);
                while (waitpid(p->r.child, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        p->r.child = -1;
        run_done(&p->r);
        free(p);
}
