#include "cli.h"

const char cmd_exec_help[] =
        "Usage: berth exec [-f SPEC] SERVICE -- CMD [ARG...]\n"
        "\n"
        "Run CMD inside a running service.\n";

int cmd_exec(struct cli_ctx *ctx, int argc, char **argv)
{
        return cli_stub(ctx, argc, argv);
}
