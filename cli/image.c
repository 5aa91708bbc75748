#include "cli.h"

const char cmd_image_help[] =
        "Usage: berth image pack|ls|gc ...\n"
        "\n"
        "Ops: pack a folder into a reproducible archive; list the cache; collect\n"
        "garbage.\n";

int cmd_image(struct cli_ctx *ctx, int argc, char **argv)
{
        return cli_stub(ctx, argc, argv);
}
