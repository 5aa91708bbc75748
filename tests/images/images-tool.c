/* Test-only driver for the images library: lets the integration tests and the
 * benchmarks call it before (and besides) the berth command line. */
#include <inttypes.h>

#include "images/images.h"
#include "images/private.h"

static int usage(void)
{
        fputs("usage: images-tool unpack ARCHIVE DIR | pull|fetch URL[#SHA256]... | stack DEST LAYER... | pack DIR OUT\n",
              stderr);
        return 2;
}

static void on_event(const struct images_event *ev, void *userdata)
{
        if (ev->kind == IMAGES_EV_DONE)
                printf("done %zu %s %s %s\n", ev->index, ev->cached ? "cached" : "fetched", ev->sha256, ev->layer_dir);
        else if (ev->kind == IMAGES_EV_RETRY)
                printf("retry %zu %" PRIu64 "ms %s\n", ev->index, ev->delay_ms, ev->reason);
        fflush(stdout);
}

static int do_pull(int argc, char **argv, bool unpack, berth_error **err)
{
        struct images_opts opts;
        if (images_opts_init(&opts, err) < 0)
                return -1;
        opts.progress = on_event;
        opts.owner = getenv("IMAGES_TOOL_OWNER");
        size_t n = (size_t) argc;
        struct image_ref *refs = xcalloc(n ? n : 1, sizeof(*refs));
        for (size_t i = 0; i < n; i++) {
                char *hash = strrchr(argv[i], '#');
                if (hash)
                        *hash++ = '\0';
                refs[i] = (struct image_ref) { argv[i], hash };
        }
        _cleanup_strv_ char **dirs = NULL;
        int rc = unpack ? images_pull(&opts, refs, n, &dirs, err) : images_fetch(&opts, refs, n, &dirs, err);
        free(refs);
        if (rc < 0)
                return -1;
        for (size_t i = 0; dirs[i]; i++)
                printf("%s %s\n", unpack ? "layer" : "blob", dirs[i]);
        return 0;
}

int main(int argc, char **argv)
{
        if (getenv("IMAGES_TOOL_DEBUG"))
                berth_log_set_level(BERTH_LOG_DEBUG);
        if (argc < 2)
                return usage();
        _cleanup_error_ berth_error *err = NULL;
        int rc;
        if (streq(argv[1], "unpack") && argc == 4) {
                struct images_opts opts;
                rc = images_opts_init(&opts, &err);
                if (rc == 0)
                        rc = images_unpack_file(argv[2], argv[3], &opts.limits, &err);
        } else if (streq(argv[1], "pull")) {
                rc = do_pull(argc - 2, argv + 2, true, &err);
        } else if (streq(argv[1], "fetch")) {
                rc = do_pull(argc - 2, argv + 2, false, &err);
        } else if (streq(argv[1], "stack") && argc >= 4) {
                rc = images_stack_copy(argv + 3, (size_t) (argc - 3), argv[2], &(struct images_stack_opts) { .link = true },
                                       &err);
        } else if (streq(argv[1], "pack") && argc == 4) {
                struct images_pack_result res;
                rc = images_pack(argv[2], argv[3], &res, &err);
                if (rc == 0)
                        printf("%s\n", res.sha256);
        } else {
                return usage();
        }
        if (rc < 0) {
                _cleanup_free_ char *text = berth_error_text(err);
                fprintf(stderr, "images-tool: %s\n", text);
                return err && err->kind == BERTH_E_DIGEST ? 3 : err && err->kind == BERTH_E_LIMIT ? 4 : 1;
        }
        return 0;
}
