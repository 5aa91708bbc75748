#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "envs/envs.h"
#include "sandbox/sandbox.h"
#include "specs/specs.h"

const char cmd_run_help[] =
        "Usage: berth run [-f SPEC] [--ephemeral] [--] [CMD [ARG...]]\n"
        "\n"
        "Run CMD in the dev sandbox and exit with its status. The spec's services\n"
        "are brought up first (and down again after) unless the environment is\n"
        "up already; the dev sandbox joins their network. --ephemeral (CI) runs\n"
        "in a throwaway instance of the environment of its own (services, their\n"
        "network, writable layers and volumes), removed afterwards; when CMD\n"
        "fails, the services' last log lines are shown. Without CMD, the Entrypoint and Cmd\n"
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

/* Why the command died, where a limit did it and the kernel says so. */
static void say_why(struct cli_ctx *ctx, const struct spec *s, const struct sandbox_outcome *out, int status)
{
        if (ctx->verbosity < 0)
                return;
        if (out->oom_kills) {
                _cleanup_free_ char *mem = cli_spec_size(s->resources.memory);
                if (status == 128 + SIGKILL)
                        fprintf(stderr, "berth: killed by the memory limit (%s)\n", mem);
                else
                        fprintf(stderr, "berth: the memory limit (%s) killed a process in the sandbox\n", mem);
        }
        if (out->pids_max)
                fprintf(stderr, "berth: fork failed at the pids limit (%" PRIu64 ")\n", s->resources.pids);
}

/* An environment with services that is not up is brought up for the run
 * (and watches us: it goes down if we die). 0, or the status to exit with. */
static int services_up(struct cli_ctx *ctx, const struct spec *s, bool *ret_started)
{
        _cleanup_error_ berth_error *err = NULL;
        enum envs_liveness live;
        *ret_started = false;
        bool pasta;
        if (!s->n_services)
                return 0;
        if (envs_network_check(s, &ctx->warnings, &pasta, &err) < 0 || envs_status(s, &live, NULL, &err) < 0)
                return cli_run_status(ctx, err);
        if (live == ENVS_UP)
                return 0;
        if (envs_up(s, getpid(), ret_started, &err) < 0)
                return cli_run_status(ctx, err);
        return cli_wait_ready(ctx, s, ctx->verbosity > 0) == EXIT_OK ? 0 : EXIT_BERTH;
}

static void services_down(struct cli_ctx *ctx, const struct spec *s)
{
        _cleanup_error_ berth_error *err = NULL;
        bool was_up;
        if (envs_services_down(s, &was_up, &err) < 0)
                cli_report(ctx, err);
}

/* CI: why the command failed may be in what the services said. */
static void print_service_logs(const struct spec *s)
{
        for (size_t i = 0; i < s->n_services; i++) {
                fprintf(stderr, "berth: last lines of %s:\n", s->services[i].name);
                cli_print_log_tail(s, s->services[i].name, 20, stderr);
        }
}

static void remove_instance(struct cli_ctx *ctx, const struct spec *s)
{
        _cleanup_error_ berth_error *err = NULL;
        if (envs_instance_remove(s, &err) < 0)
                cli_report(ctx, err);
}

int cli_run_dev_sandbox(struct cli_ctx *ctx, struct envs_run_opts *o)
{
        _cleanup_spec_ struct spec *s = NULL;
        _cleanup_error_ berth_error *err = NULL;
        int st;
        if (cli_load_spec(ctx, &s, &st) < 0)
                return EXIT_BERTH;
        berth_warnings_move(&ctx->warnings, &s->warnings);
        o->warnings = &ctx->warnings;
        struct sandbox_outcome out = {};
        struct envs_run_opts with = *o;
        with.outcome = &out;
        int status;
        bool started;
        /* Its own instance: services, state and volumes, all removed after. */
        if (o->ephemeral)
                envs_use_instance();
        if ((st = services_up(ctx, s, &started)) != 0) {
                if (started)
                        services_down(ctx, s);
                if (o->ephemeral)
                        remove_instance(ctx, s);
                return st;
        }
        with.up_for_run = started;
        int r = envs_run(s, &with, &status, &err);
        if (started && o->ephemeral && (r < 0 || status != 0) && ctx->verbosity >= 0)
                print_service_logs(s);
        if (started)
                services_down(ctx, s);
        if (o->ephemeral)
                remove_instance(ctx, s);
        if (r < 0)
                return cli_run_status(ctx, err);
        say_why(ctx, s, &out, status);
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
