#include "cli.h"

const char cmd_run_help[] =
        "Usage: berth run [-f SPEC] [--ephemeral] [--] CMD [ARG...]\n"
        "\n"
        "Run CMD in the dev sandbox and exit with its status. --ephemeral throws\n"
        "the writable layer away afterwards.\n";

int cmd_run(struct cli_ctx *ctx, int argc, char **argv)
{
        return cli_stub(ctx, argc, argv);
}
