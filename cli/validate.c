#include <getopt.h>

#include "cli.h"
#include "specs/specs.h"

const char cmd_validate_help[] =
        "Usage: berth validate [-f SPEC]\n"
        "\n"
        "Check a spec and everything it extends. Prints nothing on success;\n"
        "errors name the file, line and column. Exit 2 if the spec is invalid,\n"
        "1 if it cannot be read.\n";

int cmd_validate(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = { CLI_COMMON_LONG, {} };
        int c;
        while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1)
                if (!cli_common_option(ctx, c, optarg))
                        return cli_usage_error(ctx, "unexpected option; see `berth validate --help`");
        if (optind < argc)
                return cli_usage_error(ctx, "unexpected argument `%s`; the spec is given with -f", argv[optind]);

        _cleanup_spec_ struct spec *s = NULL;
        int status;
        if (cli_load_spec(ctx, &s, &status) < 0)
                return status;
        return EXIT_OK;
}
