/* Spec repositories from the command line: the repositories to resolve
 * extends from, and specs/'s hooks into images/ (which specs/ may not use). */
#include "cli.h"
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

static void add(struct spec_resolver *r, const char *url)
{
        struct spec_repo *v = (struct spec_repo *) r->repos;
        v = xrealloc(v, (r->n_repos + 1) * sizeof(*v));
        v[r->n_repos++] = (struct spec_repo){ .url = xstrdup(url) };
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

void cli_show_warnings(struct cli_ctx *ctx, char *const *warnings)
{
        if (ctx->verbosity < 0)
                return;
        for (size_t i = 0; warnings && warnings[i]; i++)
                fprintf(stderr, "berth: warning: %s\n", warnings[i]);
}

int cli_spec_load(struct cli_ctx *ctx, struct spec **ret, berth_error **err)
{
        struct spec_resolver r;
        cli_spec_resolver(ctx, &r);
        int rc = spec_load_resolved(ctx->spec_path, &r, ret, err);
        cli_spec_resolver_done(&r);
        if (rc == 0)
                cli_show_warnings(ctx, (*ret)->warnings);
        return rc;
}
