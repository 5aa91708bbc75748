#include "cli.h"

const char cmd_shell_help[] =
        "Usage: berth shell [-f SPEC] [SERVICE]\n"
        "\n"
        "Open an interactive shell in the dev sandbox, or inside a service.\n";

int cmd_shell(struct cli_ctx *ctx, int argc, char **argv)
{
        return cli_stub(ctx, argc, argv);
}
