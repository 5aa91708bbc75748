#include <getopt.h>

#include "cli.h"
#include "specs/specs.h"

const char cmd_validate_help[] =
        "Usage: berth validate [-f SPEC]\n"
        "\n"
        "Check a spec and everything it extends. Prints nothing on success;\n"
        "errors name the file, line and column. Exit 2 if the spec is invalid,\n"
        "1 if it cannot be read. With -v, also the keys berth does not act on yet.\n";

int cmd_validate(struct cli_ctx *ctx, int argc, char **argv)
{
        int status = cli_parse_common_only(ctx, argc, argv);
        if (status)
                return status;
        _cleanup_spec_ struct spec *s = NULL;
        if (cli_load_spec(ctx, &s, &status) < 0)
                return status;
        /* Silent on success, unless asked. */
        if (ctx->verbosity > 0)
                berth_warnings_move(&ctx->warnings, &s->warnings);
        return EXIT_OK;
}
