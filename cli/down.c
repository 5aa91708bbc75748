#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "envs/envs.h"

const char cmd_down_help[] =
        "Usage: berth down [-f SPEC] [--volumes]\n"
        "\n"
        "Stop the environment's services (reverse dependency order: SIGTERM,\n"
        "stop_timeout, SIGKILL) and its supervisor, kill what is left in the\n"
        "environment's cgroup and remove it. As root, also unmount the\n"
        "environment's root, which stays mounted between runs while it is up.\n"
        "The writable layer stays; --volumes also removes the named volumes\n"
        "(refused, removing none, while a process has one bound).\n";

int cmd_down(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = { CLI_COMMON_LONG, { "volumes", no_argument, NULL, 'V' }, {} };
        bool volumes = false;
        int c;
        while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
                if (c == 'V')
                        volumes = true;
                else
                        cli_common_option(ctx, c, optarg);
        }
        if (optind < argc)
                return cli_usage_error(ctx, "unexpected argument `%s`; the spec is given with -f", argv[optind]);
        _cleanup_spec_ struct spec *s = NULL;
        _cleanup_error_ berth_error *err = NULL;
        int st;
        if (cli_load_spec(ctx, &s, &st) < 0)
                return st;
        struct envs_down_result r;
        bool was_up;
        if (envs_services_down(s, &was_up, &err) < 0 || envs_down(s, volumes, &r, &err) < 0)
                return cli_report(ctx, err);
        if (ctx->json)
                cli_print_json(json_pack("{s:b, s:b, s:b}", "services_stopped", was_up, "root_unmounted",
                                         r.root_released, "volumes_removed", r.volumes_removed));
        else if (ctx->verbosity > 0)
                fprintf(stderr, "berth: %s: %s%s\n", s->name, r.root_released ? "root unmounted" : "nothing mounted",
                        r.volumes_removed ? ", volumes removed" : "");
        return EXIT_OK;
}
