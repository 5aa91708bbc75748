#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "envs/envs.h"
#include "specs/specs.h"

const char cmd_shell_help[] =
        "Usage: berth shell [-f SPEC] [--ephemeral] [SERVICE]\n"
        "\n"
        "Open an interactive shell in the dev sandbox, or inside a service.\n"
        "On a terminal it gets a pty of its own that follows window resizes.\n";

int cmd_shell(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = { CLI_COMMON_LONG, { "ephemeral", no_argument, NULL, 'E' }, {} };
        /* A login bash where the image has one, else sh. */
        static char *const shell[] = { "/bin/sh", "-c", "command -v bash >/dev/null && exec bash -l; exec sh -l",
                                       NULL };
        struct envs_run_opts o = { .argv = shell, .tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) };
        int c;
        ctx->usage_status = EXIT_BERTH;
        while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
                if (c == 'E')
                        o.ephemeral = true;
                else
                        cli_common_option(ctx, c, optarg);
        }
        if (optind < argc) {
                _cleanup_error_ berth_error *e = NULL;
                berth_error_make(&e, BERTH_E_NOTIMPL, 0, "shell %s: services are not built yet", argv[optind]);
                return cli_report(ctx, e);
        }
        _cleanup_spec_ struct spec *s = NULL;
        _cleanup_error_ berth_error *err = NULL;
        int st;
        if (cli_load_spec(ctx, &s, &st) < 0)
                return EXIT_BERTH;
        cli_warn_limits(ctx, s);
        int status;
        if (envs_run(s, &o, &status, &err) < 0)
                return cli_run_status(ctx, err);
        return status;
}
