#include "cli.h"

const char cmd_down_help[] =
        "Usage: berth down [-f SPEC] [--volumes]\n"
        "\n"
        "Stop the environment's services; --volumes also removes named volumes.\n";

int cmd_down(struct cli_ctx *ctx, int argc, char **argv)
{
        return cli_stub(ctx, argc, argv);
}
