/* sandbox/ internal declarations shared by its files. */
#pragma once

#include <signal.h>
#include <sys/types.h>

#include "sandbox/sandbox.h"

/* ---- capabilities (caps.c) ---- */
int cap_from_name(const char *name);
uint64_t caps_default_mask(void);
int caps_mask_for(char *const *add, char *const *drop, uint64_t *ret, berth_error **err);
int caps_bound(uint64_t keep, int last_cap, berth_error **err);
int caps_apply(uint64_t keep, bool root, berth_error **err);

/* ---- seccomp (seccomp.c) ---- */
int sandbox_seccomp_compile_caps(enum sandbox_seccomp mode, const char *profile_path, uint64_t caps,
                                 const char *cache_dir, struct sandbox_bpf *ret, bool *ret_from_cache,
                                 berth_error **err);

/* ---- id maps (idmap.c) ---- */
struct idmap_plan {
        uid_t host_uid;         /* who runs berth */
        gid_t host_gid;
        uid_t uid_base;         /* host id of sandbox id 0 */
        gid_t gid_base;
        uint32_t count;         /* ids mapped from 0; 1 = only root */
        /* As root, ids count.. map on to host ids IDMAP_HIGH_BASE.. */
        uint32_t high_count;
        bool use_helpers;       /* newuidmap/newgidmap write the maps */
        bool as_root;           /* berth runs as host root: a high range, never 0 */
};
#define IDMAP_HIGH_BASE 0x80000000u
/* The host id of sandbox id `id` (id < idmap_plan_size()). */
uint32_t idmap_host_uid(const struct idmap_plan *p, uint32_t id);
uint32_t idmap_host_gid(const struct idmap_plan *p, uint32_t id);
int idmap_plan_make(struct idmap_plan *ret, berth_error **err);
int idmap_write(const struct idmap_plan *p, pid_t pid, berth_error **err);
/* A user namespace fd mapping host id `disk` to host id `shown`, for an
 * idmapped mount. Root only. */
int idmap_userns_fd(uid_t disk_uid, uid_t shown_uid, gid_t disk_gid, gid_t shown_gid, int *ret_fd,
                    berth_error **err);
int idmap_userns_fd_range(uid_t disk_uid, uid_t shown_uid, gid_t disk_gid, gid_t shown_gid, uint32_t count,
                          int *ret_fd, berth_error **err);

/* ---- limits (cgroup.c) ---- */
struct cgroup_handle {
        enum sandbox_limit_mech mech;
        char *dirs[4];          /* created folders, removed afterwards */
        const char *ctrl[4];    /* v1: each folder's controller ("memory", "pids", "cpu") */
        size_t n_dirs;
        int join_fds[4];        /* v1: each folder's `tasks`, opened for the init to join itself */
        size_t n_join_fds;
        int view_fds[4];        /* v1 as root: each folder as a read-only bind, for /sys/fs/cgroup */
        const char *view_ctrl[4];
        size_t n_view_fds;
        bool memory, pids, cpus; /* which limits a cgroup enforces */
};
/* Where cgroup v2 is mounted; BERTH_CGROUP2_ROOT overrides (tests). */
const char *cgroup2_mount(void);
/* Detect which mechanism enforces each limit. */
void limits_detect(enum sandbox_limit_mech *memory, enum sandbox_limit_mech *cpus, enum sandbox_limit_mech *pids,
                   char **ret_cgroup2_dir);
/* Whether l declares a limit a cgroup would enforce. */
static inline bool limits_want_cgroup(const struct sandbox_limits *l)
{
        return l->memory || l->pids || l->millicpus;
}
/* Create berth's cgroup for the limits, in the v2 folder
 * cgroup2_delegated_dir() returned, or on v1 (v2 NULL). */
int cgroup_create(const char *v2, const struct sandbox_limits *l, const char *name, struct cgroup_handle *ret,
                  berth_error **err);
char *cgroup2_delegated_dir(void);
int cgroup_attach(const struct cgroup_handle *h, pid_t pid, berth_error **err);
/* v1: open each folder's `tasks` so the sandbox's init can move itself in by
 * writing "0": a thread moving itself skips the global threadgroup lock and
 * its RCU grace period (about a millisecond), which moving another process
 * costs. The file is opened by us, so the write is checked against our
 * credentials. Returns 1 if the child should join this way. */
int cgroup_prepare_self_join(struct cgroup_handle *h, berth_error **err);
/* v1, where we may (as root): each folder as a detached read-only bind
 * for the sandbox's /sys/fs/cgroup. A fresh v1 mount made inside first
 * waits for every cgroup still going away (a millisecond after a run just
 * ended); a bind does not. Missing views are not an error. */
void cgroup_prepare_view(struct cgroup_handle *h);
/* In the child: write "0" to each join fd. */
int cgroup_self_join(const int *fds, size_t n, berth_error **err);
void cgroup_destroy(struct cgroup_handle *h);
/* What the limits did, from memory.events and pids.events (v2), or
 * memory.oom_control and pids.events (v1). Counters a kernel does not
 * have read as 0. */
void cgroup_read_outcome(const struct cgroup_handle *h, struct sandbox_outcome *ret);
/* Write the v2 limit files into an existing folder (tested on a fake tree). */
int cgroup2_write_limits(int dirfd, const struct sandbox_limits *l, berth_error **err);
int cgroup1_write_limits(const char *controller, int dirfd, const struct sandbox_limits *l, berth_error **err);
/* rlimits for what no cgroup enforces; runs inside before exec. */
int rlimits_apply(const struct sandbox_limits *l, bool cgroup_pids, berth_error **err);

/* ---- users (user.c) ---- */
/* "uid[:gid]" or "name[:group]", names looked up in the image's /etc/passwd
 * and /etc/group as the sandbox will see them (the upper layer and the
 * layers merged as overlay does, beneath_read_layers()); a FIFO, device or
 * socket there is an error, never a hang. */
int user_resolve(const struct sandbox_root *root, const char *user, uid_t *ret_uid, gid_t *ret_gid,
                 berth_error **err);

/* ---- mounts (mounts.c) ---- */
/* beneath_open() of path in rootfd as O_PATH, with create making what is
 * missing: folders, and the last component as a file when !dir (a folder is
 * required when dir). Symlinks resolve inside the root; nothing is made
 * through one. */
int open_beneath(int rootfd, const char *path, bool create, bool dir, int *ret_fd, berth_error **err);
/* fsopen/fsconfig/fsmount a fresh filesystem; returns the mount fd. */
int fs_new(const char *fstype, const char *const *opts, unsigned attrs, int *ret_fd, berth_error **err);
int mount_at(int mntfd, int rootfd, const char *target, bool dir, berth_error **err);

/* ---- the child side (child.c) ---- */
/* The root as a detached mount: an overlay or a recursive bind of the
 * folder. images/ marks opaque folders with user.overlay.opaque, so berth
 * always passes userxattr=true. */
int root_make(const struct sandbox_root *r, bool userxattr, int *ret_fd, berth_error **err);
/* As root: the same, with the image's ids shown as the sandbox's range
 * through idmapped mounts (idmap_ns is a user namespace fd). fd_layers: hand
 * overlay the layers as fds, where overlay_takes_fds() (Linux 6.13+);
 * otherwise the caller must be in a private mount namespace (layers are
 * stacked on the mountpoint there). */
int root_make_idmapped(const struct sandbox_root *r, int idmap_ns, bool fd_layers, int *ret_fd, berth_error **err);
bool overlay_takes_fds(void);
struct child_args {
        const struct sandbox_config *c;
        const struct idmap_plan *ids;
        uid_t uid;              /* inside */
        gid_t gid;
        uint64_t caps;
        const struct sandbox_bpf *bpf;  /* NULL = unconfined */
        int sync_fd;            /* unix socket: "m" (maps written), then a join_msg */
        int report_fd;          /* write, CLOEXEC: setup or exec failure */
        int pty_sock;           /* write the pty master here, or -1 */
        const int *bind_fds;    /* per config mount: a tree berth prepared, or -1 */
        int root_sock;          /* as root: berth sends the root as a detached mount here, or -1 */
        char *resolv_conf;      /* host's for network host, pasta's for private; NULL otherwise */
        bool announce_netns;    /* write "n" on sync_fd once the network namespace exists */
};
_Noreturn void child_main(const struct child_args *a);
/* Pieces of the child that entering a running sandbox reuses (join.c). */
int loopback_up(berth_error **err);
int read_last_cap(void);
char **command_env(char *const *env, bool *has_path);
int become_user(const struct child_args *a, berth_error **err);
int load_seccomp(const struct sandbox_bpf *b, berth_error **err);

/* ---- network (net.c) ---- */
/* What c's network needs: *ret_pasta when pasta serves a private network
 * (then *ret_resolv is the sandbox's resolv.conf). Warns on c->warnings
 * for a fallback; ports it cannot publish are an error. */
int net_plan(const struct sandbox_config *c, bool *ret_pasta, char **ret_resolv, berth_error **err);
/* What berth blocks and relays to the init, which inherits the mask and
 * waits for the same set (SIGCHLD included: both reap a child). */
void relayed_signals(sigset_t *s);

/* What the child tells the parent before exec, or instead of it. */
struct child_report {
        int kind;               /* enum berth_error_kind */
        int errnum;
        char msg[1024];
};

/* ---- the kept root (keep.c) ---- */
/* What a kept root was mounted from: layers, upper, work and ids. */
char *kept_root_key(const struct sandbox_root *r, const struct idmap_plan *ids);
/* 1 and a clone of the kept root if one with this key is pinned on keep_at;
 * 0 if not (a pin with another key is released). -1: berth could not return
 * to its own mount namespace. */
int kept_root_open(const char *keep_at, const char *key, int *ret_fd, berth_error **err);
/* Pin the overlay on keep_at (replacing any pin there) and return a clone of
 * it for this run. On failure the overlay fd may be unusable. */
int kept_root_pin(int overlay, const char *keep_at, const char *key, int *ret_fd, berth_error **err);

/* ---- pty relay (pty.c) ---- */
/* One fd over a unix socket: the pty master, or the root as root. */
int send_fd(int sock, int fd);
int recv_fd(int sock, const char *what, int *ret_fd, berth_error **err);
/* len bytes with up to MAX_PASSED_FDS fds (SCM_RIGHTS) on a unix socket;
 * received fds are close-on-exec. */
#define MAX_PASSED_FDS 8
int send_fds(int sock, const void *data, size_t len, const int *fds, size_t n_fds);
int recv_fds(int sock, void *data, size_t len, int *fds, size_t *n_fds);

/* The "joined" message on the sync socket: which limits berth's cgroup
 * enforces, with the v1 `tasks` fds for the init to join by itself. */
struct join_msg {
        char tag;               /* 'j' */
        char mech;              /* enum sandbox_limit_mech of berth's cgroup */
        bool memory, pids, cpus;
        unsigned char n_join;   /* the fds: n_join `tasks` files, then the views */
        char view[4];           /* each view's controller: "memory", "pids", "cpu" by initial */
};

/* ---- the sandbox's view of its cgroup (cgroupfs.c) ---- */
/* In the init, in its new cgroup namespace, after pivot_root: mount the
 * sandbox's own cgroup read-only on /sys/fs/cgroup (cgroup2, or each v1
 * controller berth limits). Without a cgroup: nothing, or an empty folder
 * over the host's hierarchies where /sys is the host's. */
int cgroup_view_mount(const struct join_msg *j, const int *view_fds, bool host_sys, berth_error **err);
