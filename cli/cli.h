/* cli: argument parsing and output. The only place that prints errors. */
#pragma once

#include <jansson.h>

#include "common/common.h"
#include "specs/specs.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_BERTH = 125, EXIT_NOEXEC = 126, EXIT_NOCMD = 127 };

struct cli_ctx {
        bool json;
        int verbosity;          /* -1 quiet, 0 normal, 1+ verbose */
        const char *spec_path;  /* -f, default "berth.yaml" */
        const char *verb;       /* for messages: "validate", "spec show" */
};

/* Options every verb accepts after its name: -f, --json, -q, -v, --help. */
#define CLI_COMMON_SHORT "+f:qvh"
#define CLI_COMMON_LONG                                             \
        { "file", required_argument, NULL, 'f' },                   \
        { "json", no_argument, NULL, 'J' },                         \
        { "quiet", no_argument, NULL, 'q' },                        \
        { "verbose", no_argument, NULL, 'v' },                      \
        { "help", no_argument, NULL, 'h' }

/* Handle a common option from getopt_long: returns true if it was one.
 * --help prints the verb's help and exits 0; an unknown option exits 2. */
bool cli_common_option(struct cli_ctx *ctx, int c, const char *arg);

/* Print err (human or JSON) and return the exit status its kind maps to. */
int cli_report(struct cli_ctx *ctx, berth_error *err);
/* Print a usage error for the current verb and return 2. */
int cli_usage_error(struct cli_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_exit_status(const berth_error *err);
/* Load ctx->spec_path; on failure report it and set *ret_status to the exit
 * status (2 for an invalid spec, 1 for an unreadable one). */
int cli_load_spec(struct cli_ctx *ctx, struct spec **ret, int *ret_status);
int cli_not_implemented(struct cli_ctx *ctx);
/* For a verb not built yet: accepts the common options and --help, then
 * says so and exits 1. */
int cli_stub(struct cli_ctx *ctx, int argc, char **argv);
/* Print the verb's help text to stdout. */
void cli_print_help(const char *verb);
/* Print a JSON value on stdout, one document per line, and drop the ref. */
void cli_print_json(json_t *v);

typedef int (*cli_verb_fn)(struct cli_ctx *ctx, int argc, char **argv);

/* One function and one help text per verb, each in cli/<verb>.c. */
#define CLI_VERBS(X)                                                  \
        X(validate) X(pull) X(run) X(up) X(down) X(ps) X(logs)        \
        X(shell) X(exec) X(lock) X(verify) X(doctor) X(spec) X(image)

#define X(v) int cmd_##v(struct cli_ctx *ctx, int argc, char **argv); extern const char cmd_##v##_help[];
CLI_VERBS(X)
#undef X
