#include "cli.h"

const char cmd_lock_help[] =
        "Usage: berth lock [-f SPEC]\n"
        "\n"
        "Pin every layer's digest into berth.lock.\n";

int cmd_lock(struct cli_ctx *ctx, int argc, char **argv)
{
        return cli_stub(ctx, argc, argv);
}
