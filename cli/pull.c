#include "cli.h"

const char cmd_pull_help[] =
        "Usage: berth pull [-f SPEC]\n"
        "\n"
        "Fetch, verify and unpack every layer the spec needs into the cache.\n";

int cmd_pull(struct cli_ctx *ctx, int argc, char **argv)
{
        return cli_stub(ctx, argc, argv);
}
