#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "envs/envs.h"
#include "specs/specs.h"

const char cmd_shell_help[] =
        "Usage: berth shell [-f SPEC] [--ephemeral] [SERVICE]\n"
        "\n"
        "Open an interactive shell in the dev sandbox, or inside a running\n"
        "service. In the dev sandbox, on a terminal, it gets a pty of its own\n"
        "that follows window resizes; in a service it uses the terminal as it is.\n";

/* In a running service, as `exec` runs a command there. */
static int shell_in_service(struct cli_ctx *ctx, const char *svc, char *const *shell)
{
        _cleanup_spec_ struct spec *s = NULL;
        _cleanup_error_ berth_error *err = NULL;
        int st;
        if (cli_load_spec(ctx, &s, &st) < 0)
                return EXIT_BERTH;
        if (envs_exec(s, svc, shell, &st, &err) < 0)
                return err->kind == BERTH_E_FAILED && strstr(err->msg, " is not running (state: ")
                               ? (cli_report(ctx, err), EXIT_FAIL)
                               : cli_run_status(ctx, err);
        return st;
}

int cmd_shell(struct cli_ctx *ctx, int argc, char **argv)
{
        /* A login bash where the image has one, else sh. */
        static char *const shell[] = { "/bin/sh", "-c", "command -v bash >/dev/null && exec bash -l; exec sh -l",
                                       NULL };
        struct envs_run_opts o = { .argv = shell, .tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) };
        cli_parse_run_options(ctx, argc, argv, &o);
        if (optind < argc)
                return shell_in_service(ctx, argv[optind], shell);
        return cli_run_dev_sandbox(ctx, &o);
}
