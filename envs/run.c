/* The dev sandbox: turn a spec into a sandbox_config and run it. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "envs-private.h"
#include "sandbox/sandbox.h"

static uint32_t fnv1a32(const char *s)
{
        uint32_t h = 0x811c9dc5u;
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 0x01000193u;
        return h;
}

int envs_state_dir(const struct spec *s, char **ret, berth_error **err)
{
        _cleanup_free_ char *base = NULL;
        if (berth_state_dir(&base, err) < 0)
                return -1;
        char *dir = xasprintf("%s/envs/%s-%08x", base, s->name, fnv1a32(s->dir ? s->dir : ""));
        if (mkdir_p(dir, 0700, err) < 0) {
                free(dir);
                return -1;
        }
        *ret = dir;
        return 0;
}

/* A folder the sandbox writes: as root it must belong to the sandbox's range. */
static int sandbox_folder(const char *path, berth_error **err)
{
        uid_t u;
        gid_t g;
        if (mkdir_p(path, 0755, err) < 0 || sandbox_root_ids(&u, &g, err) < 0)
                return -1;
        if (geteuid() == 0 && chown(path, u, g) < 0)
                return berth_err(err, errno, "chown `%s`", path);
        return 0;
}

struct dev_sandbox {
        struct sandbox_config c;
        char **layers;
        char *upper, *work, *mnt, *run_dir;
        struct sandbox_mount *mounts;
        char **volume_dirs;
        char **env;
};

static void dev_sandbox_done(struct dev_sandbox *d)
{
        strv_free(d->layers);
        free(d->upper);
        free(d->mnt);
        free(d->mounts);
        strv_free(d->volume_dirs);
        strv_free(d->env);
        if (d->run_dir) {
                _cleanup_error_ berth_error *e = NULL;
                if (rm_rf_at(AT_FDCWD, d->run_dir, &e) < 0)
                        log_debug("%s", e->msg);
                free(d->run_dir);
        }
        free(d->work);
}

static int prepare_rootfs(struct dev_sandbox *d, const char *state, bool ephemeral, berth_error **err)
{
        const char *where = state;
        if (ephemeral) {
                d->run_dir = xasprintf("%s/run-%d", state, (int) getpid());
                where = d->run_dir;
        }
        d->upper = xasprintf("%s/rootfs/upper", where);
        d->work = xasprintf("%s/rootfs/work", where);
        d->mnt = xasprintf("%s/rootfs/mnt", where);
        if (sandbox_folder(d->upper, err) < 0 || sandbox_folder(d->work, err) < 0 || mkdir_p(d->mnt, 0700, err) < 0)
                return berth_error_wrap(err, "state");
        return 0;
}

/* With --ephemeral, volumes live in the run folder too: nothing is left behind. */
static int convert_mounts(struct dev_sandbox *d, const struct spec *s, const char *state, berth_error **err)
{
        d->mounts = xcalloc(s->n_mounts ? s->n_mounts : 1, sizeof(*d->mounts));
        d->volume_dirs = xcalloc(s->n_mounts + 1, sizeof(char *));
        size_t nv = 0;
        for (size_t i = 0; i < s->n_mounts; i++) {
                const struct spec_mount *m = &s->mounts[i];
                struct sandbox_mount *o = &d->mounts[i];
                o->target = m->target;
                o->read_only = m->read_only;
                o->size = m->size;
                o->type = m->type == SPEC_MOUNT_TMPFS ? SANDBOX_MOUNT_TMPFS : SANDBOX_MOUNT_BIND;
                o->source = m->source;
                o->owned_by_source = m->type == SPEC_MOUNT_BIND;
                if (m->type == SPEC_MOUNT_VOLUME) {
                        char *v = xasprintf("%s/volumes/%s", state, m->source);
                        d->volume_dirs[nv++] = v;
                        if (sandbox_folder(v, err) < 0)
                                return berth_error_wrap(err, "volume %s", m->source);
                        o->source = v;
                }
        }
        d->c.mounts = d->mounts;
        d->c.n_mounts = s->n_mounts;
        return 0;
}

static void convert_env(struct dev_sandbox *d, const struct spec *s)
{
        d->env = xcalloc(s->n_env + 1, sizeof(char *));
        for (size_t i = 0; i < s->n_env; i++)
                d->env[i] = xasprintf("%s=%s", s->env[i].name, s->env[i].value);
        d->c.env = d->env;
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

int envs_run(const struct spec *s, const struct envs_run_opts *o, int *ret_status, berth_error **err)
{
        _cleanup_free_ char *state = NULL, *cache = NULL;
        struct dev_sandbox d = {};
        int r = -1;
        if (envs_state_dir(s, &state, err) < 0 || berth_cache_dir(&cache, err) < 0)
                return -1;
        if (envs_layers(s, &d.layers, err) < 0 || prepare_rootfs(&d, state, o->ephemeral, err) < 0 ||
            convert_mounts(&d, s, d.run_dir ? d.run_dir : state, err) < 0)
                goto out;
        convert_env(&d, s);
        convert_security(&d.c, s);
        d.c.root.lowerdirs = (const char *const *) d.layers;
        d.c.root.n_lowerdirs = strv_length(d.layers);
        d.c.root.upperdir = d.upper;
        d.c.root.workdir = d.work;
        d.c.root.mountpoint = d.mnt;
        d.c.root.volatile_upper = o->ephemeral;
        d.c.argv = o->argv;
        d.c.cwd = s->workdir;
        d.c.hostname = s->name;
        d.c.user = s->user;
        d.c.tty = o->tty;
        d.c.cache_dir = cache;
        d.c.name = s->name;
        r = sandbox_run(&d.c, ret_status, err);
out:
        dev_sandbox_done(&d);
        return r;
}
