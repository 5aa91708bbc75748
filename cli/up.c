#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "envs/envs.h"

const char cmd_up_help[] =
        "Usage: berth up [-f SPEC]\n"
        "\n"
        "Start the environment's services, each once its dependencies are\n"
        "healthy, and return when all are running (healthy, for those with a\n"
        "healthcheck). A supervisor process keeps them running until `berth down`.\n"
        "\n"
        "Exit status: 0 when the environment is ready; 1 when a service failed\n"
        "(its reason and last log lines are shown; the environment stays up for\n"
        "inspection).\n";

static bool ready(const char *st)
{
        return streq(st, "running") || streq(st, "healthy");
}

static bool failed(const char *st)
{
        return streq(st, "exited") || streq(st, "unhealthy");
}

static json_t *entry(json_t *doc, const char *name)
{
        json_t *v;
        size_t i;
        json_array_foreach(json_object_get(doc, "services"), i, v)
                if (streq_ptr(json_string_value(json_object_get(v, "name")), name))
                        return v;
        return NULL;
}

/* "waiting for db (healthcheck failing: ...)": the first dependency that is
 * not ready, and why. */
static char *waiting_text(const struct spec *s, json_t *doc, const char *name)
{
        for (size_t i = 0; i < s->n_services; i++) {
                if (!streq(s->services[i].name, name))
                        continue;
                for (char **d = s->services[i].depends_on; d && *d; d++) {
                        json_t *dep = entry(doc, *d);
                        const char *st = json_string_value(json_object_get(dep, "state"));
                        const char *why = json_string_value(json_object_get(dep, "reason"));
                        if (st && !ready(st))
                                return why ? xasprintf("waiting for %s (%s)", *d, why)
                                           : xasprintf("waiting for %s (%s)", *d, st);
                }
        }
        return xstrdup("waiting");
}

/* Print each service's state as it changes: 1 all ready, -1 one failed
 * (named), 0 still going. */
static int report(struct cli_ctx *ctx, const struct spec *s, json_t *doc, char **last, bool show)
{
        json_t *v;
        size_t i;
        int all = 1;
        json_array_foreach(json_object_get(doc, "services"), i, v) {
                const char *name = json_string_value(json_object_get(v, "name"));
                const char *st = json_string_value(json_object_get(v, "state"));
                const char *why = json_string_value(json_object_get(v, "reason"));
                _cleanup_free_ char *shown = streq(st, "waiting") ? waiting_text(s, doc, name) : xstrdup(st);
                if (i < s->n_services && !streq_ptr(last[i], shown)) {
                        if (show && ctx->verbosity >= 0)
                                fprintf(stderr, "berth: %s: %s\n", name, shown);
                        free(last[i]);
                        last[i] = TAKE_PTR(shown);
                }
                if (failed(st)) {
                        fprintf(stderr, "berth: up: service %s failed: %s\n", name, why ? why : st);
                        cli_print_log_tail(s, name, 20, stderr);
                        return -1;
                }
                all &= ready(st);
        }
        return all;
}

int cli_wait_ready(struct cli_ctx *ctx, const struct spec *s, bool show)
{
        const char *t = getenv("BERTH_UP_TIMEOUT");
        int64_t limit_ms = (t && atoi(t) > 0 ? atoi(t) : 120) * 1000LL;
        _cleanup_strv_ char **last = xcalloc(s->n_services + 1, sizeof(char *));
        for (int64_t waited = 0;; waited += 50) {
                _cleanup_error_ berth_error *err = NULL;
                enum envs_liveness live;
                json_t *doc = NULL;
                if (envs_status(s, &live, &doc, &err) < 0)
                        return cli_report(ctx, err);
                if (live != ENVS_UP) {
                        fprintf(stderr, "berth: up: the supervisor of %s died\n", s->name);
                        return EXIT_FAIL;
                }
                int r = report(ctx, s, doc, last, show);
                json_decref(doc);
                if (r != 0)
                        return r > 0 ? EXIT_OK : EXIT_FAIL;
                if (waited >= limit_ms) {
                        fprintf(stderr, "berth: up: %s not ready after %lld s (BERTH_UP_TIMEOUT)\n", s->name,
                                (long long) limit_ms / 1000);
                        return EXIT_FAIL;
                }
                struct timespec ts = { 0, 50 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
}

int cmd_up(struct cli_ctx *ctx, int argc, char **argv)
{
        int st = cli_parse_common_only(ctx, argc, argv);
        if (st)
                return st;
        _cleanup_spec_ struct spec *s = NULL;
        _cleanup_error_ berth_error *err = NULL;
        if (cli_load_spec(ctx, &s, &st) < 0)
                return st;
        berth_warnings_move(&ctx->warnings, &s->warnings);
        bool started;
        /* Until we return, our death (even by kill -9) takes it down. */
        if (envs_up(s, getpid(), &started, &err) < 0)
                return cli_report(ctx, err);
        if (!started && ctx->verbosity > 0)
                fprintf(stderr, "berth: %s is up already\n", s->name);
        st = cli_wait_ready(ctx, s, true);
        /* A supervisor that died was said already. */
        if (started && envs_detach(s, &err) < 0 && st == EXIT_OK)
                return cli_report(ctx, err);
        if (st == EXIT_OK && ctx->verbosity >= 0)
                fprintf(stderr, "berth: %s is up\n", s->name);
        return st;
}
