#include <stdio.h>
#include <sys/ioctl.h>
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
        "Each service's state is shown as it changes, with what a waiting service\n"
        "waits for; on a terminal, one progress line below them too.\n"
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

/* The first dependency of service `name` that is not ready, and why (its
 * reason, or else its state); NULL when none holds it. */
static const char *blocker(const struct spec *s, json_t *doc, const char *name, const char **why)
{
        for (size_t i = 0; i < s->n_services; i++) {
                if (!streq(s->services[i].name, name))
                        continue;
                for (char **d = s->services[i].depends_on; d && *d; d++) {
                        json_t *dep = entry(doc, *d);
                        const char *st = json_string_value(json_object_get(dep, "state"));
                        const char *reason = json_string_value(json_object_get(dep, "reason"));
                        if (st && !ready(st)) {
                                *why = reason ? reason : st;
                                return *d;
                        }
                }
        }
        return NULL;
}

/* "waiting for db (healthcheck failing: ...)" */
static char *waiting_text(const struct spec *s, json_t *doc, const char *name)
{
        const char *why = NULL, *dep = blocker(s, doc, name, &why);
        return dep ? xasprintf("waiting for %s (%s)", dep, why) : xstrdup("waiting");
}

/* What `up` shows while it waits: each state change as a line, and on a
 * terminal one progress line below them, redrawn in place. */
struct up_view {
        struct cli_ctx *ctx;
        const struct spec *s;
        char **last;            /* each service's last shown state */
        bool show, tty;
        bool drawn;             /* a progress line is on screen */
        int64_t waited_ms;
};

static void clear_progress(struct up_view *v)
{
        if (v->drawn)
                fputs("\r\033[K", stderr);
        v->drawn = false;
}

static size_t term_width(void)
{
        struct winsize ws;
        if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
                return ws.ws_col;
        return 80;
}

/* Fit text to one terminal line (so \r can redraw it) and keep a
 * service's control characters off the terminal. */
static void fit_line(char *text, size_t width)
{
        size_t n = 0;
        for (char *p = text; *p; p++) {
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = '?';
                if (((unsigned char) *p & 0xc0) != 0x80 && ++n == width) {
                        *p = 0;
                        return;
                }
        }
}

/* "[3/5] 2.1s waiting: web (for postgres: healthcheck failing: ...)": the
 * first service that waits for another (which says why both are not ready),
 * else the first not ready. */
static void draw_progress(struct up_view *v, json_t *doc)
{
        json_t *e;
        size_t i, n_ready = 0, n = json_array_size(json_object_get(doc, "services"));
        const char *name = NULL, *st = NULL, *dep = NULL, *why = NULL;
        json_array_foreach(json_object_get(doc, "services"), i, e) {
                const char *ename = json_string_value(json_object_get(e, "name"));
                const char *est = json_string_value(json_object_get(e, "state"));
                const char *dep_why = NULL, *edep = NULL;
                if (!ename || !est || ready(est)) {
                        n_ready += est && ready(est);
                        continue;
                }
                if (streq(est, "waiting"))
                        edep = blocker(v->s, doc, ename, &dep_why);
                if (!name || (edep && !dep)) {
                        name = ename, st = est, dep = edep;
                        why = edep ? dep_why : json_string_value(json_object_get(e, "reason"));
                }
        }
        if (!name)
                return;
        _cleanup_free_ char *detail = dep ? xasprintf(" (for %s: %s)", dep, why)
                                   : why ? xasprintf(" (%s)", why) : xstrdup("");
        _cleanup_free_ char *line = xasprintf("[%zu/%zu] %.1fs %s: %s%s", n_ready, n,
                                              (double) v->waited_ms / 1000.0, st, name, detail);
        fit_line(line, term_width() - 1);
        fprintf(stderr, "\r\033[K%s", line);
        fflush(stderr);
        v->drawn = true;
}

/* Print each service's state as it changes: 1 all ready, -1 one failed
 * (named), 0 still going. */
static int report(struct up_view *v, json_t *doc)
{
        json_t *e;
        size_t i;
        int all = 1;
        bool lines = v->show && v->ctx->verbosity >= 0;
        json_array_foreach(json_object_get(doc, "services"), i, e) {
                const char *name = json_string_value(json_object_get(e, "name"));
                const char *st = json_string_value(json_object_get(e, "state"));
                const char *why = json_string_value(json_object_get(e, "reason"));
                _cleanup_free_ char *shown = streq(st, "waiting") ? waiting_text(v->s, doc, name) : xstrdup(st);
                if (i < v->s->n_services && !streq_ptr(v->last[i], shown)) {
                        if (lines) {
                                clear_progress(v);
                                fprintf(stderr, "berth: %s: %s\n", name, shown);
                        }
                        free(v->last[i]);
                        v->last[i] = TAKE_PTR(shown);
                }
                if (failed(st)) {
                        clear_progress(v);
                        fprintf(stderr, "berth: up: service %s failed: %s\n", name, why ? why : st);
                        cli_print_log_tail(v->s, name, 20, stderr);
                        return -1;
                }
                all &= ready(st);
        }
        if (lines && v->tty && !all)
                draw_progress(v, doc);
        return all;
}

/* What the supervisor fell back to (network), said once it is done. */
static void take_warnings(struct up_view *v, json_t *doc)
{
        json_t *w;
        size_t i;
        clear_progress(v);
        json_array_foreach(json_object_get(doc, "warnings"), i, w)
                berth_warn(&v->ctx->warnings, json_string_value(json_object_get(w, "key")), "%s",
                           json_string_value(json_object_get(w, "message")));
}

static int64_t monotonic_ms(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t) t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int wait_ready(struct up_view *v)
{
        const char *t = getenv("BERTH_UP_TIMEOUT");
        int64_t limit_ms = (t && atoi(t) > 0 ? atoi(t) : 120) * 1000LL, start = monotonic_ms();
        for (;;) {
                _cleanup_error_ berth_error *err = NULL;
                enum envs_liveness live;
                json_t *doc = NULL;
                v->waited_ms = monotonic_ms() - start;
                if (envs_status(v->s, &live, &doc, &err) < 0) {
                        clear_progress(v);
                        return cli_report(v->ctx, err);
                }
                if (live != ENVS_UP) {
                        clear_progress(v);
                        fprintf(stderr, "berth: up: the supervisor of %s died\n", v->s->name);
                        return EXIT_FAIL;
                }
                int r = report(v, doc);
                if (r != 0)
                        take_warnings(v, doc);
                json_decref(doc);
                if (r != 0)
                        return r > 0 ? EXIT_OK : EXIT_FAIL;
                if (v->waited_ms >= limit_ms) {
                        clear_progress(v);
                        fprintf(stderr, "berth: up: %s not ready after %lld s (BERTH_UP_TIMEOUT)\n", v->s->name,
                                (long long) limit_ms / 1000);
                        return EXIT_FAIL;
                }
                struct timespec ts = { 0, 50 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
}

int cli_wait_ready(struct cli_ctx *ctx, const struct spec *s, bool show)
{
        _cleanup_strv_ char **last = xcalloc(s->n_services + 1, sizeof(char *));
        struct up_view v = { .ctx = ctx, .s = s, .last = last, .show = show,
                             .tty = isatty(STDERR_FILENO) && !ctx->json };
        int st = wait_ready(&v);
        clear_progress(&v);
        fflush(stderr);
        return st;
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
        bool started, pasta;
        /* Until we return, our death (even by kill -9) takes it down. */
        if (envs_network_check(s, &ctx->warnings, &pasta, &err) < 0 || envs_up(s, getpid(), &started, &err) < 0)
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
