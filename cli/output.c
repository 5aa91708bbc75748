#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <unistd.h>

#include "cli.h"

bool cli_common_option(struct cli_ctx *ctx, int c, const char *arg)
{
        switch (c) {
        case 'f':
                ctx->spec_path = arg;
                return true;
        case 'J':
                ctx->json = true;
                return true;
        case 'R':
                ctx->repos = strv_append(ctx->repos, xstrdup(arg));
                return true;
        case 'L':
                ctx->locked = true;
                return true;
        case 'q':
                ctx->verbosity = -1;
                berth_log_set_level(BERTH_LOG_ERROR);
                return true;
        case 'v':
                ctx->verbosity = ctx->verbosity < 0 ? 1 : ctx->verbosity + 1;
                berth_log_set_level(ctx->verbosity >= 2 ? BERTH_LOG_DEBUG : BERTH_LOG_INFO);
                return true;
        case 'h':
                cli_print_help(ctx->verb ? ctx->verb : "");
                exit(EXIT_OK);
        case '?':
                /* getopt already named the bad option. */
                exit(cli_usage_error(ctx, "see `berth %s%s--help`", ctx->verb ? ctx->verb : "", ctx->verb ? " " : ""));
        }
        return false;
}

int cli_exit_status(const berth_error *err)
{
        if (!err)
                return EXIT_FAIL;
        switch (err->kind) {
        case BERTH_E_INVALID:
        case BERTH_E_USAGE:
                return EXIT_USAGE;
        case BERTH_E_NOEXEC:
                return EXIT_NOEXEC;
        case BERTH_E_NOCMD:
                return EXIT_NOCMD;
        default:
                return EXIT_FAIL;
        }
}

static const char *kind_name(int kind)
{
        switch (kind) {
        case BERTH_E_INVALID: return "invalid";
        case BERTH_E_USAGE: return "usage";
        case BERTH_E_LIMIT: return "limit";
        case BERTH_E_DIGEST: return "digest";
        case BERTH_E_NOTFOUND: return "not-found";
        case BERTH_E_NOTIMPL: return "not-implemented";
        case BERTH_E_NOEXEC: return "not-executable";
        case BERTH_E_NOCMD: return "command-not-found";
        default: return "failed";
        }
}

static bool starts_with_position(const char *text)
{
        const char *colon = strchr(text, ':');
        if (!colon || colon == text || memchr(text, ' ', (size_t) (colon - text)))
                return false;
        for (int field = 0; field < 2; field++) {
                const char *p = colon + 1;
                if (*p < '0' || *p > '9')
                        return false;
                while (*p >= '0' && *p <= '9')
                        p++;
                if (*p != ':')
                        return false;
                colon = p;
        }
        return true;
}

int cli_load_spec(struct cli_ctx *ctx, struct spec **ret, int *ret_status)
{
        _cleanup_error_ berth_error *err = NULL;
        if (cli_spec_load(ctx, ret, &err) == 0)
                return 0;
        /* A spec past a bound is an invalid spec: exit 2, like any other. */
        if (err->kind == BERTH_E_LIMIT)
                err->kind = BERTH_E_INVALID;
        *ret_status = cli_report(ctx, err);
        return -1;
}

static char **saved_argv;

void cli_save_argv(char **argv)
{
        saved_argv = argv;
}

/* Beside berth in a build tree, or in libexec/berth when installed. */
static char *helper_path(void)
{
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0)
                return NULL;
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (!slash)
                return NULL;
        *slash = 0;
        char *p = xasprintf("%s/../libexec/berth/berth-dynamic", self);
        if (access(p, X_OK) == 0)
                return p;
        free(p);
        p = xasprintf("%s/berth-dynamic", self);
        if (access(p, X_OK) == 0)
                return p;
        free(p);
        return NULL;
}

static void run_helper(struct cli_ctx *ctx, berth_error *err)
{
        if (!saved_argv || getenv("BERTH_REEXEC"))
                return;
        _cleanup_free_ char *path = helper_path();
        char shown[32];
        /* It finds the same warnings again: those shown here are not repeated. */
        snprintf(shown, sizeof(shown), "%zu", ctx->warnings_shown);
        if (path && setenv("BERTH_REEXEC", "1", 1) == 0 && setenv("BERTH_REEXEC_WARNED", shown, 1) == 0) {
                log_debug("%s: running the command with %s", err->msg, path);
                fflush(stdout);
                execv(path, saved_argv);
                berth_error_wrap(&err, "run %s: %s", path, strerror(errno));
                return;
        }
        berth_error_wrap(&err, "berth-dynamic not found beside berth or in ../libexec/berth (reinstall berth)");
}

static void show_warning(const berth_warning *w, void *userdata)
{
        struct cli_ctx *ctx = userdata;
        if (ctx->json || ctx->verbosity < 0)
                return;
        if (ctx->warnings_skip) {
                ctx->warnings_skip--;
                return;
        }
        _cleanup_free_ char *text = berth_warning_text(w);
        fprintf(stderr, "%s\n", text);
        ctx->warnings_shown++;
}

void cli_warnings_init(struct cli_ctx *ctx)
{
        const char *skip = getenv("BERTH_REEXEC") ? getenv("BERTH_REEXEC_WARNED") : NULL;
        ctx->warnings = (berth_warnings) { .added = show_warning, .userdata = ctx };
        ctx->warnings_skip = skip ? strtoul(skip, NULL, 10) : 0;
        unsetenv("BERTH_REEXEC_WARNED");
}

static json_t *warnings_json(const berth_warnings *w)
{
        json_t *a = json_array();
        for (size_t i = 0; i < w->n; i++) {
                const berth_warning *x = &w->v[i];
                json_t *o = json_pack("{s:s,s:s?}", "message", x->msg, "key", x->key);
                if (x->file && x->line > 0) {
                        json_object_set_new(o, "file", json_string(x->file));
                        json_object_set_new(o, "line", json_integer(x->line));
                        json_object_set_new(o, "col", json_integer(x->col));
                }
                json_array_append_new(a, o);
        }
        return a;
}

int cli_end(struct cli_ctx *ctx, int status)
{
        if (ctx->json && ctx->warnings.n) {
                json_t *o = json_pack("{s:s?,s:o}", "command", ctx->verb, "warnings", warnings_json(&ctx->warnings));
                char *s = json_dumps(o, JSON_COMPACT);
                fprintf(stderr, "%s\n", s);
                free(s);
                json_decref(o);
        }
        berth_warnings_clear(&ctx->warnings);
        return status;
}

int cli_report(struct cli_ctx *ctx, berth_error *err)
{
        if (err && err->kind == BERTH_E_HELPER) {
                run_helper(ctx, err);
                err->kind = BERTH_E_FAILED;
        }
        _cleanup_free_ char *text = berth_error_text(err);
        int status = cli_exit_status(err);
        if (ctx->json) {
                json_t *o = json_pack("{s:s,s:s,s:i}", "error", text, "kind", kind_name(err ? err->kind : 0),
                                      "exit", status);
                if (ctx->verb)
                        json_object_set_new(o, "command", json_string(ctx->verb));
                if (ctx->warnings.n)
                        json_object_set_new(o, "warnings", warnings_json(&ctx->warnings));
                berth_warnings_clear(&ctx->warnings);
                char *s = json_dumps(o, JSON_COMPACT);
                fprintf(stderr, "%s\n", s);
                free(s);
                json_decref(o);
        } else {
                /* Errors at a position keep FILE:LINE:COL first, for editors and CI annotators. */
                fprintf(stderr, "%s%s\n", starts_with_position(text) ? "" : "berth: ", text);
        }
        return status;
}

int cli_usage_error(struct cli_ctx *ctx, const char *fmt, ...)
{
        _cleanup_error_ berth_error *err = NULL;
        va_list ap;
        va_start(ap, fmt);
        berth_error_makev(&err, BERTH_E_USAGE, 0, fmt, ap);
        va_end(ap);
        if (ctx->verb)
                berth_error_wrap(&err, "%s", ctx->verb);
        int status = cli_report(ctx, err);
        return ctx->usage_status ? ctx->usage_status : status;
}

int cli_not_implemented(struct cli_ctx *ctx)
{
        _cleanup_error_ berth_error *err = NULL;
        berth_error_make(&err, BERTH_E_NOTIMPL, 0, "%s: not implemented yet", ctx->verb);
        return cli_report(ctx, err);
}

void cli_print_json(json_t *v)
{
        char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        if (s) {
                puts(s);
                free(s);
        }
        json_decref(v);
}

static int parse_common(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = { CLI_COMMON_LONG, {} };
        int c;
        while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1)
                if (!cli_common_option(ctx, c, optarg))
                        return cli_usage_error(ctx, "unexpected option; see `berth %s --help`", ctx->verb);
        return 0;
}

int cli_parse_common_only(struct cli_ctx *ctx, int argc, char **argv)
{
        int st = parse_common(ctx, argc, argv);
        if (st == 0 && optind < argc)
                st = cli_usage_error(ctx, "unexpected argument `%s`; the spec is given with -f", argv[optind]);
        return st;
}

/* Arguments are accepted: the verb is not built, whatever it was asked. */
int cli_stub(struct cli_ctx *ctx, int argc, char **argv)
{
        int st = parse_common(ctx, argc, argv);
        return st ? st : cli_not_implemented(ctx);
}

void cli_human_size(uint64_t b, char *out, size_t n)
{
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
        double v = (double) b;
        size_t u = 0;
        while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
                v /= 1024;
                u++;
        }
        snprintf(out, n, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}
