/* A service's sandbox: its root (the environment's layers under a
 * writable layer of its own, kept across restarts, removed by `down`; not
 * volatile: overlay refuses to mount a volatile work dir again), mounts, env and limits, joined to
 * the environment's shared namespaces. */
#include <errno.h>
#include <sys/stat.h>

#include "envs-private.h"

void envs_service_sandbox_done(struct envs_service_sandbox *b)
{
        free(b->dir);
        free(b->upper);
        free(b->work);
        free(b->mnt);
        free(b->aliases);
        strv_free(b->env);
        strv_free(b->volume_dirs);
        strv_free(b->argv);
        envs_image_config_done(&b->image);
        free(b->mounts);
        *b = (struct envs_service_sandbox) {};
}

static int service_mounts(struct envs_service_sandbox *b, const struct spec_service *v, const char *state,
                          berth_error **err)
{
        if (envs_convert_mounts(v->mounts, v->n_mounts, state, &b->mounts, &b->volume_dirs, err) < 0)
                return -1;
        b->c.mounts = b->mounts;
        b->c.n_mounts = v->n_mounts;
        return 0;
}

static bool env_has(char *const *env, size_t n, const char *name_value)
{
        size_t len = strcspn(name_value, "=");
        for (size_t i = 0; i < n; i++)
                if (!strncmp(env[i], name_value, len) && env[i][len] == '=')
                        return true;
        return false;
}

/* The image's Env beneath the environment's env beneath the service's own:
 * a later one wins by name. */
static void service_env(struct envs_service_sandbox *b, const struct spec *s, const struct spec_service *v)
{
        size_t ni = strv_length(b->image.env), n = 0;
        _cleanup_free_ char **all = xcalloc(ni + s->n_env + v->n_env + 1, sizeof(char *));
        for (size_t i = 0; i < ni; i++)
                all[n++] = xstrdup(b->image.env[i]);
        for (size_t i = 0; i < s->n_env; i++)
                all[n++] = xasprintf("%s=%s", s->env[i].name, s->env[i].value);
        for (size_t i = 0; i < v->n_env; i++)
                all[n++] = xasprintf("%s=%s", v->env[i].name, v->env[i].value);
        b->env = xcalloc(n + 1, sizeof(char *));
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                if (!env_has(all + i + 1, n - i - 1, all[i]))
                        b->env[k++] = TAKE_PTR(all[i]);
                else
                        free(all[i]);
        }
        b->c.env = b->env;
}

/* As compose: the image's Entrypoint, then the spec's command in place of
 * the image's Cmd. */
static int service_argv(struct envs_service_sandbox *b, const struct spec_service *v, berth_error **err)
{
        char **tail = v->command ? v->command : b->image.cmd;
        size_t ne = strv_length(b->image.entrypoint), nt = strv_length(tail);
        if (ne + nt == 0)
                return berth_error_make(err, BERTH_E_INVALID, 0, "no command: the spec gives none and "
                                        "its image has no Entrypoint or Cmd");
        b->argv = xcalloc(ne + nt + 1, sizeof(char *));
        for (size_t i = 0; i < ne + nt; i++)
                b->argv[i] = xstrdup(i < ne ? b->image.entrypoint[i] : tail[i - ne]);
        b->c.argv = b->argv;
        return 0;
}

static void service_security(struct sandbox_config *c, const struct spec *s, const struct spec_service *v)
{
        c->seccomp = s->security.seccomp == SPEC_SECCOMP_UNCONFINED ? SANDBOX_SECCOMP_UNCONFINED
                     : s->security.seccomp == SPEC_SECCOMP_PROFILE ? SANDBOX_SECCOMP_PROFILE
                                                                   : SANDBOX_SECCOMP_DEFAULT;
        c->seccomp_profile = s->security.seccomp_profile;
        c->cap_add = s->security.cap_add;
        c->cap_drop = s->security.cap_drop;
        c->limits = (struct sandbox_limits) { .memory = v->resources.memory, .millicpus = v->resources.millicpus,
                                              .pids = v->resources.pids, .nofile = v->resources.nofile };
}

int envs_service_layers(const struct spec *s, const struct spec_service *v, const char *state, bool keep_record,
                        char ***ret, berth_error **err)
{
        if (!v->n_image)
                return envs_layers(s, state, keep_record, ret, NULL, err);
        /* The service's image in the environment's place; its last pull is
         * remembered in its own folder. */
        struct spec own = *s;
        own.image = v->image;
        own.n_image = v->n_image;
        _cleanup_free_ char *dir = xasprintf("%s/services/%s", state, v->name);
        if (mkdir_p(dir, 0700, err) < 0 || envs_layers(&own, dir, keep_record, ret, NULL, err) < 0)
                return berth_error_wrap(err, "service %s", v->name);
        return 0;
}

/* Every other service, by name, on the shared loopback. */
char *envs_service_names(const struct spec *s, const char *self)
{
        size_t len = 1;
        for (size_t i = 0; i < s->n_services; i++)
                len += strlen(s->services[i].name) + 1;
        char *out = xcalloc(1, len), *p = out;
        for (size_t i = 0; i < s->n_services; i++)
                if (!self || !streq(s->services[i].name, self))
                        p += sprintf(p, "%s%s", p == out ? "" : " ", s->services[i].name);
        return out;
}

int envs_service_sandbox(const struct spec *s, const struct spec_service *v, const char *state, char **layers,
                         struct envs_service_sandbox *b, berth_error **err)
{
        *b = (struct envs_service_sandbox) {};
        b->dir = xasprintf("%s/services/%s", state, v->name);
        b->upper = xasprintf("%s/upper", b->dir);
        b->work = xasprintf("%s/work", b->dir);
        b->mnt = xasprintf("%s/mnt", b->dir);
        if (envs_sandbox_folder(b->upper, err) < 0 || envs_sandbox_folder(b->work, err) < 0 ||
            (mkdir(b->mnt, 0700) < 0 && errno != EEXIST && mkdir_p(b->mnt, 0700, err) < 0))
                return berth_error_wrap(err, "service %s: state", v->name);
        b->c.root = (struct sandbox_root) { .lowerdirs = (const char *const *) layers,
                                            .n_lowerdirs = strv_length(layers), .upperdir = b->upper,
                                            .workdir = b->work, .mountpoint = b->mnt,
                                            .read_only = s->security.read_only };
        if (service_mounts(b, v, state, err) < 0)
                return -1;
        /* The image the service runs: its own, or the environment's. */
        if (envs_image_config(v->n_image ? v->image : s->image, v->n_image ? v->n_image : s->n_image, &b->image,
                              err) < 0 ||
            service_argv(b, v, err) < 0)
                return berth_error_wrap(err, "service %s", v->name);
        service_env(b, s, v);
        service_security(&b->c, s, v);
        b->c.cwd = v->workdir ? v->workdir : s->workdir ? s->workdir : b->image.workdir;
        b->c.user = v->user ? v->user : s->user ? s->user : b->image.user;
        b->c.hostname = v->name;
        b->c.name = v->name;
        b->c.network = s->network == SPEC_NET_HOST ? SANDBOX_NET_HOST
                       : s->network == SPEC_NET_NONE ? SANDBOX_NET_NONE : SANDBOX_NET_PRIVATE;
        b->c.host_aliases = b->aliases = envs_service_names(s, v->name);
        return 0;
}
