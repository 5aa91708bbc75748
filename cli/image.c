#include <getopt.h>
#include <inttypes.h>
#include <time.h>

#include "cli.h"
#include "images/images.h"

const char cmd_image_help[] =
        "Usage: berth image pack DIR -o FILE.tar.zst | ls | gc [--dry-run]\n"
        "\n"
        "Ops: work with images and the cache.\n"
        "  pack DIR -o FILE   write a reproducible .tar.zst of DIR (sorted entries, owners\n"
        "                     0:0, mtimes from SOURCE_DATE_EPOCH) and print its sha256;\n"
        "                     device nodes are left out (the sandbox makes its own /dev)\n"
        "  ls                 the cached OCI images (reference, platform, digest, size, last\n"
        "                     use), then the layers: digest, size, which specs use them, last use\n"
        "  gc [--dry-run]     remove layers no spec, lockfile or environment still uses\n";

/* Parse the common options plus --dry-run / -o; leaves positional args from optind. */
static int parse(struct cli_ctx *ctx, int argc, char **argv, bool *dry_run, const char **out)
{
        static const struct option opts[] = {
                CLI_COMMON_LONG,
                { "dry-run", no_argument, NULL, 'n' },
                { "output", required_argument, NULL, 'o' },
                {},
        };
        int c;
        optind = 0;
        /* Options may follow DIR: no leading "+", so getopt permutes. */
        while ((c = getopt_long(argc, argv, "f:qvhno:", opts, NULL)) != -1) {
                if (c == 'n' && dry_run)
                        *dry_run = true;
                else if (c == 'o' && out)
                        *out = optarg;
                else if (!cli_common_option(ctx, c, optarg))
                        return cli_usage_error(ctx, "unexpected option; see `berth image --help`");
        }
        return 0;
}

static json_t *pack_warnings(const struct images_pack_result *r)
{
        json_t *a = json_array();
        if (r->devices_skipped)
                json_array_append_new(a, json_sprintf("skipped %zu device node%s: the sandbox makes its own /dev",
                                                      r->devices_skipped, r->devices_skipped == 1 ? "" : "s"));
        if (r->binary_names)
                json_array_append_new(a, json_sprintf("%zu name%s not UTF-8: written as bytes (hdrcharset=BINARY)",
                                                      r->binary_names, r->binary_names == 1 ? " is" : "s are"));
        return a;
}

static int image_pack(struct cli_ctx *ctx, int argc, char **argv)
{
        const char *out = NULL;
        if (parse(ctx, argc, argv, NULL, &out) != 0)
                return EXIT_USAGE;
        if (optind + 1 != argc || !out)
                return cli_usage_error(ctx, "pack: expected DIR -o FILE.tar.zst");
        _cleanup_error_ berth_error *err = NULL;
        struct images_pack_result r;
        if (images_pack(argv[optind], out, &r, &err) < 0)
                return cli_report(ctx, err);
        json_t *warnings = pack_warnings(&r);
        if (ctx->json) {
                cli_print_json(json_pack("{s:s,s:s,s:o}", "file", out, "sha256", r.sha256, "warnings", warnings));
                return EXIT_OK;
        }
        size_t i;
        json_t *w;
        if (ctx->verbosity >= 0)
                json_array_foreach(warnings, i, w)
                        fprintf(stderr, "berth: warning: %s\n", json_string_value(w));
        json_decref(warnings);
        printf("%s\n", r.sha256);
        return EXIT_OK;
}

static json_t *entry_json(const struct images_entry *e)
{
        json_t *owners = json_array();
        for (char **o = e->owners; o && *o; o++)
                json_array_append_new(owners, json_string(*o));
        return json_pack("{s:s,s:s,s:I,s:I,s:I,s:o}", "type", "layer", "sha256", e->sha256, "blob_size", (json_int_t) e->blob_size,
                         "layer_size", (json_int_t) e->layer_size, "last_used", (json_int_t) e->last_used, "used_by",
                         owners);
}

static json_t *oci_json(const struct images_oci_entry *e)
{
        return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:b}", "type", "image", "reference", e->reference,
                         "platform", e->platform, "digest", e->top_digest, "manifest_digest", e->manifest_digest,
                         "layers", (json_int_t) e->n_layers, "size", (json_int_t) e->size, "last_used",
                         (json_int_t) e->last_used, "complete", e->complete);
}

static void format_time(int64_t when, char *out, size_t n)
{
        time_t t = (time_t) when;
        struct tm tm;
        snprintf(out, n, "-");
        if (t && localtime_r(&t, &tm))
                strftime(out, n, "%Y-%m-%d %H:%M", &tm);
}

/* The digest shown is the one to pin: what the reference names. */
static void print_oci(const struct images_oci_entry *e)
{
        char size[32], when[32];
        cli_human_size(e->size, size, sizeof(size));
        format_time(e->last_used, when, sizeof(when));
        printf("%-40s %-14s %-14.12s %6zu %11s  %s%s\n", e->reference, e->platform, e->top_digest + 7, e->n_layers,
               size, when, e->complete ? "" : "  (incomplete: run berth pull)");
}

static void print_entry(const struct images_entry *e)
{
        char blob[32], layer[32], when[32];
        cli_human_size(e->blob_size, blob, sizeof(blob));
        cli_human_size(e->layer_size, layer, sizeof(layer));
        format_time(e->last_used, when, sizeof(when));
        printf("%-14.12s %10s %10s  %-16s ", e->sha256, blob, layer, when);
        if (!e->owners || !e->owners[0])
                printf("-");
        for (char **o = e->owners; o && *o; o++)
                printf("%s%s", o == e->owners ? "" : ", ", *o);
        printf("\n");
}

static int image_ls(struct cli_ctx *ctx, int argc, char **argv)
{
        if (parse(ctx, argc, argv, NULL, NULL) != 0)
                return EXIT_USAGE;
        if (optind != argc)
                return cli_usage_error(ctx, "ls: unexpected argument `%s`", argv[optind]);
        _cleanup_error_ berth_error *err = NULL;
        struct images_entry *v = NULL;
        struct images_oci_entry *ov = NULL;
        size_t n = 0, on = 0;
        if (images_oci_list(NULL, &ov, &on, &err) < 0 || images_list(NULL, &v, &n, &err) < 0) {
                images_oci_entries_free(ov, on);
                return cli_report(ctx, err);
        }
        if (ctx->json) {
                json_t *a = json_array();
                for (size_t i = 0; i < on; i++)
                        json_array_append_new(a, oci_json(&ov[i]));
                for (size_t i = 0; i < n; i++)
                        json_array_append_new(a, entry_json(&v[i]));
                cli_print_json(a);
        } else {
                if (on)
                        printf("%-40s %-14s %-14s %6s %11s  %s\n", "IMAGE", "PLATFORM", "DIGEST", "LAYERS", "SIZE",
                               "LAST USED");
                for (size_t i = 0; i < on; i++)
                        print_oci(&ov[i]);
                if (on)
                        printf("\n");
                printf("%-14s %10s %10s  %-16s %s\n", "DIGEST", "ARCHIVE", "UNPACKED", "LAST USED", "USED BY");
                for (size_t i = 0; i < n; i++)
                        print_entry(&v[i]);
        }
        images_entries_free(v, n);
        images_oci_entries_free(ov, on);
        return EXIT_OK;
}

static int image_gc(struct cli_ctx *ctx, int argc, char **argv)
{
        bool dry_run = false;
        if (parse(ctx, argc, argv, &dry_run, NULL) != 0)
                return EXIT_USAGE;
        if (optind != argc)
                return cli_usage_error(ctx, "gc: unexpected argument `%s`", argv[optind]);
        _cleanup_error_ berth_error *err = NULL;
        struct images_gc_result r = {};
        if (images_gc(NULL, NULL, dry_run, &r, &err) < 0)
                return cli_report(ctx, err);
        char freed[32];
        cli_human_size(r.bytes_freed, freed, sizeof(freed));
        if (ctx->json) {
                json_t *a = json_array();
                for (size_t i = 0; i < r.n_removed; i++)
                        json_array_append_new(a, json_string(r.removed[i]));
                cli_print_json(json_pack("{s:b,s:o,s:I}", "dry_run", dry_run, "removed", a, "bytes_freed",
                                         (json_int_t) r.bytes_freed));
        } else if (ctx->verbosity >= 0) {
                for (size_t i = 0; i < r.n_removed; i++)
                        printf("%s %s\n", dry_run ? "would remove" : "removed", r.removed[i]);
                printf("%s %zu layer%s, %s\n", dry_run ? "would free" : "freed", r.n_removed,
                       r.n_removed == 1 ? "" : "s", freed);
        }
        images_gc_result_done(&r);
        return EXIT_OK;
}

int cmd_image(struct cli_ctx *ctx, int argc, char **argv)
{
        if (argc >= 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"))) {
                fputs(cmd_image_help, stdout);
                return EXIT_OK;
        }
        if (argc < 2 || argv[1][0] == '-')
                return cli_usage_error(ctx, "expected pack, ls or gc; see `berth image --help`");
        const char *sub = argv[1];
        if (streq(sub, "pack"))
                return image_pack(ctx, argc - 1, argv + 1);
        if (streq(sub, "ls"))
                return image_ls(ctx, argc - 1, argv + 1);
        if (streq(sub, "gc"))
                return image_gc(ctx, argc - 1, argv + 1);
        return cli_usage_error(ctx, "unknown subcommand `%s`; expected pack, ls or gc", sub);
}
