/* Spec repositories from the command line: the repositories to resolve
 * extends from, and specs/'s hooks into images/ (which specs/ may not use). */
#include "cli.h"
#include "images/images.h"
#include "images/sign.h"

static const struct spec_io io = {
        .sha256 = images_sha256_hex,
        .fetch = images_http_get,
        .sign = images_sign,
        .verify = images_verify,
};

const struct spec_io *cli_spec_io(void)
{
        return &io;
}

/* Folders absolute, so a lock records where they are. */
static char *repo_url(const char *url)
{
        if (strstr(url, "://") || url[0] == '/')
                return xstrdup(url);
        char *real = realpath(url, NULL);
        if (real)
                return real;
        _cleanup_free_ char *cwd = get_current_dir_name();
        return xasprintf("%s/%s", cwd ? cwd : ".", url);
}

static void add(struct spec_resolver *r, const char *url)
{
        struct spec_repo *v = (struct spec_repo *) r->repos;
        v = xrealloc(v, (r->n_repos + 1) * sizeof(*v));
        v[r->n_repos++] = (struct spec_repo){ .url = repo_url(url) };
        r->repos = v;
}

void cli_spec_resolver(struct cli_ctx *ctx, struct spec_resolver *ret)
{
        *ret = (struct spec_resolver){ .io = &io };
        for (char **p = ctx->repos; p && *p; p++)
                add(ret, *p);
        _cleanup_free_ char *env = xstrdup(getenv("BERTH_SPEC_REPOS") ? getenv("BERTH_SPEC_REPOS") : "");
        char *save = NULL;
        for (char *tok = strtok_r(env, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save))
                add(ret, tok);
}

void cli_spec_resolver_done(struct spec_resolver *r)
{
        spec_repos_free((struct spec_repo *) r->repos, r->n_repos);
        *r = (struct spec_resolver){};
}

char *cli_lock_path(const char *spec_path)
{
        const char *slash = strrchr(spec_path, '/');
        return slash ? xasprintf("%.*s/berth.lock", (int) (slash - spec_path), spec_path) : xstrdup("berth.lock");
}

int cli_spec_load_with(struct cli_ctx *ctx, struct spec_lock *lock, struct spec **ret, char **ret_buf, size_t *ret_len,
                       berth_error **err)
{
        struct spec_resolver r;
        cli_spec_resolver(ctx, &r);
        r.lock = lock;
        r.locked = ctx->locked;
        int rc = spec_load_bytes(ctx->spec_path, &r, ret, ret_buf, ret_len, err);
        cli_spec_resolver_done(&r);
        return rc;
}

static char *join_lines(char **v)
{
        _cleanup_dynbuf_ dynbuf b;
        dynbuf_init(&b, SIZE_MAX, NULL);
        for (size_t i = 0; v && v[i]; i++)
                dynbuf_printf(&b, NULL, "%s%s", i ? "; " : "", v[i]);
        return dynbuf_take(&b, NULL);
}

/* --locked: the spec's own bytes must be the ones locked. */
static char **spec_changed(struct spec_lock *lock, const char *path, const char *buf, size_t len, char **changes,
                           berth_error **err)
{
        char hex[65];
        if (cli_spec_io()->sha256(buf, len, hex, err) < 0)
                return NULL;
        if (!streq(hex, lock->spec_sha256))
                changes = strv_append(changes, xasprintf("%s: changed since berth.lock was written (sha256 %.12s…, "
                                                         "berth.lock %.12s…)", path, hex, lock->spec_sha256));
        return changes;
}

static const struct spec_lock_layer *pin_of(const struct spec_lock *lock, const char *where)
{
        for (size_t i = 0; i < lock->n_layers; i++)
                if (streq(lock->layers[i].where, where))
                        return &lock->layers[i];
        return NULL;
}

/* --locked: a local layer without a digest in the spec must still be the
 * file that was locked (the cache remembers digests by path and stat). */
static int local_changes(const struct spec_lock *lock, const struct spec *s, char ***changes, berth_error **err)
{
        struct images_opts opts;
        bool ready = false;
        for (size_t k = 0; k <= s->n_services; k++) {
                const struct spec_layer *ls = k == 0 ? s->image : s->services[k - 1].image;
                size_t nl = k == 0 ? s->n_image : s->services[k - 1].n_image;
                for (size_t i = 0; i < nl; i++) {
                        const char *src = ls[i].url ? ls[i].url : ls[i].oci_archive ? ls[i].oci_archive
                                                                                    : ls[i].docker_archive;
                        if (ls[i].sha256 || !src)
                                continue; /* pinned, or an OCI reference: the lock's digest is pulled as it is */
                        _cleanup_free_ char *where = k == 0 ? xasprintf("image[%zu]", i)
                                                            : xasprintf("services.%s.image[%zu]", s->services[k - 1].name, i);
                        const struct spec_lock_layer *pin = pin_of(lock, where);
                        struct image_ref ref = { src, NULL };
                        _cleanup_strv_ char **blobs = NULL;
                        if ((!ready && images_opts_init(&opts, err) < 0) || images_fetch(&opts, &ref, 1, &blobs, err) < 0)
                                return -1;
                        ready = true;
                        const char *now = strrchr(blobs[0], '/') + 1;
                        if (pin && !streq(now, pin->sha256))
                                *changes = strv_append(*changes, xasprintf("%s: %s: sha256 is now %.12s…, berth.lock "
                                                                           "%.12s…", where, src, now, pin->sha256));
                }
        }
        return 0;
}

static int load_locked(struct cli_ctx *ctx, struct spec_lock *lock, struct spec **ret, berth_error **err)
{
        _cleanup_spec_ struct spec *s = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t len;
        if (cli_spec_load_with(ctx, lock, &s, &buf, &len, err) < 0)
                return -1;
        _cleanup_strv_ char **changes = NULL;
        if (ctx->locked && local_changes(lock, s, &changes, err) < 0)
                return -1;
        char **more_changes = spec_lock_apply(lock, s);
        for (size_t i = 0; more_changes && more_changes[i]; i++)
                changes = strv_append(changes, more_changes[i]);
        free(more_changes);
        if (ctx->locked) {
                _cleanup_error_ berth_error *e = NULL;
                char **more = spec_changed(lock, ctx->spec_path, buf, len, TAKE_PTR(changes), &e);
                if (!more && e)
                        return *err = TAKE_PTR(e), -1;
                changes = more;
                if (changes) {
                        _cleanup_free_ char *text = join_lines(changes);
                        return berth_error_make(err, BERTH_E_FAILED, 0, "berth.lock does not match %s: %s (run berth "
                                                                        "lock)", ctx->spec_path, text);
                }
        }
        if (changes) {
                /* Stale: what the spec says now wins, resolved afresh. */
                _cleanup_free_ char *text = join_lines(changes);
                spec_free(TAKE_PTR(s));
                if (cli_spec_load_with(ctx, NULL, &s, NULL, NULL, err) < 0)
                        return -1;
                berth_warn(&s->warnings, NULL, "berth.lock is stale (%s); run berth lock", text);
        }
        *ret = TAKE_PTR(s);
        return 0;
}

int cli_spec_load(struct cli_ctx *ctx, struct spec **ret, berth_error **err)
{
        _cleanup_free_ char *lock_path = cli_lock_path(ctx->spec_path);
        _cleanup_(spec_lock_freep) struct spec_lock *lock = NULL;
        _cleanup_error_ berth_error *e = NULL;
        int rc;
        if (spec_lock_read(lock_path, &lock, &e) < 0 && e->kind != BERTH_E_NOTFOUND)
                return *err = TAKE_PTR(e), -1;
        if (!lock && ctx->locked)
                return berth_error_make(err, BERTH_E_FAILED, 0, "--locked: %s is missing (run berth lock)", lock_path);
        if (lock)
                rc = load_locked(ctx, lock, ret, err);
        else
                rc = cli_spec_load_with(ctx, NULL, ret, NULL, NULL, err);
        return rc;
}
