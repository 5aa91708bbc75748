#include "cli.h"

const char cmd_spec_help[] =
        "Usage: berth spec publish|show|diff [-f SPEC] ...\n"
        "\n"
        "Ops: publish a spec version to a spec repository, print the normalized\n"
        "spec, or compare two.\n";

int cmd_spec(struct cli_ctx *ctx, int argc, char **argv)
{
        return cli_stub(ctx, argc, argv);
}
