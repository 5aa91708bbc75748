#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "envs/envs.h"
#include "sandbox/sandbox.h"
#include "specs/specs.h"

const char cmd_run_help[] =
        "Usage: berth run [-f SPEC] [--ephemeral] [--] [CMD [ARG...]]\n"
        "\n"
        "Run CMD in the dev sandbox and exit with its status. --ephemeral throws\n"
        "the writable layer away afterwards. Without CMD, the Entrypoint and Cmd\n"
        "of the spec's OCI image run.\n"
        "\n"
        "Exit status: the command's own; 126 if it is not executable, 127 if it\n"
        "was not found, 125 if berth refused or failed before it ran (a bad\n"
        "option or an invalid spec included, as with `docker run`).\n";

int cli_run_status(struct cli_ctx *ctx, berth_error *err)
{
        int st = cli_report(ctx, err);
        return st == EXIT_NOEXEC || st == EXIT_NOCMD ? st : EXIT_BERTH;
}

void cli_warn_limits(struct cli_ctx *ctx, const struct spec *s)
{
        struct sandbox_limits l = { .memory = s->resources.memory, .millicpus = s->resources.millicpus,
                                    .pids = s->resources.pids, .nofile = s->resources.nofile };
        _cleanup_free_ char *missing = sandbox_unenforced_limits(&l);
        /* berth-dynamic running the command again: the front warned. */
        if (missing && ctx->verbosity >= 0 && !getenv("BERTH_REEXEC"))
                fprintf(stderr, "berth: warning: this host cannot enforce the %s limit; `berth doctor` says why\n",
                        missing);
}

void cli_parse_run_options(struct cli_ctx *ctx, int argc, char **argv, struct envs_run_opts *o)
{
        static const struct option opts[] = { CLI_COMMON_LONG, { "ephemeral", no_argument, NULL, 'E' }, {} };
        int c;
        ctx->usage_status = EXIT_BERTH;
        while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
                if (c == 'E')
                        o->ephemeral = true;
                else
                        cli_common_option(ctx, c, optarg);
        }
}

int cli_run_dev_sandbox(struct cli_ctx *ctx, const struct envs_run_opts *o)
{
        _cleanup_spec_ struct spec *s = NULL;
        _cleanup_error_ berth_error *err = NULL;
        int st;
        if (cli_load_spec(ctx, &s, &st) < 0)
                return EXIT_BERTH;
        cli_warn_limits(ctx, s);
        int status;
        if (envs_run(s, o, &status, &err) < 0)
                return cli_run_status(ctx, err);
        return status;
}

int cmd_run(struct cli_ctx *ctx, int argc, char **argv)
{
        struct envs_run_opts o = {};
        cli_parse_run_options(ctx, argc, argv, &o);
        /* Without one, an OCI image's Entrypoint and Cmd (envs_run). */
        o.argv = optind < argc ? argv + optind : NULL;
        return cli_run_dev_sandbox(ctx, &o);
}
