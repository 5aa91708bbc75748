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
        /* A login bash where the image has one, else sh. */
        static char *const shell[] = { "/bin/sh", "-c", "command -v bash >/dev/null && exec bash -l; exec sh -l",
                                       NULL };
        struct envs_run_opts o = { .argv = shell, .tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) };
        cli_parse_run_options(ctx, argc, argv, &o);
        if (optind < argc) {
                _cleanup_error_ berth_error *e = NULL;
                berth_error_make(&e, BERTH_E_NOTIMPL, 0, "shell %s: services are not built yet", argv[optind]);
                return cli_report(ctx, e);
        }
        return cli_run_dev_sandbox(ctx, &o);
}
