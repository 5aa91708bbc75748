/* Outbound network access and published ports for a network namespace,
 * through pasta (the passt package): pasta joins the namespace, gives it a
 * tap interface with the host's addresses and routes, and splices its
 * traffic through sockets in the host's namespace, so no privilege is
 * needed. berth runs it in the foreground as its own child: it is ready
 * when it writes its pid file (a pipe here), it dies with berth (parent-death
 * signal), and sandbox_net_stop() ends it. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox-private.h"

#define PASTA_READY_MS 10000
#define PASTA_ERR_MAX 4096
/* Where the pasta child finds its fds (see exec_pasta). */
enum { FD_READY = 3, FD_NETNS, FD_USERNS, FD_FIRST_FREE };

static bool executable(const char *p)
{
        return access(p, X_OK) == 0;
}

/* BERTH_PASTA overrides the search (an empty or missing file: "not
 * installed"); otherwise pasta is looked for in PATH, then /usr/bin. */
char *sandbox_net_pasta_path(void)
{
        const char *o = getenv("BERTH_PASTA");
        if (o)
                return o[0] == '/' && executable(o) ? xstrdup(o) : NULL;
        const char *path = getenv("PATH");
        _cleanup_free_ char *dirs = xasprintf("%s:/usr/bin:/usr/sbin", path ? path : "");
        char *save = NULL;
        for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                if (d[0] != '/')
                        continue;
                _cleanup_free_ char *p = xasprintf("%s/pasta", d);
                if (executable(p))
                        return xstrdup(p);
        }
        return NULL;
}

int sandbox_net_usable(char **ret_path, char **ret_reason)
{
        *ret_path = sandbox_net_pasta_path();
        *ret_reason = NULL;
        if (!*ret_path) {
                *ret_reason = xstrdup("pasta is not installed (Debian package passt)");
                return 0;
        }
        /* pasta opens the tap device inside the namespace, as this user. */
        int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                *ret_reason = xasprintf("/dev/net/tun cannot be opened by this user: %s", strerror(errno));
                return 0;
        }
        close(fd);
        return 1;
}

/* "-t ADDR/HOST:INSIDE" (or -u), one option per port: pasta fails on the
 * option whose port it cannot bind, naming it as written here. */
static char *port_spec(const struct sandbox_port *p)
{
        const char *ip = p->host_ip && p->host_ip[0] ? p->host_ip : SANDBOX_NET_DEFAULT_HOST_IP;
        return xasprintf("-%c %s/%u:%u", p->udp ? 'u' : 't', ip, p->host_port, p->port);
}

static char **pasta_argv(const char *pasta, const struct sandbox_net_target *t, const struct sandbox_port *ports,
                         size_t n_ports)
{
        char **v = NULL;
        /* No ports forwarded but those asked for, in either direction (pasta
         * would otherwise publish whatever the sandbox listens on). */
        const char *fixed[] = { pasta, "--foreground", "--quiet", "--config-net", "--tcp-ns", "none",
                                "--udp-ns", "none", "--dns-forward", SANDBOX_NET_DNS, "--pid", "/proc/self/fd/3" };
        for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
                v = strv_append(v, xstrdup(fixed[i]));
        /* As root pasta turns itself into nobody before it joins the
         * namespace, which nobody may not enter: it stays root (and drops
         * its capabilities once set up). */
        if (geteuid() == 0)
                v = strv_append(strv_append(v, xstrdup("--runas")), xstrdup("0"));
        size_t n_udp = 0;
        for (size_t i = 0; i < n_ports; i++)
                n_udp += ports[i].udp;
        if (n_ports - n_udp == 0)
                v = strv_append(strv_append(v, xstrdup("-t")), xstrdup("none"));
        if (n_udp == 0)
                v = strv_append(strv_append(v, xstrdup("-u")), xstrdup("none"));
        for (size_t i = 0; i < n_ports; i++) {
                _cleanup_free_ char *opt = port_spec(&ports[i]);
                v = strv_append(strv_append(v, xstrndup(opt, 2)), xstrdup(opt + 3));
        }
        if (t->netns_fd >= 0) {
                v = strv_append(strv_append(v, xstrdup("--netns")), xasprintf("/proc/self/fd/%d", FD_NETNS));
                if (t->userns_fd >= 0)
                        v = strv_append(strv_append(v, xstrdup("--userns")),
                                        xasprintf("/proc/self/fd/%d", FD_USERNS));
        } else {
                v = strv_append(v, xasprintf("%d", (int) t->pid));
        }
        return v;
}

/* In the forked child: only async-signal-safe calls. */
static _Noreturn void exec_pasta(char **argv, pid_t parent, int ready, int errfd, int netns, int userns)
{
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
                _exit(125);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(errfd, 2) < 0 || dup2(ready, FD_READY) < 0 ||
            (netns >= 0 && dup2(netns, FD_NETNS) < 0) || (userns >= 0 && dup2(userns, FD_USERNS) < 0))
                _exit(125);
        close_range(FD_FIRST_FREE, ~0U, 0);
        execv(argv[0], argv);
        _exit(127);
}

/* Moved above the fds the child places, so no dup2() clobbers another. */
static int high_fd(int fd)
{
        return fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 16);
}

static void close_if(int fd)
{
        if (fd >= 0)
                close(fd);
}

int sandbox_net_start(const struct sandbox_net_target *t, const struct sandbox_port *ports, size_t n_ports,
                      struct sandbox_net *ret, berth_error **err)
{
        *ret = (struct sandbox_net) { .pid = -1, .ready_fd = -1, .err_fd = -1 };
        _cleanup_free_ char *pasta = sandbox_net_pasta_path();
        if (!pasta)
                return berth_error_make(err, BERTH_E_NOTFOUND, 0, "pasta is not installed (Debian package passt)");
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return berth_err(err, errno, "pipe to pasta");
        int errfd = memfd_create("pasta-stderr", MFD_CLOEXEC);
        int w = high_fd(p[1]), e = high_fd(errfd), ns = high_fd(t->netns_fd), us = high_fd(t->userns_fd);
        close(p[1]);
        close_if(errfd);
        _cleanup_strv_ char **argv = pasta_argv(pasta, t, ports, n_ports);
        pid_t parent = getpid(), pid = -1;
        if (w >= 0 && e >= 0 && (t->netns_fd < 0 || ns >= 0) && (t->userns_fd < 0 || us >= 0))
                pid = fork();
        if (pid == 0)
                exec_pasta(argv, parent, w, e, ns, us);
        int saved = errno;
        close_if(w);
        close_if(ns);
        close_if(us);
        if (pid < 0) {
                close(p[0]);
                close_if(e);
                return berth_err(err, saved, "start pasta");
        }
        *ret = (struct sandbox_net) { .pid = pid, .ready_fd = p[0], .err_fd = e };
        ret->port_specs = xcalloc(n_ports + 1, sizeof(char *));
        ret->port_owners = xcalloc(n_ports + 1, sizeof(char *));
        for (size_t i = 0; i < n_ports; i++) {
                ret->port_specs[i] = port_spec(&ports[i]);
                ret->port_owners[i] = xstrdup(ports[i].owner ? ports[i].owner : "");
        }
        return 0;
}

/* What pasta said on stderr, on one line, without its complaints that
 * there is no syslog to write to. */
static char *pasta_said(const struct sandbox_net *n)
{
        char buf[PASTA_ERR_MAX];
        ssize_t k = n->err_fd >= 0 ? pread(n->err_fd, buf, sizeof(buf) - 1, 0) : -1;
        if (k <= 0)
                return NULL;
        buf[k] = 0;
        _cleanup_free_ char *out = NULL;
        char *save = NULL;
        for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                if (!l[0] || (startswith(l, "Failed to send") && strstr(l, "syslog")))
                        continue;
                char *joined = out ? xasprintf("%s; %s", out, l) : xstrdup(l);
                free(out);
                out = joined;
        }
        return TAKE_PTR(out);
}

static int port_busy(berth_error **err, const char *owner, const char *ip, int ip_len, const char *port,
                     int port_len, bool udp)
{
        return berth_error_make(err, BERTH_E_FAILED, 0,
                                "%s%sports: host port %.*s:%.*s%s cannot be published: it is already in use (or not "
                                "allowed here)", owner && *owner ? owner : "", owner && *owner ? ": " : "", ip_len,
                                ip, port_len, port, udp ? "/udp" : "");
}

/* pasta names the option whose ports it could not bind. */
static int failed(struct sandbox_net *n, int status, berth_error **err)
{
        _cleanup_free_ char *said = pasta_said(n);
        for (size_t i = 0; said && n->port_specs && n->port_specs[i]; i++) {
                _cleanup_free_ char *opt = xasprintf("'%s'", n->port_specs[i]);
                const char *spec = n->port_specs[i] + 3, *slash = strrchr(spec, '/');
                if (strstr(said, "bind") && strstr(said, opt))
                        return port_busy(err, n->port_owners[i], spec, (int) (slash - spec), slash + 1,
                                         (int) strcspn(slash + 1, ":"), n->port_specs[i][1] == 'u');
        }
        if (said)
                return berth_error_make(err, BERTH_E_FAILED, 0, "pasta: %s", said);
        return berth_error_make(err, BERTH_E_FAILED, 0, "pasta failed before the network was set up (%s %d)",
                                WIFSIGNALED(status) ? "signal" : "exit status",
                                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

/* Bound as pasta binds it (TCP with SO_REUSEADDR, so a port whose last
 * connection waits in TIME_WAIT is free), then let go. */
int sandbox_net_port_free(const struct sandbox_port *p, berth_error **err)
{
        const char *ip = p->host_ip && p->host_ip[0] ? p->host_ip : SANDBOX_NET_DEFAULT_HOST_IP;
        struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(p->host_port) };
        struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(p->host_port) };
        bool v6 = strchr(ip, ':') != NULL;
        _cleanup_free_ char *bare = xstrdup(ip[0] == '[' ? ip + 1 : ip);
        bare[strcspn(bare, "]")] = 0;
        if (inet_pton(v6 ? AF_INET6 : AF_INET, bare, v6 ? (void *) &a6.sin6_addr : (void *) &a4.sin_addr) != 1)
                return berth_error_make(err, BERTH_E_INVALID, 0, "ports: `%s` is not an IP address", ip);
        _cleanup_close_ int fd = socket(v6 ? AF_INET6 : AF_INET, (p->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd < 0)
                return berth_err(err, errno, "socket");
        /* on UDP it would let two sockets share the port */
        if (!p->udp)
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (v6)
                setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, v6 ? (struct sockaddr *) &a6 : (struct sockaddr *) &a4, v6 ? sizeof(a6) : sizeof(a4)) == 0)
                return 0;
        char port[8];
        snprintf(port, sizeof(port), "%u", p->host_port);
        return port_busy(err, p->owner, ip, (int) strlen(ip), port, (int) strlen(port), p->udp);
}

int sandbox_net_wait(struct sandbox_net *n, berth_error **err)
{
        char buf[32];
        struct pollfd p = { .fd = n->ready_fd, .events = POLLIN };
        int k;
        while ((k = poll(&p, 1, PASTA_READY_MS)) < 0 && errno == EINTR)
                ;
        if (k == 0) {
                sandbox_net_stop(n);
                return berth_error_make(err, BERTH_E_FAILED, 0, "pasta did not set up the network within %d s",
                                        PASTA_READY_MS / 1000);
        }
        ssize_t r = read(n->ready_fd, buf, sizeof(buf));
        close(n->ready_fd);
        n->ready_fd = -1;
        if (r > 0)
                return 0;
        /* EOF: pasta exited without writing its pid. */
        int status = 0;
        while (waitpid(n->pid, &status, 0) < 0 && errno == EINTR)
                ;
        n->pid = -1;
        return failed(n, status, err);
}

void sandbox_net_stop(struct sandbox_net *n)
{
        if (n->pid > 0) {
                kill(n->pid, SIGKILL);
                while (waitpid(n->pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        n->pid = -1;
        close_if(n->ready_fd);
        close_if(n->err_fd);
        n->ready_fd = n->err_fd = -1;
        strv_free(n->port_specs);
        strv_free(n->port_owners);
        n->port_specs = n->port_owners = NULL;
}

static char *pasta_resolv(void)
{
        return xasprintf("# berth: pasta forwards this address to the host's name server\n"
                         "nameserver %s\n", SANDBOX_NET_DNS);
}

int net_plan(const struct sandbox_config *c, bool *ret_pasta, char **ret_resolv, berth_error **err)
{
        *ret_pasta = false;
        /* Joining an environment's network: what it offers is the
         * environment's (docs/ENVIRONMENTS.md), its name server too. */
        if (c->join) {
                if (c->join->outbound && c->network == SANDBOX_NET_PRIVATE)
                        *ret_resolv = pasta_resolv();
                return 0;
        }
        if (c->network == SANDBOX_NET_HOST) {
                if (c->n_ports)
                        berth_warn(c->warnings, "ports", "not published: with network \"host\" the sandbox "
                                   "listens on the host's ports itself");
                return 0;
        }
        if (c->network == SANDBOX_NET_NONE) {
                if (c->n_ports)
                        return berth_error_make(err, BERTH_E_INVALID, 0, "ports: cannot be published with network "
                                                "\"none\" (loopback only); use \"private\"");
                return 0;
        }
        _cleanup_free_ char *path = NULL, *reason = NULL;
        if (sandbox_net_usable(&path, &reason) <= 0) {
                if (c->n_ports)
                        return berth_error_make(err, BERTH_E_FAILED, 0, "ports: cannot be published: %s "
                                                "(see berth doctor)", reason);
                berth_warn(c->warnings, "network", "\"private\" has loopback only: %s (see berth doctor)", reason);
                return 0;
        }
        *ret_pasta = true;
        *ret_resolv = pasta_resolv();
        return 0;
}
