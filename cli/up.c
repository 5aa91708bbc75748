#include "cli.h"

const char cmd_up_help[] =
        "Usage: berth up [-f SPEC]\n"
        "\n"
        "Start the environment's services.\n";

int cmd_up(struct cli_ctx *ctx, int argc, char **argv)
{
        return cli_stub(ctx, argc, argv);
}
