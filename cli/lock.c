#include <fcntl.h>
#include <getopt.h>

#include "cli.h"
#include "images/images.h"
#include "images/sign.h"
#include "envs/envs.h"

const char cmd_lock_help[] =
        "Usage: berth lock [-f SPEC] [--update] [--repo DIR|URL]...\n"
        "\n"
        "Write berth.lock beside the spec: every base spec it extends (name,\n"
        "version, repository, digest), every layer's URL and sha256, and the\n"
        "digest of the spec itself; an OCI reference's digest, or the one its tag\n"
        "resolves to now. pull, run, up and verify then resolve\n"
        "exactly what it pins, without asking a repository; with --locked they\n"
        "fail when it is missing or stale. An existing lock keeps its pins\n"
        "while they still fit; --update resolves the ranges again.\n";

/* An OCI reference is pinned to what it names: its own digest, else the
 * digest its tag resolves to now (pulled, so the cache holds it too). */
static int pin_oci(const struct images_opts *opts, struct spec_layer *l, berth_error **err)
{
        const char *at = strstr(l->oci, "@sha256:");
        if (at) {
                l->sha256 = xstrdup(at + 8);
                return 0;
        }
        struct images_oci_image im = {};
        if (envs_pull_image(opts, l, true, &im, err) < 0)
                return -1;
        l->sha256 = xstrdup(im.top_digest + 7);
        images_oci_image_done(&im);
        return 0;
}

/* Local layers and archives without a digest get one: the cache computes
 * and keeps it. OCI references get theirs from the registry. */
static int digest_local_layers(struct spec *s, berth_error **err)
{
        size_t total = s->n_image, n = 0;
        for (size_t k = 0; k < s->n_services; k++)
                total += s->services[k].n_image;
        _cleanup_free_ struct image_ref *refs = xcalloc(total + 1, sizeof(*refs));
        _cleanup_free_ struct spec_layer **which = xcalloc(total + 1, sizeof(*which));
        struct images_opts opts;
        if (images_opts_init(&opts, err) < 0)
                return -1;
        for (size_t k = 0; k <= s->n_services; k++) {
                struct spec_layer *ls = k == 0 ? s->image : s->services[k - 1].image;
                size_t nl = k == 0 ? s->n_image : s->services[k - 1].n_image;
                for (size_t i = 0; i < nl; i++) {
                        const char *src = ls[i].url ? ls[i].url : ls[i].oci_archive ? ls[i].oci_archive
                                                                                    : ls[i].docker_archive;
                        if (ls[i].sha256)
                                continue;
                        if (ls[i].oci && pin_oci(&opts, &ls[i], err) < 0)
                                return -1;
                        if (!ls[i].oci) {
                                which[n] = &ls[i];
                                refs[n++] = (struct image_ref){ src, NULL };
                        }
                }
        }
        if (n == 0)
                return 0;
        _cleanup_strv_ char **blobs = NULL;
        if (images_fetch(&opts, refs, n, &blobs, err) < 0)
                return -1;
        for (size_t i = 0; i < n; i++)
                which[i]->sha256 = xstrdup(strrchr(blobs[i], '/') + 1);
        return 0;
}

static int write_lock(struct cli_ctx *ctx, struct spec *s, const char *buf, size_t len, berth_error **err)
{
        char hex[65];
        if (images_sha256_hex(buf, len, hex, err) < 0 || digest_local_layers(s, err) < 0)
                return -1;
        _cleanup_free_ char *text = spec_lock_dump(s, hex), *path = cli_lock_path(ctx->spec_path);
        return write_file_atomic(AT_FDCWD, path, text, strlen(text), 0644, err);
}

/* A tag keeps the digest the lock pinned it to until --update. */
static void keep_oci_pins(const struct spec_lock *lock, struct spec *s)
{
        for (size_t k = 0; k <= s->n_services; k++) {
                struct spec_layer *ls = k == 0 ? s->image : s->services[k - 1].image;
                size_t nl = k == 0 ? s->n_image : s->services[k - 1].n_image;
                for (size_t i = 0; i < nl; i++) {
                        if (!ls[i].oci || ls[i].sha256)
                                continue;
                        _cleanup_free_ char *where = k == 0 ? xasprintf("image[%zu]", i)
                                                            : xasprintf("services.%s.image[%zu]", s->services[k - 1].name, i);
                        _cleanup_free_ char *src = xasprintf("oci:%s", ls[i].oci);
                        for (size_t j = 0; j < lock->n_layers; j++)
                                if (streq(lock->layers[j].where, where) && streq(lock->layers[j].url, src))
                                        ls[i].sha256 = xstrdup(lock->layers[j].sha256);
                }
        }
}

/* Keep the pins that still fit; resolve afresh when they do not. */
static int resolve(struct cli_ctx *ctx, bool update, struct spec **ret, char **ret_buf, size_t *ret_len,
                   berth_error **err)
{
        _cleanup_free_ char *path = cli_lock_path(ctx->spec_path);
        _cleanup_(spec_lock_freep) struct spec_lock *lock = NULL;
        if (!update && spec_lock_read(path, &lock, NULL) < 0)
                lock = NULL;
        if (lock) {
                _cleanup_spec_ struct spec *s = NULL;
                if (cli_spec_load_with(ctx, lock, &s, ret_buf, ret_len, NULL) == 0 && s->n_bases == lock->n_bases) {
                        bool same = true;
                        for (size_t i = 0; i < s->n_bases; i++)
                                same = same && streq(s->bases[i].sha256, lock->bases[i].sha256);
                        if (same) {
                                keep_oci_pins(lock, s);
                                *ret = TAKE_PTR(s);
                                return 0;
                        }
                        free(*ret_buf);
                }
        }
        return cli_spec_load_with(ctx, NULL, ret, ret_buf, ret_len, err);
}

int cmd_lock(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = { CLI_COMMON_LONG, { "update", no_argument, NULL, 'U' }, {} };
        bool update = false;
        int c;
        while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
                if (c == 'U')
                        update = true;
                else if (!cli_common_option(ctx, c, optarg))
                        return cli_usage_error(ctx, "unexpected option; see `berth lock --help`");
        }
        if (optind < argc)
                return cli_usage_error(ctx, "unexpected argument `%s`; the spec is given with -f", argv[optind]);
        _cleanup_error_ berth_error *err = NULL;
        _cleanup_spec_ struct spec *s = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t len;
        if (resolve(ctx, update, &s, &buf, &len, &err) < 0 || write_lock(ctx, s, buf, len, &err) < 0) {
                if (err->kind == BERTH_E_LIMIT)
                        err->kind = BERTH_E_INVALID;
                return cli_report(ctx, err);
        }
        berth_warnings_move(&ctx->warnings, &s->warnings);
        _cleanup_free_ char *path = cli_lock_path(ctx->spec_path);
        if (ctx->json)
                cli_print_json(json_pack("{s:s,s:i}", "lockfile", path, "bases", (int) s->n_bases));
        else if (ctx->verbosity >= 0)
                printf("wrote %s (%zu base%s)\n", path, s->n_bases, s->n_bases == 1 ? "" : "s");
        return EXIT_OK;
}
