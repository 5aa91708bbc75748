#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <time.h>

#include "cli.h"
#include "envs/envs.h"

const char cmd_logs_help[] =
        "Usage: berth logs [-f SPEC] [--follow] [--since DURATION] [--tail N] [SERVICE...]\n"
        "\n"
        "Show the services' output (stdout and stderr). With several services,\n"
        "lines are interleaved by time and prefixed with the service's name.\n"
        "--follow (-F) keeps showing new lines; --since 10m shows lines from\n"
        "the last ten minutes (s, m, h); --tail N the last N lines of each.\n";

struct log_line {
        double t;
        const char *svc;
        char *text;
};

struct log_set {
        struct log_line *v;
        size_t n, cap;
};

static void add_line(struct log_set *set, const char *svc, char *line)
{
        char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        if (!sp2)
                return;
        if (set->n == set->cap)
                set->v = xrealloc(set->v, (set->cap = set->cap ? 2 * set->cap : 256) * sizeof(*set->v));
        set->v[set->n++] = (struct log_line) { .t = strtod(line, NULL), .svc = svc, .text = xstrdup(sp2 + 1) };
}

/* The service's lines from offset *pos of <name>.log (and all of the
 * rotated <name>.log.1 first when from_start), oldest first. */
static void read_service(const char *dir, const char *svc, bool from_start, long *pos, struct log_set *set)
{
        for (int k = from_start ? 0 : 1; k < 2; k++) {
                _cleanup_free_ char *p = xasprintf("%s/%s.log%s", dir, svc, k == 0 ? ".1" : "");
                _cleanup_(fclosep) FILE *f = fopen(p, "re");
                if (!f)
                        continue;
                if (k == 1 && pos) {
                        fseek(f, 0, SEEK_END);
                        if (ftell(f) < *pos)
                                *pos = 0; /* rotated meanwhile */
                        fseek(f, *pos, SEEK_SET);
                }
                char *line = NULL;
                size_t cap = 0;
                ssize_t n;
                while ((n = getline(&line, &cap, f)) > 0 && line[n - 1] == '\n') {
                        line[n - 1] = 0;
                        add_line(set, svc, line);
                        if (k == 1 && pos)
                                *pos += n;
                }
                free(line);
        }
}

static int by_time(const void *a, const void *b)
{
        const struct log_line *x = a, *y = b;
        return x->t < y->t ? -1 : x->t > y->t;
}

static void print_lines(struct log_set *set, bool prefix, size_t skip)
{
        qsort(set->v, set->n, sizeof(*set->v), by_time);
        for (size_t i = skip; i < set->n; i++) {
                if (prefix)
                        printf("%s | %s\n", set->v[i].svc, set->v[i].text);
                else
                        printf("%s\n", set->v[i].text);
        }
        for (size_t i = 0; i < set->n; i++)
                free(set->v[i].text);
        set->n = 0;
        fflush(stdout);
}

void cli_print_log_tail(const struct spec *s, const char *svc, size_t n, FILE *to)
{
        _cleanup_error_ berth_error *e = NULL;
        _cleanup_free_ char *dir = envs_logs_dir(s, &e);
        struct log_set set = {};
        if (dir)
                read_service(dir, svc, true, NULL, &set);
        for (size_t i = 0; i < set.n; i++) {
                if (i + n >= set.n)
                        fprintf(to, "  %s | %s\n", svc, set.v[i].text);
                free(set.v[i].text);
        }
        free(set.v);
}

static bool parse_duration(const char *s, double *ret)
{
        char *end;
        double v = strtod(s, &end);
        double unit = streq(end, "s") || !*end ? 1 : streq(end, "m") ? 60 : streq(end, "h") ? 3600 : -1;
        if (end == s || unit < 0 || v < 0)
                return false;
        *ret = v * unit;
        return true;
}

struct logs_opts {
        bool follow;
        double since;           /* seconds back; 0 = all */
        long tail;              /* -1 = all */
};

static int show(const struct spec *s, char **names, size_t n, const struct logs_opts *o)
{
        _cleanup_error_ berth_error *e = NULL;
        _cleanup_free_ char *dir = envs_logs_dir(s, &e);
        if (!dir)
                return EXIT_BERTH;
        long *pos = xcalloc(n, sizeof(long));
        struct log_set set = {};
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        for (size_t i = 0; i < n; i++) {
                struct log_set one = {};
                read_service(dir, names[i], true, &pos[i], &one);
                size_t first = o->tail >= 0 && one.n > (size_t) o->tail ? one.n - (size_t) o->tail : 0;
                for (size_t k = 0; k < one.n; k++) {
                        if (k >= first && (o->since <= 0 || one.v[k].t >= (double) now.tv_sec - o->since)) {
                                _cleanup_free_ char *line = xasprintf("%.6f x %s", one.v[k].t, one.v[k].text);
                                add_line(&set, names[i], line);
                        }
                        free(one.v[k].text);
                }
                free(one.v);
        }
        print_lines(&set, n > 1, 0);
        while (o->follow) {
                struct timespec t = { 0, 200 * 1000 * 1000 };
                nanosleep(&t, NULL);
                for (size_t i = 0; i < n; i++)
                        read_service(dir, names[i], false, &pos[i], &set);
                print_lines(&set, n > 1, 0);
        }
        free(set.v);
        free(pos);
        return EXIT_OK;
}

int cmd_logs(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = { CLI_COMMON_LONG, { "follow", no_argument, NULL, 'F' },
                                               { "since", required_argument, NULL, 'S' },
                                               { "tail", required_argument, NULL, 'T' }, {} };
        struct logs_opts o = { .tail = -1 };
        int c;
        while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT "F", opts, NULL)) != -1) {
                if (c == 'F')
                        o.follow = true;
                else if (c == 'S' && !parse_duration(optarg, &o.since))
                        return cli_usage_error(ctx, "--since: expected a duration like 30s, 10m or 2h, got `%s`", optarg);
                else if (c == 'T') {
                        char *end;
                        o.tail = strtol(optarg, &end, 10);
                        if (*end || end == optarg || o.tail < 0)
                                return cli_usage_error(ctx, "--tail: expected a number of lines, got `%s`", optarg);
                } else if (c != 'S')
                        cli_common_option(ctx, c, optarg);
        }
        _cleanup_spec_ struct spec *s = NULL;
        int st;
        if (cli_load_spec(ctx, &s, &st) < 0)
                return st;
        _cleanup_free_ char **names = xcalloc(s->n_services + (size_t) argc + 1, sizeof(char *));
        size_t n = 0;
        for (int i = optind; i < argc; i++) {
                bool known = false;
                for (size_t k = 0; k < s->n_services; k++)
                        known |= streq(s->services[k].name, argv[i]);
                if (!known)
                        return cli_usage_error(ctx, "no service named `%s` in %s", argv[i], s->path);
                names[n++] = argv[i];
        }
        if (n == 0)
                for (size_t k = 0; k < s->n_services; k++)
                        names[n++] = s->services[k].name;
        return show(s, names, n, &o);
}
