/* cli: argument parsing and output. The only place that prints errors. */
#pragma once

#include <jansson.h>
#include <stdio.h>

#include "common/common.h"
#include "specs/specs.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_BERTH = 125, EXIT_NOEXEC = 126, EXIT_NOCMD = 127 };

struct cli_ctx {
        bool json;
        int verbosity;          /* -1 quiet, 0 normal, 1+ verbose */
        const char *spec_path;  /* -f, default "berth.yaml" */
        const char *verb;       /* for messages: "validate", "spec show" */
        int usage_status;       /* exit status of a usage error when not 2 (run: 125) */
        /* What the libraries warned about: each shown on stderr as it comes
         * (unless -q or --json); under --json, a `warnings` array in the
         * error's document, or in {"command", "warnings"} at the end. */
        berth_warnings warnings;
        char **repos;           /* --repo, in order: where extends is resolved first */
        bool locked;            /* --locked: berth.lock must exist and match the spec */
};

/* Wire ctx->warnings to stderr; cli_end() prints what --json still holds. */
void cli_warnings_init(struct cli_ctx *ctx);
/* The verb is done: under --json, the warnings not yet in an error's document. */
int cli_end(struct cli_ctx *ctx, int status);

/* Options every verb accepts after its name: -f, --json, -q, -v, --help. */
#define CLI_COMMON_SHORT "+f:qvh"
#define CLI_COMMON_LONG                                             \
        { "file", required_argument, NULL, 'f' },                   \
        { "json", no_argument, NULL, 'J' },                         \
        { "quiet", no_argument, NULL, 'q' },                        \
        { "verbose", no_argument, NULL, 'v' },                      \
        { "help", no_argument, NULL, 'h' },                         \
        { "repo", required_argument, NULL, 'R' },                  \
        { "locked", no_argument, NULL, 'L' }

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
/* ctx->spec_path with extends resolved from --repo, BERTH_SPEC_REPOS and the
 * spec's repos:; its warnings are shown on stderr. */
int cli_spec_load(struct cli_ctx *ctx, struct spec **ret, berth_error **err);
/* specs/'s hooks into images/ (sha256, Ed25519, GET). */
const struct spec_io *cli_spec_io(void);
/* --repo, then BERTH_SPEC_REPOS: the repositories every resolution starts with. */
void cli_spec_resolver(struct cli_ctx *ctx, struct spec_resolver *ret);
void cli_spec_resolver_done(struct spec_resolver *r);
/* berth.lock beside the spec. */
char *cli_lock_path(const char *spec_path);
/* Load the spec as cli_spec_load() does, with lock (may be NULL) pinning the
 * bases; the file's bytes are handed back. */
int cli_spec_load_with(struct cli_ctx *ctx, struct spec_lock *lock, struct spec **ret, char **ret_buf, size_t *ret_len,
                       berth_error **err);
int cli_not_implemented(struct cli_ctx *ctx);
/* For a verb that takes only the common options and no argument: returns 0,
 * or the exit status of the usage error it reported. */
int cli_parse_common_only(struct cli_ctx *ctx, int argc, char **argv);
/* "1.5 MiB": b in binary units, for people. */
void cli_human_size(uint64_t b, char *out, size_t n);
/* "512MiB": b as a spec writes it, exact. */
char *cli_spec_size(uint64_t b);
/* For a verb not built yet: accepts the common options and --help, then
 * says so and exits 1. */
int cli_stub(struct cli_ctx *ctx, int argc, char **argv);
/* Print the verb's help text to stdout. */
void cli_print_help(const char *verb);
/* Print a JSON value on stdout, one document per line, and drop the ref. */
void cli_print_json(json_t *v);
/* Wait until the environment's services are ready (0), or one failed (1:
 * named, with its reason and last log lines); show: each state change too. */
int cli_wait_ready(struct cli_ctx *ctx, const struct spec *s, bool show);
/* The last n lines of a service's log, "  NAME | TEXT", to `to` (`up`'s failures). */
void cli_print_log_tail(const struct spec *s, const char *svc, size_t n, FILE *to);

/* For run, shell and exec, whose own statuses belong to the command: as with
 * `docker run`, anything berth refuses or fails at before the command ran,
 * bad usage and an invalid spec included, is 125; 126/127 pass through. */
int cli_run_status(struct cli_ctx *ctx, berth_error *err);
struct envs_run_opts;
/* run and shell: the common options and --ephemeral; optind is left at the
 * first argument. Usage errors exit 125. */
void cli_parse_run_options(struct cli_ctx *ctx, int argc, char **argv, struct envs_run_opts *o);
/* Load the spec and run o in its dev sandbox: the command's status, or 125,
 * 126, 127 as cli_run_status() says. */
int cli_run_dev_sandbox(struct cli_ctx *ctx, struct envs_run_opts *o);

typedef int (*cli_verb_fn)(struct cli_ctx *ctx, int argc, char **argv);

/* One function and one help text per verb, each in cli/<verb>.c. */
#define CLI_VERBS(X)                                                  \
        X(validate) X(pull) X(run) X(up) X(down) X(ps) X(logs)        \
        X(shell) X(exec) X(lock) X(verify) X(doctor) X(spec) X(image)

#define X(v) int cmd_##v(struct cli_ctx *ctx, int argc, char **argv); extern const char cmd_##v##_help[];
CLI_VERBS(X)
#undef X
