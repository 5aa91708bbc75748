#include "cli.h"

const char cmd_ps_help[] =
        "Usage: berth ps [-f SPEC]\n"
        "\n"
        "List the environment's services and their state.\n";

int cmd_ps(struct cli_ctx *ctx, int argc, char **argv)
{
        return cli_stub(ctx, argc, argv);
}
