/* envs: an environment's life: the dev sandbox for `run` and `shell` (state
 * dir, writable layer, named volumes, --ephemeral) and the services' supervisor.
 * Uses common, specs, images and sandbox.
 *
 * State layout under berth_state_dir():
 *   envs/<name>-<8 hex of the spec's folder>/
 *     rootfs/upper, rootfs/work   the dev sandbox's writable layer
 *     rootfs/mnt                  an empty folder the overlay is mounted on
 *     volumes/<volume>/           named volumes, kept until `down --volumes`
 *     rootfs/copy-<key>/          the root as a copy where overlay cannot be mounted
 *     rootfs/stacking             "copy" once overlay failed for this environment
 *     rootfs/mntns                as root, while the environment is up: the kept
 *                                 overlay's mount namespace, bound here until
 *                                 `berth down` (sandbox/keep.c)
 *     run-<pid>/                  a run beside the one owning rootfs/: a throwaway
 *                                 upper/work (or copy), removed after
 *     locks/volume-<volume>       read-locked by each process binding the volume
 *   envs/<name>-<8 hex>.run-<pid>/  --ephemeral: an instance of its own, removed after
 * docs/ENVIRONMENTS.md has the lock protocol.
 * As root these folders belong to the sandbox's id range (sandbox_root_ids()). */
#pragma once

#include "common/common.h"
#include "specs/specs.h"

struct sandbox_outcome;
struct envs_run_opts {
        char *const *argv;      /* the command */
        struct sandbox_outcome *outcome; /* what the limits did, when not NULL */
        bool ephemeral;         /* throw the writable layer away afterwards */
        bool tty;               /* interactive: a pty relayed to our terminal */
        bool up_for_run;        /* its services were brought up for this run only */
        berth_warnings *warnings; /* limits not enforced, fallbacks taken (may be NULL) */
};

/* Run argv in the environment's dev sandbox and wait. *ret_status is the
 * command's status (128+signal if a signal ended it). Errors: as sandbox_run()
 * (BERTH_E_NOCMD, BERTH_E_NOEXEC, or a failure before the command ran). */
int envs_run(const struct spec *s, const struct envs_run_opts *o, int *ret_status, berth_error **err);

/* How the root is stacked. BERTH_ROOTFS: unset or "auto" (overlay; a copy
 * where overlay cannot be mounted), "overlay" (never a copy), "copy". */
enum envs_stacking { ENVS_STACKING_AUTO, ENVS_STACKING_OVERLAY, ENVS_STACKING_COPY };
int envs_stacking_from_env(enum envs_stacking *ret, berth_error **err);

/* `berth down`: release the environment's kept root mount; with volumes,
 * remove its named volumes too (refused, naming the volume and its holder,
 * while any process has one bound). The writable layer stays. */
struct envs_down_result {
        bool root_released;     /* a kept root was unmounted */
        bool volumes_removed;
};
int envs_down(const struct spec *s, bool volumes, struct envs_down_result *ret, berth_error **err);

/* Pull the OCI image or archive a layer entry names (oci:, oci-archive:,
 * docker-archive:). Without refresh, what the last pull resolved is used
 * while it is cached. Errors begin with the entry's FILE:LINE:COL. */
struct images_opts;
struct images_oci_image;
int envs_pull_image(const struct images_opts *opts, const struct spec_layer *l, bool refresh,
                    struct images_oci_image *ret, berth_error **err);

/* ---- services: the environment's supervisor (control.c) ----
 * State, beside the above: supervisor.lock (held by the supervisor for its
 * life), supervisor.pid, control.sock, logs/<service>.log[.1],
 * services/<service>/{upper,work,mnt}. docs/ENVIRONMENTS.md. */
#include <jansson.h>

/* Start the environment's supervisor unless one is up (*ret_started says
 * which); it starts the services by itself. owner: a process whose end
 * takes the environment down (`run` that brought it up, `up` until it
 * detaches), or 0. */
int envs_up(const struct spec *s, pid_t owner, bool *ret_started, berth_error **err);
/* Before `up` (and `run` of an environment with services): what its
 * network can do here. Errors: ports with network none, or without pasta
 * (named with their service); warnings: private without pasta (loopback
 * only), a service's ports with network host. *ret_pasta: pasta will
 * serve the network. */
int envs_network_check(const struct spec *s, berth_warnings *w, bool *ret_pasta, berth_error **err);
/* The owner is done: the environment stays up without it (`up` returned). */
int envs_detach(const struct spec *s, berth_error **err);
/* --ephemeral: from now on this process's environment of any spec is a
 * throwaway instance of its own (envs/<name>-<8 hex>.run-<pid>: its own
 * state, supervisor, network and volumes), so runs at once never collide. */
void envs_use_instance(void);
/* Remove the instance's whole folder (after its services are down). */
int envs_instance_remove(const struct spec *s, berth_error **err);
enum envs_liveness { ENVS_DOWN, ENVS_UP, ENVS_DEAD };
/* ENVS_UP with the supervisor's document ({"supervisor": pid, "services":
 * [{name, state, pid, uptime_ms, restarts, exit_status?, reason?, ports}],
 * "ports", "warnings": [{key, message}]}: ports as "127.0.0.1:8080->80/tcp",
 * those published now; warnings, the fallbacks the supervisor took);
 * ENVS_DEAD: a supervisor left its pid file but no longer answers. With
 * ret NULL, only the liveness (one round trip fewer). */
int envs_status(const struct spec *s, enum envs_liveness *ret_live, json_t **ret, berth_error **err);
/* Stop the services (reverse order: SIGTERM, stop_timeout, SIGKILL) and the
 * supervisor, or clean up after a dead one; removes services/ and logs/. */
int envs_services_down(const struct spec *s, bool *ret_was_up, berth_error **err);
/* Run argv in a running service's namespaces and root and wait: its status.
 * A service that is not running is BERTH_E_FAILED "NAME is not running
 * (state: ...)"; an unknown one BERTH_E_NOTFOUND. */
int envs_exec(const struct spec *s, const char *service, char *const *argv, int *ret_status, berth_error **err);
/* Where the services' logs are: <name>.log lines "SECONDS.MICROS out|err TEXT". */
char *envs_logs_dir(const struct spec *s, berth_error **err);
