/* envs/ internal declarations. */
#pragma once

#include "envs/envs.h"

/* The environment's folder under the state folder base (not created). */
char *envs_dir_path(const char *base, const struct spec *s);
/* Where the last pull of state's layers is remembered: state itself, or for
 * an instance (--ephemeral) the environment's own folder, read, never written. */
char *envs_record_folder(const char *state);
/* Whether the environment whose folder this is is up (its supervisor answers). */
bool envs_is_up(const char *state);
/* The name of the environment's cgroup (sandbox_env_cgroup_open()): its
 * folder's name and a hash of its path, unique per state folder. */
char *envs_cgroup_id(const char *state);
/* Kill what is left in the environment's cgroup and remove it (`down`, and
 * `up` after a supervisor that died). */
int envs_cgroup_cleanup(const char *state, berth_error **err);
/* Where, in the environment's folder, its root is kept mounted (as root). */
char *envs_kept_root_path(const char *state);
/* Take state/layer.lock, held by the run that owns the kept writable layer
 * (and has the volumes bound): 0 and the fd, or 1 if another run holds it. */
int envs_lock_layer(const char *state, int *ret_fd, berth_error **err);
/* `down --volumes`: the write lock on volume name (0 and the fd), or 1 and
 * the pid of a process that has it bound (a run, exec, or a supervisor). */
int envs_lock_volume(const char *state, const char *name, int *ret_fd, pid_t *ret_holder, berth_error **err);
/* The image config of the topmost OCI image among the layers: the defaults
 * for the command, environment, folder and user, below what the spec says. */
struct envs_image_config {
        char **env, **entrypoint, **cmd;
        char *workdir, *user;
};
void envs_image_config_done(struct envs_image_config *c);
/* The config of the topmost OCI entry of ls (as the last pull resolved it;
 * pulled if the cache lacks it), all NULL without one. */
int envs_image_config(const struct spec_layer *ls, size_t n, struct envs_image_config *ret, berth_error **err);
/* The image's layer folders, bottom first; ret_config (may be NULL) gets the
 * config of its topmost OCI image, all NULL without one. */
int envs_layers(const struct spec *s, const char *state, bool keep_record, char ***ret,
                struct envs_image_config *ret_config, berth_error **err);
/* Fill the NULL entries of layers (one per spec layer, bottom first) with the
 * unpacked folders of the spec's archives: as the last pull recorded in
 * state/layers while that still holds, else by a pull, recorded when
 * keep_record (never for --ephemeral, which leaves nothing). */
int envs_pull_layers(const struct spec *s, const char *state, bool keep_record, char **layers, berth_error **err);
/* A merged copy of the layers for a root without overlay, every file with an
 * inode of its own (never the cache's). throwaway: built at dir/root for one
 * run; else kept as dir/copy-<key of the layers>, built once. */
int envs_copy_root(char *const *layers, size_t n, const char *dir, bool throwaway, char **ret, berth_error **err);
/* A folder the sandbox writes (as root: owned by the sandbox's ids). */
int envs_sandbox_folder(const char *path, berth_error **err);

/* ---- services (services.c, supervisor.c, control.c) ---- */
#include "sandbox/sandbox.h"
struct envs_service_sandbox {
        struct sandbox_config c;
        char *dir, *upper, *work, *mnt;  /* state/services/<name>/ */
        char *aliases;                   /* the other services' names, for /etc/hosts */
        char **env, **volume_dirs, **argv;
        struct sandbox_mount *mounts;
        struct envs_image_config image;  /* an OCI image's defaults */
};
/* The service's sandbox config; c.join and c.cache_dir are the caller's. */
int envs_service_sandbox(const struct spec *s, const struct spec_service *v, const char *state, char **layers,
                         struct envs_service_sandbox *ret, berth_error **err);
void envs_service_sandbox_done(struct envs_service_sandbox *b);
/* The service's layer folders: its own image's, or the environment's. */
int envs_service_layers(const struct spec *s, const struct spec_service *v, const char *state, bool keep_record,
                        char ***ret, berth_error **err);
/* The supervisor's main loop, in the forked supervisor: never returns.
 * layers: each service's, in the spec's order.
 * ready_fd gets "ok\n" once it listens, or the error's text. When owner
 * (a pid) ends, it takes the environment down. */
_Noreturn void envs_supervise(const struct spec *s, const char *state, char ***layers, const char *cache,
                              int lock_fd, pid_t owner, int ready_fd);
#define ENVS_SOCKET "control.sock"
#define ENVS_PIDFILE "supervisor.pid"
#define ENVS_LOCKFILE "supervisor.lock"
/* When the environment is up: 1 and its network's namespaces, for the dev
 * sandbox to join (close them with sandbox_shared_ns_done()); 0 if not up. */
int envs_join_network(const char *state, struct sandbox_shared_ns *ret, berth_error **err);
/* Host ports the environment publishes that cannot be bound now: an error
 * naming the first (and its service). */
int envs_network_ports_free(const struct spec *s, berth_error **err);
/* In the supervisor: pasta on the shared namespaces, publishing every port,
 * where the spec's network is private and pasta can serve it (ret->pid -1
 * otherwise); sets ns->outbound. Fails on a port it cannot publish; a
 * pasta that fails without ports leaves loopback only, said in warnings. */
int envs_network_start(const struct spec *s, struct sandbox_shared_ns *ns, struct sandbox_net *ret,
                       berth_warnings *warnings, berth_error **err);
/* Ports as `ps` shows them: ["127.0.0.1:8080->80/tcp", ...]. */
json_t *envs_ports_json(const struct spec_port *p, size_t n);
/* Every service's name, space-separated, for /etc/hosts. */
char *envs_service_names(const struct spec *s, const char *except);
/* The spec's mounts as the sandbox takes them: named volumes are folders
 * under state/volumes, made for the sandbox's ids. *ret_mounts and
 * *ret_volume_dirs are the caller's to free, even on failure. */
struct spec_mount;
struct sandbox_mount;
int envs_convert_mounts(const struct spec_mount *mounts, size_t n, const char *state,
                        struct sandbox_mount **ret_mounts, char ***ret_volume_dirs, berth_error **err);
