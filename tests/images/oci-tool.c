/* Test-only driver for the OCI parts of images/: resolve a reference against
 * a registry and print what it found, one fact a line, or the error. */
#include <inttypes.h>

#include "images/oci.h"

static void print_argv(const char *key, char **v)
{
        printf("%s", key);
        for (size_t i = 0; v && v[i]; i++)
                printf(" %s", v[i]);
        printf("\n");
}

static int resolve(const char *text, const char *platform, berth_error **err)
{
        struct images_opts opts;
        _cleanup_(oci_ref_donep) struct oci_ref ref = {};
        struct oci_platform want;
        if (images_opts_init(&opts, err) < 0 || oci_ref_parse(text, &ref, err) < 0)
                return -1;
        if (platform ? oci_platform_parse(platform, &want, err) < 0 : (oci_platform_host(&want), 0))
                return -1;
        _cleanup_(registry_closep) struct registry r = {};
        _cleanup_(oci_image_donep) struct oci_image im = {};
        if (registry_open(&ref, &opts, &r, err) < 0 || registry_resolve(&r, &want, &im, err) < 0)
                return -1;
        printf("manifest sha256:%s %s\n", im.manifest_hex, im.manifest.media_type);
        printf("config sha256:%s %s/%s\n", im.manifest.config.hex, im.config.os, im.config.arch);
        for (size_t i = 0; i < im.manifest.n_items; i++)
                printf("layer sha256:%s %" PRIu64 " %s\n", im.manifest.items[i].hex, im.manifest.items[i].size,
                       im.manifest.items[i].media_type);
        print_argv("env", im.config.env);
        print_argv("entrypoint", im.config.entrypoint);
        print_argv("cmd", im.config.cmd);
        printf("workdir %s\nuser %s\n", im.config.workdir ? im.config.workdir : "", im.config.user ? im.config.user : "");
        return 0;
}

int main(int argc, char **argv)
{
        if (argc < 3 || !streq(argv[1], "resolve")) {
                fputs("usage: oci-tool resolve REF [PLATFORM]\n", stderr);
                return 2;
        }
        _cleanup_error_ berth_error *err = NULL;
        if (resolve(argv[2], argc > 3 ? argv[3] : NULL, &err) < 0) {
                _cleanup_free_ char *t = berth_error_text(err);
                fprintf(stderr, "oci-tool: %s\n", t);
                return 1;
        }
        return 0;
}
