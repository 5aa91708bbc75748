#include "cli.h"

const char cmd_logs_help[] =
        "Usage: berth logs [-f SPEC] [--follow] [SERVICE]\n"
        "\n"
        "Print service output.\n";

int cmd_logs(struct cli_ctx *ctx, int argc, char **argv)
{
        return cli_stub(ctx, argc, argv);
}
