#include "cli.h"

const char cmd_validate_help[] =
        "Usage: berth validate [-f SPEC]\n"
        "\n"
        "Check a spec and everything it extends. Prints nothing on success;\n"
        "errors name the file, line and column. Exit 2 if the spec is invalid.\n";

int cmd_validate(struct cli_ctx *ctx, int argc, char **argv)
{
        return cli_stub(ctx, argc, argv);
}
