/* The dev sandbox: turn a spec into a sandbox_config and run it. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "envs-private.h"
#include "images/images.h"
#include "sandbox/sandbox.h"

static uint32_t fnv1a32(const char *s)
{
        uint32_t h = 0x811c9dc5u;
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 0x01000193u;
        return h;
}

/* Set by --ephemeral: this process's environment is an instance of its own. */
static pid_t instance;

void envs_use_instance(void)
{
        instance = getpid();
}

char *envs_dir_path(const char *base, const struct spec *s)
{
        uint32_t h = fnv1a32(s->dir ? s->dir : "");
        if (instance)
                return xasprintf("%s/envs/%s-%08x.run-%d", base, s->name, h, (int) instance);
        return xasprintf("%s/envs/%s-%08x", base, s->name, h);
}

char *envs_record_folder(const char *state)
{
        _cleanup_free_ char *mark = instance ? xasprintf(".run-%d", (int) instance) : NULL;
        const char *at = mark ? strstr(state, mark) : NULL;
        if (!at)
                return xstrdup(state);
        return xasprintf("%.*s%s", (int) (at - state), state, at + strlen(mark));
}

char *envs_cgroup_id(const char *state)
{
        const char *base = strrchr(state, '/');
        return xasprintf("%s-%08x", base ? base + 1 : state, fnv1a32(state));
}

int envs_cgroup_cleanup(const char *state, berth_error **err)
{
        _cleanup_free_ char *id = envs_cgroup_id(state);
        struct sandbox_env_cgroup g;
        sandbox_env_cgroup_open(id, &g);
        int r = sandbox_env_cgroup_remove(&g, err);
        sandbox_env_cgroup_done(&g);
        return r;
}

/* Whether someone (a supervisor still stopping) holds dir's supervisor.lock. */
static bool supervisor_locked(const char *dir)
{
        _cleanup_free_ char *p = xasprintf("%s/" ENVS_LOCKFILE, dir);
        _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        return fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) < 0;
}

/* The instances of this spec's runs that were killed (kill -9 leaves their
 * folder's files): removed once their run is gone and no supervisor holds
 * them. A pid in use again only delays it. */
static void remove_dead_instances(const char *base, const struct spec *s)
{
        _cleanup_free_ char *envs = xasprintf("%s/envs", base);
        _cleanup_free_ char *prefix = xasprintf("%s-%08x.run-", s->name, fnv1a32(s->dir ? s->dir : ""));
        _cleanup_closedir_ DIR *d = opendir(envs);
        struct dirent *de;
        while (d && (de = readdir(d))) {
                const char *p = startswith(de->d_name, prefix);
                pid_t pid = p ? (pid_t) atoi(p) : 0;
                if (pid <= 0 || pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH)
                        continue;
                _cleanup_free_ char *dir = xasprintf("%s/%s", envs, de->d_name);
                _cleanup_error_ berth_error *e = NULL;
                if (!supervisor_locked(dir) && rm_rf_at(AT_FDCWD, dir, &e) < 0)
                        log_debug("%s", e->msg);
        }
}

int envs_instance_remove(const struct spec *s, berth_error **err)
{
        _cleanup_free_ char *base = NULL;
        if (!instance || berth_state_dir(&base, err) < 0)
                return instance ? -1 : 0;
        _cleanup_free_ char *dir = envs_dir_path(base, s), *envs = xasprintf("%s/envs", base);
        if (rm_rf_at(AT_FDCWD, dir, err) < 0 && (*err)->kind != BERTH_E_NOTFOUND)
                return berth_error_wrap(err, "state");
        berth_error_freep(err);
        remove_dead_instances(base, s);
        (void) rmdir(envs); /* a run beside this one keeps it */
        return 0;
}

int envs_stacking_from_env(enum envs_stacking *ret, berth_error **err)
{
        const char *v = getenv("BERTH_ROOTFS");
        if (!v || !*v || streq(v, "auto"))
                *ret = ENVS_STACKING_AUTO;
        else if (streq(v, "overlay"))
                *ret = ENVS_STACKING_OVERLAY;
        else if (streq(v, "copy"))
                *ret = ENVS_STACKING_COPY;
        else
                return berth_error_make(err, BERTH_E_USAGE, 0, "BERTH_ROOTFS: expected auto, overlay or copy, got \"%s\"", v);
        return 0;
}

/* A folder the sandbox writes: as root it must belong to the sandbox's
 * range. One that exists was made so by an earlier run. */
int envs_sandbox_folder(const char *path, berth_error **err)
{
        uid_t u;
        gid_t g;
        if (mkdir(path, 0755) < 0 && errno == EEXIST)
                return 0;
        if (mkdir_p(path, 0755, err) < 0 || sandbox_root_ids(&u, &g, err) < 0)
                return -1;
        if (geteuid() == 0 && chown(path, u, g) < 0)
                return berth_err(err, errno, "chown `%s`", path);
        return 0;
}

struct dev_sandbox {
        struct sandbox_config c;
        char **layers;
        char *state;                    /* the environment's folder */
        char *upper, *work, *mnt, *run_dir, *copy, *keep_at;
        int layer_lock;                 /* held while this run owns the kept layer */
        int inuse;                      /* the cache's record of the layers it runs on */
        bool up_for_run;                /* the environment goes down after this run */
        berth_warnings *warnings;
        struct sandbox_mount *mounts;
        struct sandbox_port *ports;
        char **volume_dirs;
        char **env;
        struct envs_image_config image; /* an OCI image's defaults */
        char **image_argv;              /* its Entrypoint + Cmd */
};

static void dev_sandbox_done(struct dev_sandbox *d)
{
        strv_free(d->layers);
        free(d->upper);
        free(d->work);
        free(d->mnt);
        free(d->keep_at);
        free(d->copy);
        free(d->mounts);
        free(d->ports);
        strv_free(d->volume_dirs);
        strv_free(d->env);
        envs_image_config_done(&d->image);
        strv_free(d->image_argv);
        closep(&d->layer_lock);
        images_inuse_release(&d->inuse);
        if (d->run_dir) {
                _cleanup_error_ berth_error *e = NULL;
                if (rm_rf_at(AT_FDCWD, d->run_dir, &e) < 0)
                        log_debug("%s", e->msg);
                free(d->run_dir);
                /* An --ephemeral run leaves nothing: not even an empty
                 * folder for the environment, whoever made it. A run beside
                 * this one keeps it (it is not empty), and retries if it
                 * loses the race. */
                _cleanup_free_ char *envs = xstrndup(d->state, (size_t) (strrchr(d->state, '/') - d->state));
                if (rmdir(d->state) == 0)
                        (void) rmdir(envs);
        }
        free(d->state);
}

/* --ephemeral: run-<pid>/ in the environment's folder, made without
 * mkdir_p so a concurrent run's cleanup cannot leave us without a parent. */
static int make_run_dir(struct dev_sandbox *d, berth_error **err)
{
        _cleanup_free_ char *envs = xstrndup(d->state, (size_t) (strrchr(d->state, '/') - d->state));
        d->run_dir = xasprintf("%s/run-%d", d->state, (int) getpid());
        for (int tries = 0; tries < 8; tries++) {
                if (mkdir(d->run_dir, 0700) == 0)
                        return 0;
                if (errno != ENOENT)
                        break;
                if ((mkdir(envs, 0700) < 0 && errno != EEXIST) || (mkdir(d->state, 0700) < 0 && errno != EEXIST))
                        break;
        }
        int e = errno;
        free(TAKE_PTR(d->run_dir));
        return berth_err(err, e, "state: mkdir `%s/run-%d`", d->state, (int) getpid());
}

static int prepare_overlay(struct dev_sandbox *d, berth_error **err)
{
        const char *where = d->run_dir ? d->run_dir : d->state;
        d->upper = xasprintf("%s/rootfs/upper", where);
        d->work = xasprintf("%s/rootfs/work", where);
        d->mnt = xasprintf("%s/rootfs/mnt", where);
        if (envs_sandbox_folder(d->upper, err) < 0 || envs_sandbox_folder(d->work, err) < 0 ||
            ((mkdir(d->mnt, 0700) < 0 && errno != EEXIST) && mkdir_p(d->mnt, 0700, err) < 0))
                return berth_error_wrap(err, "state");
        struct sandbox_root *r = &d->c.root;
        r->lowerdirs = (const char *const *) d->layers;
        r->n_lowerdirs = strv_length(d->layers);
        r->upperdir = d->upper;
        r->workdir = d->work;
        r->mountpoint = d->mnt;
        r->volatile_upper = d->run_dir != NULL;
        /* Only an environment that `up` brought up keeps its root mounted
         * (as root), for runs that join its services' network too: a
         * joined one has its answer already. */
        if (!d->run_dir && !d->up_for_run && geteuid() == 0 && (d->c.join || envs_is_up(d->state)))
                r->keep_at = d->keep_at = envs_kept_root_path(d->state);
        return 0;
}

/* One run at a time owns the kept writable layer: overlay cannot share a work
 * folder between mounts. A run beside it gets a throwaway layer, as with
 * --ephemeral, but keeps using the environment's volumes. Returns 1 if busy. */
int envs_lock_layer(const char *state, int *ret_fd, berth_error **err)
{
        _cleanup_free_ char *path = xasprintf("%s/layer.lock", state);
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return berth_err(err, errno, "state: open `%s`", path);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? 1 : berth_err(err, errno, "state: lock `%s`", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

char *envs_kept_root_path(const char *state)
{
        return xasprintf("%s/rootfs/mntns", state);
}

static int lock_layer(struct dev_sandbox *d, berth_error **err)
{
        int busy = envs_lock_layer(d->state, &d->layer_lock, err);
        if (busy != 1)
                return busy;
        berth_warn(d->warnings, NULL, "another run of %s holds its writable layer: changes this run makes outside "
                   "the project folder and volumes are discarded when it ends", d->c.name);
        return 1;
}

/* The environment's root is a copy, built once per list of layers and kept
 * (--ephemeral: a throwaway copy in the run folder). */
static int prepare_copy(struct dev_sandbox *d, berth_error **err)
{
        _cleanup_free_ char *dir = d->run_dir ? xstrdup(d->run_dir) : xasprintf("%s/rootfs", d->state);
        if (envs_copy_root(d->layers, strv_length(d->layers), dir, d->run_dir != NULL, &d->copy, err) < 0)
                return berth_error_wrap(err, "state");
        bool ro = d->c.root.read_only;
        d->c.root = (struct sandbox_root) { .dir = d->copy, .read_only = ro, .owned_by_sandbox = geteuid() == 0 };
        return 0;
}

/* Volumes this process binds: a read lock (fcntl, so `down` can name its
 * holder) on locks/volume-<name>, held until the process ends. The lock
 * files outlive `down --volumes`: a run waiting on one never holds a file
 * removed from under it. */
static int hold_volume(const char *state, const char *name, berth_error **err)
{
        static char **held;
        static size_t n;
        _cleanup_free_ char *dir = xasprintf("%s/locks", state);
        char *path = xasprintf("%s/volume-%s", dir, name);
        for (size_t i = 0; i < n; i++)
                if (streq(held[i], path)) {
                        free(path);
                        return 0;
                }
        int fd = (mkdir(dir, 0700) < 0 && errno != EEXIST) ? -1
                 : open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        struct flock l = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
        while (fd >= 0 && fcntl(fd, F_SETLKW, &l) < 0)
                if (errno != EINTR) {
                        close(fd);
                        fd = -1;
                }
        if (fd < 0) {
                int e = errno;
                free(path);
                return berth_err(err, e, "state: lock volume %s", name);
        }
        held = xrealloc(held, (n + 1) * sizeof(char *));
        held[n++] = path; /* and fd, open until we exit */
        return 0;
}

int envs_lock_volume(const char *state, const char *name, int *ret_fd, pid_t *ret_holder, berth_error **err)
{
        _cleanup_free_ char *dir = xasprintf("%s/locks", state), *path = xasprintf("%s/volume-%s", dir, name);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return berth_err(err, errno, "state: mkdir `%s`", dir);
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        if (fd < 0)
                return berth_err(err, errno, "state: open `%s`", path);
        if (fcntl(fd, F_SETLK, &l) == 0) {
                *ret_fd = TAKE_FD(fd);
                return 0;
        }
        if (errno != EACCES && errno != EAGAIN)
                return berth_err(err, errno, "state: lock `%s`", path);
        l = (struct flock) { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        *ret_holder = fcntl(fd, F_GETLK, &l) == 0 && l.l_type != F_UNLCK ? l.l_pid : 0;
        return 1;
}

int envs_convert_mounts(const struct spec_mount *mounts, size_t n, const char *state,
                        struct sandbox_mount **ret_mounts, char ***ret_volume_dirs, berth_error **err)
{
        struct sandbox_mount *out = xcalloc(n ? n : 1, sizeof(*out));
        char **dirs = xcalloc(n + 1, sizeof(char *));
        size_t nv = 0;
        /* Handed over now: the caller frees them, done or not. */
        *ret_mounts = out;
        *ret_volume_dirs = dirs;
        for (size_t i = 0; i < n; i++) {
                const struct spec_mount *m = &mounts[i];
                out[i] = (struct sandbox_mount) { .target = m->target, .read_only = m->read_only, .size = m->size,
                                                  .source = m->source, .owned_by_source = m->type == SPEC_MOUNT_BIND,
                                                  .type = m->type == SPEC_MOUNT_TMPFS ? SANDBOX_MOUNT_TMPFS
                                                                                      : SANDBOX_MOUNT_BIND };
                if (m->type == SPEC_MOUNT_VOLUME) {
                        char *dir = xasprintf("%s/volumes/%s", state, m->source);
                        dirs[nv++] = dir;
                        if (hold_volume(state, m->source, err) < 0 || envs_sandbox_folder(dir, err) < 0)
                                return berth_error_wrap(err, "volume %s", m->source);
                        out[i].source = dir;
                }
        }
        return 0;
}

/* With --ephemeral, volumes live in the run folder too: nothing is left behind. */
static int convert_mounts(struct dev_sandbox *d, const struct spec *s, const char *state, berth_error **err)
{
        if (envs_convert_mounts(s->mounts, s->n_mounts, state, &d->mounts, &d->volume_dirs, err) < 0)
                return -1;
        d->c.mounts = d->mounts;
        d->c.n_mounts = s->n_mounts;
        return 0;
}

static bool spec_sets(const struct spec *s, const char *name_value)
{
        size_t len = strcspn(name_value, "=");
        for (size_t i = 0; i < s->n_env; i++)
                if (strlen(s->env[i].name) == len && !strncmp(s->env[i].name, name_value, len))
                        return true;
        return false;
}

/* The image's Env first, then the spec's, which wins by name (as compose). */
static void convert_env(struct dev_sandbox *d, const struct spec *s)
{
        size_t n = 0, ni = strv_length(d->image.env);
        d->env = xcalloc(ni + s->n_env + 1, sizeof(char *));
        for (size_t i = 0; i < ni; i++)
                if (!spec_sets(s, d->image.env[i]))
                        d->env[n++] = xstrdup(d->image.env[i]);
        for (size_t i = 0; i < s->n_env; i++)
                d->env[n++] = xasprintf("%s=%s", s->env[i].name, s->env[i].value);
        d->c.env = d->env;
}

/* The command given, else the image's Entrypoint and Cmd. */
static int choose_argv(struct dev_sandbox *d, const struct envs_run_opts *o, berth_error **err)
{
        if (o->argv) {
                d->c.argv = o->argv;
                return 0;
        }
        size_t ne = strv_length(d->image.entrypoint), nc = strv_length(d->image.cmd);
        if (ne + nc == 0)
                return berth_error_make(err, BERTH_E_USAGE, 0, "no command given: berth run [--] CMD [ARG...] "
                                        "(the image has no Entrypoint or Cmd)");
        d->image_argv = xcalloc(ne + nc + 1, sizeof(char *));
        for (size_t i = 0; i < ne + nc; i++)
                d->image_argv[i] = xstrdup(i < ne ? d->image.entrypoint[i] : d->image.cmd[i - ne]);
        d->c.argv = d->image_argv;
        return 0;
}

/* The dev sandbox's own ports (a service's are the supervisor's). */
static void convert_ports(struct dev_sandbox *d, const struct spec *s)
{
        d->ports = xcalloc(s->n_ports ? s->n_ports : 1, sizeof(*d->ports));
        for (size_t i = 0; i < s->n_ports; i++)
                d->ports[i] = (struct sandbox_port) { .host_ip = s->ports[i].host_ip,
                                                      .host_port = s->ports[i].host_port,
                                                      .port = s->ports[i].container_port,
                                                      .udp = s->ports[i].udp };
        d->c.ports = d->ports;
        d->c.n_ports = s->n_ports;
}

/* Declared limits this host cannot enforce: said, never silently dropped. */
static void warn_unenforced(struct dev_sandbox *d)
{
        _cleanup_free_ char *missing = sandbox_unenforced_limits(&d->c.limits);
        if (missing)
                berth_warn(d->warnings, "resources", "the %s limit%s not enforced on this host; `berth doctor` says why",
                           missing, strstr(missing, " and ") ? "s are" : " is");
}

static void convert_security(struct sandbox_config *c, const struct spec *s)
{
        c->network = s->network == SPEC_NET_HOST ? SANDBOX_NET_HOST
                     : s->network == SPEC_NET_NONE ? SANDBOX_NET_NONE : SANDBOX_NET_PRIVATE;
        c->seccomp = s->security.seccomp == SPEC_SECCOMP_UNCONFINED ? SANDBOX_SECCOMP_UNCONFINED
                     : s->security.seccomp == SPEC_SECCOMP_PROFILE ? SANDBOX_SECCOMP_PROFILE
                                                                   : SANDBOX_SECCOMP_DEFAULT;
        c->seccomp_profile = s->security.seccomp_profile;
        c->cap_add = s->security.cap_add;
        c->cap_drop = s->security.cap_drop;
        c->root.read_only = s->security.read_only;
        c->limits = (struct sandbox_limits) {
                .memory = s->resources.memory,
                .millicpus = s->resources.millicpus,
                .pids = s->resources.pids,
                .nofile = s->resources.nofile,
        };
}

/* rootfs/stacking says "copy" once overlay failed for this environment:
 * its writes live in the copy from then on. */
static bool stacked_by_copy(const char *state)
{
        _cleanup_free_ char *p = xasprintf("%s/rootfs/stacking", state), *buf = NULL;
        _cleanup_error_ berth_error *e = NULL;
        return read_file_bounded(AT_FDCWD, p, 4096, "stacking", &buf, NULL, &e) == 0 && startswith(buf, "copy");
}

static void remember_copy(const char *state, const char *reason)
{
        _cleanup_free_ char *p = xasprintf("%s/rootfs/stacking", state), *text = xasprintf("copy\n%s\n", reason);
        _cleanup_error_ berth_error *e = NULL;
        if (write_file_atomic(AT_FDCWD, p, text, strlen(text), 0600, &e) < 0)
                log_debug("%s", e->msg);
}

/* The sandbox failed before the command ran: if the overlay is what cannot
 * be mounted here, the root becomes a copy. Returns 1 to try again. */
static int overlay_failed(struct dev_sandbox *d, berth_error **err)
{
        if ((*err)->kind == BERTH_E_NOCMD || (*err)->kind == BERTH_E_NOEXEC)
                return 0;
        _cleanup_free_ char *reason = NULL;
        _cleanup_error_ berth_error *e = NULL;
        if (sandbox_overlay_usable(&d->c.root, &reason, &e) != 0)
                return 0;
        berth_warn(d->warnings, NULL, "overlay cannot be mounted on the state folder (%s): %s root is a copy of its "
                   "layers (see berth doctor)", reason, d->run_dir ? "this run's" : "from now on, this environment's");
        if (!d->run_dir)
                remember_copy(d->state, reason);
        berth_error_free(*err);
        *err = NULL;
        return 1;
}

static int run_sandbox(struct dev_sandbox *d, enum envs_stacking how, int *ret_status, berth_error **err)
{
        bool copy = how == ENVS_STACKING_COPY || (how == ENVS_STACKING_AUTO && stacked_by_copy(d->state));
        if (copy)
                return prepare_copy(d, err) < 0 ? -1 : sandbox_run(&d->c, ret_status, err);
        if (prepare_overlay(d, err) < 0)
                return -1;
        if (sandbox_run(&d->c, ret_status, err) == 0)
                return 0;
        if (how == ENVS_STACKING_OVERLAY || overlay_failed(d, err) <= 0)
                return -1;
        return prepare_copy(d, err) < 0 ? -1 : sandbox_run(&d->c, ret_status, err);
}

/* An environment that is up: the dev sandbox joins its services' network
 * and sees them by name. */
static int join_services(struct dev_sandbox *d, const struct spec *s, struct sandbox_shared_ns *ns, char **aliases,
                         berth_error **err)
{
        if (!s->n_services)
                return 0;
        /* network host: the services listen on the host's loopback. */
        if (d->c.network == SANDBOX_NET_HOST) {
                d->c.host_aliases = *aliases = envs_service_names(s, NULL);
                return 0;
        }
        int up = envs_join_network(d->state, ns, err);
        if (up <= 0)
                return up;
        d->c.join = ns;
        d->c.host_aliases = *aliases = envs_service_names(s, NULL);
        return 0;
}

int envs_run(const struct spec *s, const struct envs_run_opts *o, int *ret_status, berth_error **err)
{
        _cleanup_free_ char *base = NULL, *cache = NULL;
        struct dev_sandbox d = { .layer_lock = -1, .inuse = -1, .up_for_run = o->up_for_run, .warnings = o->warnings,
                                 .c.warnings = o->warnings };
        struct sandbox_shared_ns ns = { .userns_fd = -1, .netns_fd = -1, .holder_sock = -1, .holder = -1 };
        _cleanup_free_ char *aliases = NULL;
        enum envs_stacking how;
        int r = -1;
        bool oci = false;
        for (size_t i = 0; i < s->n_image; i++)
                oci |= s->image[i].url == NULL; /* an OCI image or archive */
        if (!o->argv && !oci)
                return berth_error_make(err, BERTH_E_USAGE, 0, "no command given: berth run [--] CMD [ARG...]");
        if (envs_stacking_from_env(&how, err) < 0 || berth_state_dir(&base, err) < 0 ||
            berth_cache_dir(&cache, err) < 0)
                return -1;
        d.state = envs_dir_path(base, s);
        d.c.name = s->name;
        if (o->ephemeral) {
                if (make_run_dir(&d, err) < 0)
                        goto out;
        } else {
                if ((mkdir(d.state, 0700) < 0 && errno != EEXIST) && mkdir_p(d.state, 0700, err) < 0)
                        goto out;
                int busy = lock_layer(&d, err);
                if (busy < 0 || (busy > 0 && make_run_dir(&d, err) < 0))
                        goto out;
        }
        if (envs_layers(s, d.state, !o->ephemeral, &d.layers, &d.image, err) < 0 ||
            images_inuse_hold(cache, d.layers, &d.inuse, err) < 0 || choose_argv(&d, o, err) < 0 ||
            convert_mounts(&d, s, o->ephemeral ? d.run_dir : d.state, err) < 0)
                goto out;
        convert_env(&d, s);
        convert_security(&d.c, s);
        convert_ports(&d, s);
        warn_unenforced(&d);
        d.c.cwd = s->workdir ? s->workdir : d.image.workdir;
        d.c.hostname = s->name;
        d.c.user = s->user ? s->user : d.image.user;
        d.c.tty = o->tty;
        d.c.cache_dir = cache;
        d.c.outcome = o->outcome;
        if (join_services(&d, s, &ns, &aliases, err) < 0)
                goto out;
        r = run_sandbox(&d, how, ret_status, err);
out:
        sandbox_shared_ns_done(&ns);
        dev_sandbox_done(&d);
        return r;
}
