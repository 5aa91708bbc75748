/* sandbox: run one command in a rootless sandbox made of Linux namespaces,
 * an overlay (or plain directory) root entered with pivot_root, no_new_privs,
 * reduced capabilities, a seccomp filter and cgroup/rlimit limits.
 * Uses common and libseccomp (and jansson for Docker/OCI profile import). */
#pragma once

#include <sys/types.h>

#include "common/common.h"

/* The root: either a plain directory, or an overlay of read-only layers
 * (bottom first) with a private upper and work dir. */
struct sandbox_root {
        const char *dir;                /* plain directory root, or NULL for overlay */
        const char *const *lowerdirs;   /* overlay: layer folders, bottom first */
        size_t n_lowerdirs;
        const char *upperdir;           /* overlay: writable layer; NULL = read-only overlay */
        const char *workdir;            /* overlay: beside upperdir, same filesystem */
        const char *mountpoint;         /* overlay: an empty folder to mount it on */
        /* overlay: the upper layer is thrown away afterwards, so skip its
         * syncs (fsync inside and the syncfs of the whole upper filesystem
         * when the overlay goes away). Never for a layer that is kept. */
        bool volatile_upper;
        bool read_only;                 /* make / read-only once everything is mounted */
        /* dir: its files belong to the sandbox's own ids on the host (a copy
         * berth made, as root): bound as it is, not idmapped. */
        bool owned_by_sandbox;
        /* overlay with a kept upper, as root: keep it mounted between runs,
         * pinned on this file (keep.c); NULL: mounted for each run. */
        const char *keep_at;
};

enum sandbox_mount_type { SANDBOX_MOUNT_BIND, SANDBOX_MOUNT_TMPFS };

struct sandbox_mount {
        enum sandbox_mount_type type;
        const char *source;     /* bind: absolute host path */
        const char *target;     /* absolute path inside */
        bool read_only;
        uint64_t size;          /* tmpfs bytes; 0 = kernel default */
        /* bind: when berth runs as root, files the sandbox writes here belong
         * to the source folder's owner (idmapped mount). */
        bool owned_by_source;
};

enum sandbox_network {
        SANDBOX_NET_PRIVATE = 0, /* own network namespace with outbound access through pasta
                                  * (loopback only, with a warning, where pasta is missing) */
        SANDBOX_NET_NONE,        /* own network namespace, loopback only */
        SANDBOX_NET_HOST,        /* the host's network */
};

/* A port published on the host: host_ip:host_port (TCP) reaches port in
 * the sandbox's network namespace. */
struct sandbox_port {
        const char *host_ip;    /* an IPv4 or IPv6 literal; NULL = SANDBOX_NET_DEFAULT_HOST_IP */
        uint16_t host_port;
        uint16_t port;
        bool udp;               /* TCP otherwise */
        const char *owner;      /* named in errors ("service web"); NULL = none */
};

enum sandbox_seccomp {
        SANDBOX_SECCOMP_DEFAULT = 0,
        SANDBOX_SECCOMP_UNCONFINED,
        SANDBOX_SECCOMP_PROFILE, /* Docker/OCI JSON profile at seccomp_profile */
};

/* 0 means "not declared". */
struct sandbox_limits {
        uint64_t memory;        /* bytes */
        uint32_t millicpus;     /* 1500 = 1.5 cpus */
        uint64_t pids;
        uint64_t nofile;
};

/* What the kernel says a limit did to the command, read from berth's cgroup
 * once the sandbox ended (only where a cgroup enforces the limit). */
struct sandbox_outcome {
        uint64_t oom_kills;     /* processes the memory limit's OOM killer killed */
        uint64_t pids_max;      /* forks refused at the pids limit */
};

struct sandbox_config {
        struct sandbox_root root;
        char *const *argv;              /* the command; argv[0] searched in PATH */
        char *const *env;               /* NAME=value, NULL-terminated; TERM is added from the host */
        const char *cwd;                /* inside; NULL = / */
        const char *hostname;           /* NULL = "berth" */
        const char *user;               /* "uid[:gid]" inside; NULL = 0:0 */
        enum sandbox_network network;
        const struct sandbox_port *ports; /* published through pasta (network private only) */
        size_t n_ports;
        enum sandbox_seccomp seccomp;
        const char *seccomp_profile;
        char *const *cap_add;           /* names without CAP_, NULL-terminated, may be NULL */
        char *const *cap_drop;          /* likewise; "ALL" drops every one */
        struct sandbox_limits limits;
        const struct sandbox_mount *mounts;
        size_t n_mounts;
        bool tty;                       /* run the command on a pty relayed to our stdin/stdout */
        const char *cache_dir;          /* where compiled seccomp filters are kept; NULL = no cache */
        const char *name;               /* names berth's cgroup; NULL = "sandbox" */
        berth_warnings *warnings;       /* fallbacks taken while building it (may be NULL) */
        struct sandbox_outcome *outcome; /* filled when the command ran, if not NULL */
        /* Join these namespaces instead of making a user and a network
         * namespace of its own (an environment's services); NULL = own. */
        const struct sandbox_shared_ns *join;
        /* More names for 127.0.0.1 in /etc/hosts, space-separated (the
         * services of a shared network); NULL = none. */
        const char *host_aliases;
};

/* A user and a network namespace (loopback up) that several sandboxes
 * share, held by a small process that dies with its creator. The user
 * namespace maps ids as a sandbox's own would. Without a network namespace
 * of its own (netns_fd -1) the sandboxes that join it use the host's. */
struct sandbox_shared_ns {
        int userns_fd, netns_fd;
        int holder_sock;        /* its end of the holder's life */
        pid_t holder;
        bool outbound;          /* pasta serves the network namespace (DNS through it) */
};
int sandbox_shared_ns_create(struct sandbox_shared_ns *ret, bool own_net, berth_error **err);
/* Close the fds and kill and reap the holder. */
void sandbox_shared_ns_done(struct sandbox_shared_ns *ns);
/* Hand the namespaces' fds over a unix socket, to a process that joins
 * them (holder stays -1 there: its creator keeps it). */
int sandbox_shared_ns_send(int sock, const struct sandbox_shared_ns *ns);
int sandbox_shared_ns_recv(int sock, struct sandbox_shared_ns *ret, berth_error **err);

/* Start the command and return once it has exec'd (errors as sandbox_run()).
 * No tty, no signal relay: the caller reaps sandbox_proc_pid() itself (the
 * sandbox's init; its status is the command's), then calls
 * sandbox_proc_done(). The config must outlive the proc. */
struct sandbox_proc;
int sandbox_start(const struct sandbox_config *c, struct sandbox_proc **ret, berth_error **err);
pid_t sandbox_proc_pid(const struct sandbox_proc *p);
void sandbox_proc_done(struct sandbox_proc *p);

/* Run c's argv, env, cwd, user, capabilities and seccomp filter inside the
 * running sandbox whose init is `init` (its namespaces and root). Returns
 * once the command has exec'd, with the pid the caller reaps: it exits with
 * the command's status. Errors as sandbox_run(). stdio: ours. */
int sandbox_enter_start(pid_t init, const struct sandbox_config *c, pid_t *ret_pid, berth_error **err);

/* Run the command and wait for it. *ret_status is its exit status, or
 * 128+signal when a signal ended it. An error means the command never ran:
 * BERTH_E_NOCMD (not found), BERTH_E_NOEXEC (not executable), or another kind
 * for a failure while building the sandbox. SIGINT, SIGTERM, SIGHUP, SIGQUIT,
 * SIGUSR1/2 sent to the caller reach the command while this runs. */
int sandbox_run(const struct sandbox_config *c, int *ret_status, berth_error **err);

/* Side effect as root with an overlay root: the calling process moves (once)
 * into a private mount namespace, where the idmapped layers are stacked
 * (kernels before 6.13). */

/* Unmount a root kept on keep_at (sandbox_root.keep_at) and remove the file.
 * 1: there was one; 0: nothing was kept there. A sandbox still running on it
 * keeps its root until it ends. */
int sandbox_root_release(const char *keep_at, berth_error **err);

/* The host ids the sandbox's root runs as: the caller's own when rootless,
 * a high subordinate range as root. Folders the sandbox writes (an overlay's
 * upper and work dirs, named volumes) must belong to them. */
int sandbox_root_ids(uid_t *ret_uid, gid_t *ret_gid, berth_error **err);

/* How each limit is enforced on this host, for this user. */
enum sandbox_limit_mech {
        SANDBOX_LIMIT_NONE = 0,
        SANDBOX_LIMIT_CGROUP2,
        SANDBOX_LIMIT_CGROUP1,
        SANDBOX_LIMIT_RLIMIT,
};
const char *sandbox_limit_mech_name(enum sandbox_limit_mech m);

struct sandbox_host {
        bool userns;            /* unprivileged (or root) user namespaces work */
        bool overlay;           /* overlayfs mountable inside a user namespace */
        bool idmap;             /* idmapped bind mounts (only matter as root) */
        bool seccomp;           /* seccomp filters */
        bool subid;             /* a subordinate id range and newuidmap/newgidmap */
        bool kept_root;         /* as root, Linux 6.13+: the root stays mounted between runs */
        uint64_t ids;           /* how many user (and group) ids the sandbox has */
        enum sandbox_limit_mech memory, cpus, pids, nofile;
        char *cgroup2_dir;      /* delegated cgroup v2 folder, or NULL */
        char *detail;           /* first failure seen by a probe, or NULL */
        char *overlay_detail;   /* why overlay could not be mounted, or NULL */
        bool pasta;             /* network private has outbound access and ports (pasta) */
        char *pasta_path;       /* the pasta binary, or NULL */
        char *pasta_detail;     /* why pasta cannot serve this user, or NULL */
};
/* Probe the host (forks short-lived sandboxes). Never fails on a missing
 * feature: the fields say what is missing. overlay is tried in a temporary
 * folder under dir, where the writable layers will live (NULL: $TMPDIR). */
int sandbox_host_probe(struct sandbox_host *ret, const char *dir, berth_error **err);
void sandbox_host_done(struct sandbox_host *h);

/* Whether this overlay root (its real layers, upper and work dirs) can be
 * mounted here, tried in a short-lived child as sandbox_run() would mount it:
 * 1 if it can, 0 if not with the kernel's reason in *ret_reason (free it).
 * Leaves nothing mounted. An upper dir is left as a real mount leaves it. */
int sandbox_overlay_usable(const struct sandbox_root *r, char **ret_reason, berth_error **err);

/* The capability set a sandbox keeps (its bounding set) for these add and
 * drop lists, as a bit mask by capability number. */
int sandbox_caps_mask(char *const *add, char *const *drop, uint64_t *ret, berth_error **err);

/* Which limits in l this host cannot enforce, as a comma-separated list of
 * names ("cpus"), or NULL when all can be. For `run`'s one warning. */
char *sandbox_unenforced_limits(const struct sandbox_limits *l);

/* An environment's cgroup subtree (berth/env-<id>, on v2 where limits are,
 * else in each v1 hierarchy the user may write): a process that enters it
 * takes every sandbox it starts from then on with it (their own limit
 * cgroups nest below), so the whole environment is killed at once. mech
 * NONE: the user may create no cgroup (rootless v1, v2 without delegation). */
struct sandbox_env_cgroup {
        enum sandbox_limit_mech mech;
        char *dirs[3];          /* v2: one folder; v1: one per hierarchy */
        size_t n_dirs;
        char *parent;           /* "berth/env-<id>" */
};
/* Where the environment id's cgroup is (nothing is created). */
void sandbox_env_cgroup_open(const char *id, struct sandbox_env_cgroup *ret);
void sandbox_env_cgroup_done(struct sandbox_env_cgroup *g);
/* Create it and move the calling process in (v2: into its "supervisor" leaf). */
int sandbox_env_cgroup_enter(const struct sandbox_env_cgroup *g, berth_error **err);
/* Kill every process in it (cgroup.kill on v2, else SIGKILL to each pid in
 * cgroup.procs until none is left) and remove its folders. Nothing there is
 * no error. Never call it from inside. */
int sandbox_env_cgroup_remove(const struct sandbox_env_cgroup *g, berth_error **err);
/* Which an environment gets on this host, for this user (doctor). */
enum sandbox_limit_mech sandbox_env_cgroup_mech(void);

/* The default seccomp filter's rules, for tests and `doctor`: compile the
 * filter (or load it from cache) and return its BPF program. */
struct sandbox_bpf {
        void *insns;            /* struct sock_filter[] */
        size_t n_insns;
};
int sandbox_seccomp_compile(enum sandbox_seccomp mode, const char *profile, const char *cache_dir,
                            struct sandbox_bpf *ret, bool *ret_from_cache, berth_error **err);
void sandbox_bpf_done(struct sandbox_bpf *b);

/* ---- network (net.c) ----
 * Outbound access and published ports for a network namespace, through
 * pasta: a private namespace's tap interface gets the host's addresses and
 * routes; its gateway address reaches the host's loopback; DNS goes to
 * SANDBOX_NET_DNS, which pasta forwards to the host's first name server. */
#define SANDBOX_NET_DNS "169.254.1.1"
#define SANDBOX_NET_DEFAULT_HOST_IP "127.0.0.1"

/* The namespace pasta joins: the network and user namespaces of pid, or
 * nsfs fds (netns_fd, and userns_fd: the user namespace owning it, -1 when
 * berth's own has the rights, as root). The fds are not taken over. */
struct sandbox_net_target {
        pid_t pid;
        int netns_fd;
        int userns_fd;
};

struct sandbox_net {
        pid_t pid;              /* pasta, berth's child; -1 when none */
        int ready_fd, err_fd;
        char **port_specs;
        char **port_owners;     /* "" where a port has none */
};

/* The pasta binary (BERTH_PASTA overrides the search; a path that is not
 * executable there means "not installed"), or NULL. */
char *sandbox_net_pasta_path(void);
/* 1 if pasta can serve this user here, 0 if not with the reason (free
 * both). For doctor and the fallback to loopback only. */
int sandbox_net_usable(char **ret_path, char **ret_reason);
/* Start pasta for t, publishing ports. It runs until sandbox_net_stop(),
 * or until the calling process dies (parent-death signal): call this from
 * the thread that lives as long as the namespace needs it. */
int sandbox_net_start(const struct sandbox_net_target *t, const struct sandbox_port *ports, size_t n_ports,
                      struct sandbox_net *ret, berth_error **err);
/* Whether a host port could be published now: 0, or an error naming it
 * (and its owner), as pasta's failure to bind it would. */
int sandbox_net_port_free(const struct sandbox_port *p, berth_error **err);
/* Wait until pasta has configured the namespace. A host port it could not
 * bind fails with a message naming it; pasta is then gone. */
int sandbox_net_wait(struct sandbox_net *n, berth_error **err);
/* End pasta (if running), reap it and free n's contents. Idempotent. */
void sandbox_net_stop(struct sandbox_net *n);
