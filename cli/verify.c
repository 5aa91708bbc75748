#include "cli.h"

const char cmd_verify_help[] =
        "Usage: berth verify [-f SPEC]\n"
        "\n"
        "Check a running environment against its spec.\n";

int cmd_verify(struct cli_ctx *ctx, int argc, char **argv)
{
        return cli_stub(ctx, argc, argv);
}
