#include <getopt.h>
#include <stdio.h>

#include "cli.h"

struct verb {
        const char *name;
        cli_verb_fn fn;
        const char *help;
};

static const struct verb verbs[] = {
#define X(v) { #v, cmd_##v, cmd_##v##_help },
        CLI_VERBS(X)
#undef X
};

static const char main_help[] =
        "Usage: berth [--json] [-q|-v] COMMAND [-f SPEC] [ARGS...]\n"
        "\n"
        "Run commands and services in the environment a berth.yaml spec describes.\n"
        "\n"
        "Developers:\n"
        "  up | down [--volumes] | ps   start / stop the environment's services; list them\n"
        "  run [--ephemeral] -- CMD...  run CMD in the dev sandbox\n"
        "  shell [SERVICE]              interactive shell\n"
        "  exec SERVICE -- CMD...       run CMD inside a running service\n"
        "  logs [-f] [SERVICE]          service output\n"
        "\n"
        "Specs and images:\n"
        "  validate                     check a spec; print nothing on success\n"
        "  pull                         fetch, verify and unpack every layer\n"
        "  lock | verify | doctor       pin digests; check an environment; check the host\n"
        "  spec publish|show|diff       publish, print or compare specs\n"
        "  image pack|ls|gc             pack a folder; list the cache; collect garbage\n"
        "\n"
        "Global options:\n"
        "  -f, --file SPEC   the spec (default ./berth.yaml)\n"
        "      --json        machine-readable output\n"
        "  -q, --quiet       only errors\n"
        "  -v, --verbose     more detail (twice for debug)\n"
        "  -h, --help        this text; `berth COMMAND --help` for a command\n"
        "      --version     print the version\n"
        "\n"
        "Exit status: 0 ok, 1 failure, 2 usage error or invalid spec; for run and exec\n"
        "the command's own status, 125 if berth failed first, 126 not executable,\n"
        "127 not found.\n";

void cli_print_help(const char *verb)
{
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
                if (streq(verbs[i].name, verb)) {
                        fputs(verbs[i].help, stdout);
                        return;
                }
        fputs(main_help, stdout);
}

static const struct verb *find_verb(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
                if (streq(verbs[i].name, name))
                        return &verbs[i];
        return NULL;
}

static int unknown_verb(struct cli_ctx *ctx, const char *name)
{
        const char *names[ARRAY_SIZE(verbs) + 1];
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
                names[i] = verbs[i].name;
        names[ARRAY_SIZE(verbs)] = NULL;
        const char *hint = closest_match(name, names);
        ctx->verb = NULL;
        if (hint)
                return cli_usage_error(ctx, "unknown command `%s`; did you mean `%s`?", name, hint);
        return cli_usage_error(ctx, "unknown command `%s`; see `berth --help`", name);
}

int main(int argc, char **argv)
{
        struct cli_ctx ctx = { .spec_path = "berth.yaml" };
#ifdef BERTH_STATIC_FRONT
        berth_static_front = true;
#endif
        cli_save_argv(argv);
        cli_warnings_init(&ctx);
        static const struct option opts[] = {
                CLI_COMMON_LONG,
                { "version", no_argument, NULL, 'V' },
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
                if (c == 'V') {
                        if (ctx.json) {
                                cli_print_json(json_pack("{s:s}", "version", BERTH_VERSION_STRING));
                                return EXIT_OK;
                        }
                        printf("berth %s\n", BERTH_VERSION_STRING);
                        return EXIT_OK;
                }
                if (c == 'h') {
                        fputs(main_help, stdout);
                        return EXIT_OK;
                }
                if (!cli_common_option(&ctx, c, optarg))
                        return cli_usage_error(&ctx, "see `berth --help`");
        }
        if (optind >= argc)
                return cli_usage_error(&ctx, "no command given; see `berth --help`");

        const struct verb *v = find_verb(argv[optind]);
        if (!v)
                return unknown_verb(&ctx, argv[optind]);
        ctx.verb = v->name;
        /* Each verb parses its own options from argv[0] = its name. */
        argc -= optind;
        argv += optind;
        optind = 0;
        int status = v->fn(&ctx, argc, argv);
        strv_free(ctx.repos);
        return cli_end(&ctx, status);
}
