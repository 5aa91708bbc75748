#include <getopt.h>

#include "cli.h"
#include "envs/envs.h"

const char cmd_exec_help[] =
        "Usage: berth exec [-f SPEC] SERVICE [--] CMD [ARG...]\n"
        "\n"
        "Run CMD inside a running service (its namespaces, root, user,\n"
        "capabilities and seccomp filter) and exit with its status.\n"
        "\n"
        "Exit status: the command's own; 1 if the service is not running; 125 if\n"
        "berth failed before the command ran; 126/127 not executable/not found.\n";

int cmd_exec(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = { CLI_COMMON_LONG, {} };
        int c;
        ctx->usage_status = EXIT_BERTH;
        while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1)
                cli_common_option(ctx, c, optarg);
        if (optind >= argc)
                return cli_usage_error(ctx, "no service given: berth exec SERVICE -- CMD [ARG...]");
        const char *svc = argv[optind++];
        if (optind < argc && streq(argv[optind], "--"))
                optind++;
        if (optind >= argc)
                return cli_usage_error(ctx, "no command given: berth exec SERVICE -- CMD [ARG...]");
        _cleanup_spec_ struct spec *s = NULL;
        _cleanup_error_ berth_error *err = NULL;
        int st;
        if (cli_load_spec(ctx, &s, &st) < 0)
                return EXIT_BERTH;
        if (envs_exec(s, svc, argv + optind, &st, &err) < 0) {
                if (err->kind == BERTH_E_FAILED && strstr(err->msg, " is not running (state: ")) {
                        cli_report(ctx, err);
                        return EXIT_FAIL;
                }
                return cli_run_status(ctx, err);
        }
        return st;
}
