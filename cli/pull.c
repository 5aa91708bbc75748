#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <time.h>

#include "cli.h"
#include "envs/envs.h"
#include "images/images.h"
#include "specs/specs.h"

const char cmd_pull_help[] =
        "Usage: berth pull [-f SPEC]\n"
        "\n"
        "Fetch, verify and unpack every layer the spec needs (the environment's\n"
        "image and its services' images) into the cache. On a terminal, shows each\n"
        "layer's progress; otherwise prints one line per finished layer; with\n"
        "--json, one event per line. Limits: see docs/IMAGES.md (BERTH_IMAGE_*).\n";

struct layer_view {
        const char *url;
        char sha[65];
        uint64_t bytes, total, elapsed_ms;
        const char *state;      /* "waiting", "fetching", "retrying", "unpacking", "cached", "done" */
};

struct pull_view {
        struct cli_ctx *ctx;
        bool tty;
        size_t n;
        struct layer_view *layers;
        size_t drawn;           /* lines on screen from the last redraw */
        uint64_t fetched_bytes; /* for the summary */
};

static const char *short_name(const char *url)
{
        const char *slash = strrchr(url, '/');
        return slash && slash[1] ? slash + 1 : url;
}

/* "12.0 MiB / 40.0 MiB  31.2 MiB/s  ETA 1s" */
static void progress_text(const struct layer_view *l, char *out, size_t n)
{
        char done[32], total[32], rate[32];
        cli_human_size(l->bytes, done, sizeof(done));
        double secs = (double) l->elapsed_ms / 1000.0;
        double bps = secs > 0 ? (double) l->bytes / secs : 0;
        cli_human_size((uint64_t) bps, rate, sizeof(rate));
        if (l->total && bps > 0) {
                cli_human_size(l->total, total, sizeof(total));
                double eta = (double) (l->total > l->bytes ? l->total - l->bytes : 0) / bps;
                snprintf(out, n, "%s / %s  %s/s  ETA %.0fs", done, total, rate, eta);
        } else {
                snprintf(out, n, "%s  %s/s", done, rate);
        }
}

static void redraw(struct pull_view *v)
{
        if (v->drawn)
                fprintf(stderr, "\033[%zuA", v->drawn);
        for (size_t i = 0; i < v->n; i++) {
                const struct layer_view *l = &v->layers[i];
                char text[128] = "";
                if (streq(l->state, "fetching"))
                        progress_text(l, text, sizeof(text));
                fprintf(stderr, "\033[K%zu/%zu %-28.28s %-10s %s\n", i + 1, v->n, short_name(l->url), l->state, text);
        }
        v->drawn = v->n;
        fflush(stderr);
}

static void emit_json(const struct images_event *ev)
{
        static const char *const kinds[] = { "start", "progress", "retry", "unpack", "done" };
        json_t *o = json_pack("{s:s,s:I,s:s}", "event", kinds[ev->kind], "layer", (json_int_t) ev->index + 1, "url",
                              ev->url);
        if (ev->sha256)
                json_object_set_new(o, "sha256", json_string(ev->sha256));
        if (ev->kind == IMAGES_EV_PROGRESS) {
                json_object_set_new(o, "bytes", json_integer((json_int_t) ev->bytes));
                json_object_set_new(o, "total", json_integer((json_int_t) ev->total));
                json_object_set_new(o, "elapsed_ms", json_integer((json_int_t) ev->elapsed_ms));
        } else if (ev->kind == IMAGES_EV_RETRY) {
                json_object_set_new(o, "delay_ms", json_integer((json_int_t) ev->delay_ms));
                json_object_set_new(o, "reason", json_string(ev->reason ? ev->reason : ""));
        } else if (ev->kind == IMAGES_EV_DONE) {
                json_object_set_new(o, "cached", json_boolean(ev->cached));
                json_object_set_new(o, "layer_dir", json_string(ev->layer_dir));
        }
        cli_print_json(o);
        fflush(stdout);
}

static void print_done_line(const struct layer_view *l, size_t i, size_t n)
{
        char size[32];
        cli_human_size(l->bytes, size, sizeof(size));
        if (streq(l->state, "cached") || l->bytes == 0)
                /* cached, or its archive was: only unpacked */
                printf("layer %zu/%zu %.12s %s  %s\n", i + 1, n, l->sha, streq(l->state, "cached") ? "cached" : "ready",
                       l->url);
        else
                printf("layer %zu/%zu %.12s %s in %.1fs  %s\n", i + 1, n, l->sha, size, (double) l->elapsed_ms / 1000.0,
                       l->url);
        fflush(stdout);
}

static void update(struct layer_view *l, const struct images_event *ev)
{
        if (ev->sha256)
                snprintf(l->sha, sizeof(l->sha), "%s", ev->sha256);
        switch (ev->kind) {
        case IMAGES_EV_START: l->state = "fetching"; break;
        case IMAGES_EV_PROGRESS:
                l->state = "fetching";
                l->bytes = ev->bytes;
                l->total = ev->total;
                l->elapsed_ms = ev->elapsed_ms;
                break;
        case IMAGES_EV_RETRY: l->state = "retrying"; break;
        case IMAGES_EV_UNPACK: l->state = "unpacking"; break;
        case IMAGES_EV_DONE: l->state = ev->cached ? "cached" : "done"; break;
        }
}

static void on_event(const struct images_event *ev, void *userdata)
{
        struct pull_view *v = userdata;
        if (v->ctx->json) {
                emit_json(ev);
                return;
        }
        if (ev->index >= v->n)
                return;
        struct layer_view *l = &v->layers[ev->index];
        update(l, ev);
        if (v->ctx->verbosity < 0)
                return;
        if (v->tty)
                redraw(v);
        else if (ev->kind == IMAGES_EV_DONE)
                print_done_line(l, ev->index, v->n);
        else if (ev->kind == IMAGES_EV_RETRY && v->ctx->verbosity > 0)
                fprintf(stderr, "layer %zu/%zu: %s; retrying in %" PRIu64 " ms\n", ev->index + 1, v->n, ev->reason,
                        ev->delay_ms);
}

/* The environment's layers, then each service's own, without repeats. */
static struct image_ref *collect_refs(const struct spec *s, size_t *ret_n)
{
        size_t cap = s->n_image;
        for (size_t i = 0; i < s->n_services; i++)
                cap += s->services[i].n_image;
        struct image_ref *refs = xcalloc(cap ? cap : 1, sizeof(*refs));
        size_t n = 0;
        for (size_t i = 0; i <= s->n_services; i++) {
                const struct spec_layer *ls = i == 0 ? s->image : s->services[i - 1].image;
                size_t nl = i == 0 ? s->n_image : s->services[i - 1].n_image;
                for (size_t j = 0; j < nl; j++) {
                        bool seen = !ls[j].url; /* OCI images: pull_oci() */
                        for (size_t k = 0; k < n && !seen; k++)
                                seen = streq(refs[k].url, ls[j].url) && streq_ptr(refs[k].sha256, ls[j].sha256);
                        if (!seen)
                                refs[n++] = (struct image_ref) { ls[j].url, ls[j].sha256 };
                }
        }
        *ret_n = n;
        return refs;
}

static int pull_refs(struct cli_ctx *ctx, const struct image_ref *refs, size_t n, const char *owner,
                     char ***ret_dirs)
{
        _cleanup_error_ berth_error *err = NULL;
        struct images_opts opts;
        if (images_opts_init(&opts, &err) < 0)
                return cli_report(ctx, err);
        _cleanup_free_ struct layer_view *layers = xcalloc(n ? n : 1, sizeof(*layers));
        for (size_t i = 0; i < n; i++)
                layers[i] = (struct layer_view) { .url = refs[i].url, .state = "waiting" };
        struct pull_view v = { .ctx = ctx, .tty = isatty(STDERR_FILENO) && !ctx->json, .n = n, .layers = layers };
        opts.progress = on_event;
        opts.userdata = &v;
        opts.owner = owner;
        _cleanup_strv_ char **dirs = NULL;
        if (images_pull(&opts, refs, n, &dirs, &err) < 0) {
                berth_error_wrap(&err, "pull");
                return cli_report(ctx, err);
        }
        *ret_dirs = TAKE_PTR(dirs);
        return EXIT_OK;
}

static void add_digest(char ***v, size_t *n, const char *path_or_digest)
{
        const char *slash = strrchr(path_or_digest, '/'), *colon = strrchr(path_or_digest, ':');
        *v = xrealloc(*v, (*n + 2) * sizeof(char *));
        (*v)[(*n)++] = xstrdup(slash ? slash + 1 : colon ? colon + 1 : path_or_digest);
        (*v)[*n] = NULL;
}

/* gc keeps what the spec names: its archives' layers and each OCI image's
 * layers, manifest and config, recorded as one list for the spec. */
static int record_owner(struct cli_ctx *ctx, const char *owner, char **dirs, const struct images_oci_image *ims,
                        size_t n_ims)
{
        _cleanup_error_ berth_error *err = NULL;
        _cleanup_strv_ char **digests = xcalloc(1, sizeof(char *));
        size_t n = 0;
        for (size_t i = 0; dirs && dirs[i]; i++)
                add_digest(&digests, &n, dirs[i]);
        for (size_t i = 0; i < n_ims; i++) {
                for (size_t j = 0; j < ims[i].n_layers; j++)
                        add_digest(&digests, &n, ims[i].layer_dirs[j]);
                add_digest(&digests, &n, ims[i].manifest_digest);
                add_digest(&digests, &n, ims[i].config_digest);
        }
        if (owner && n_ims && images_refs_set(NULL, owner, digests, n, &err) < 0)
                return cli_report(ctx, err);
        return EXIT_OK;
}

static void report_oci(struct cli_ctx *ctx, const struct spec_layer *l, const struct images_oci_image *im)
{
        bool pinned = !l->oci || strchr(l->oci, '@') != NULL || l->sha256; /* sha256: berth.lock's */
        if (ctx->json) {
                cli_print_json(json_pack("{s:s,s:s,s:s,s:I,s:b}", "event", "image", "reference", im->reference,
                                         "digest", im->manifest_digest, "layers", (json_int_t) im->n_layers,
                                         "pinned", pinned));
        } else {
                printf("image %s %.19s %zu layer%s\n", im->reference, im->manifest_digest, im->n_layers,
                       im->n_layers == 1 ? "" : "s");
        }
        fflush(stdout);
        if (!pinned)
                berth_warn_at(&ctx->warnings, l->pos.file, l->pos.line, l->pos.col, "oci",
                              "%s is not pinned by a digest (berth lock pins it); it resolved to %s", im->reference,
                              im->top_digest);
}

/* Each OCI image or archive of the environment and its services; a tag is
 * asked of the registry again. */
static int pull_oci(struct cli_ctx *ctx, const struct spec *s, const char *owner, char **dirs)
{
        _cleanup_error_ berth_error *err = NULL;
        struct images_opts opts;
        struct images_oci_image *ims = NULL;
        size_t n_ims = 0;
        int status = EXIT_OK;
        if (images_opts_init(&opts, &err) < 0)
                return cli_report(ctx, err);
        for (size_t i = 0; i <= s->n_services; i++) {
                const struct spec_layer *ls = i == 0 ? s->image : s->services[i - 1].image;
                size_t nl = i == 0 ? s->n_image : s->services[i - 1].n_image;
                for (size_t j = 0; j < nl && status == EXIT_OK; j++) {
                        struct images_oci_image im = {};
                        if (ls[j].url)
                                continue;
                        if (envs_pull_image(&opts, &ls[j], true, &im, &err) < 0) {
                                berth_error_wrap(&err, "pull");
                                status = cli_report(ctx, err);
                                break;
                        }
                        report_oci(ctx, &ls[j], &im);
                        ims = xrealloc(ims, (n_ims + 1) * sizeof(*ims));
                        ims[n_ims++] = im;
                }
        }
        if (status == EXIT_OK)
                status = record_owner(ctx, owner, dirs, ims, n_ims);
        for (size_t i = 0; i < n_ims; i++)
                images_oci_image_done(&ims[i]);
        free(ims);
        return status;
}

int cmd_pull(struct cli_ctx *ctx, int argc, char **argv)
{
        int status = cli_parse_common_only(ctx, argc, argv);
        if (status)
                return status;
        _cleanup_spec_ struct spec *s = NULL;
        if (cli_load_spec(ctx, &s, &status) < 0)
                return status;
        berth_warnings_move(&ctx->warnings, &s->warnings);
        size_t n = 0;
        _cleanup_free_ struct image_ref *refs = collect_refs(s, &n);
        char buf[PATH_MAX];
        const char *owner = realpath(s->path, buf) ? buf : NULL;
        _cleanup_strv_ char **dirs = NULL;
        status = n ? pull_refs(ctx, refs, n, owner, &dirs) : EXIT_OK;
        return status ? status : pull_oci(ctx, s, owner, dirs);
}
