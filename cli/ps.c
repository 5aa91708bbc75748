#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "envs/envs.h"

const char cmd_ps_help[] =
        "Usage: berth ps [-f SPEC] [--json]\n"
        "\n"
        "List the environment's services: state (waiting, starting, running,\n"
        "healthy, unhealthy, restarting, exited N, stopped), pid, uptime,\n"
        "restarts and published ports (HOST-IP:HOST-PORT->PORT/tcp; the dev\n"
        "sandbox's on a line of their own). Exit status 1 when the environment's\n"
        "supervisor is dead.\n";

/* "a, b" from a JSON array of strings; "" when empty or absent. */
static char *joined(json_t *a)
{
        char *out = xstrdup("");
        json_t *p;
        size_t i;
        json_array_foreach(a, i, p) {
                char *next = xasprintf("%s%s%s", out, i ? ", " : "", json_string_value(p));
                free(out);
                out = next;
        }
        return out;
}

static void print_table(json_t *doc)
{
        json_t *v;
        size_t i;
        printf("%-20s %-14s %8s %9s %8s  %s\n", "SERVICE", "STATE", "PID", "UPTIME", "RESTARTS", "PORTS");
        json_array_foreach(json_object_get(doc, "services"), i, v) {
                char state[32];
                const char *st = json_string_value(json_object_get(v, "state"));
                json_t *code = json_object_get(v, "exit_status");
                if (code && streq(st, "exited"))
                        snprintf(state, sizeof(state), "exited %" JSON_INTEGER_FORMAT, json_integer_value(code));
                else
                        snprintf(state, sizeof(state), "%s", st);
                json_int_t pid = json_integer_value(json_object_get(v, "pid"));
                json_int_t up = json_integer_value(json_object_get(v, "uptime_ms")) / 1000;
                char pids[24] = "-", ups[24] = "-";
                if (pid > 0) {
                        snprintf(pids, sizeof(pids), "%" JSON_INTEGER_FORMAT, pid);
                        snprintf(ups, sizeof(ups), "%" JSON_INTEGER_FORMAT "s", up);
                }
                _cleanup_free_ char *ports = joined(json_object_get(v, "ports"));
                printf("%-20s %-14s %8s %9s %8" JSON_INTEGER_FORMAT "%s%s\n",
                       json_string_value(json_object_get(v, "name")), state, pids, ups,
                       json_integer_value(json_object_get(v, "restarts")), *ports ? "  " : "", ports);
        }
        _cleanup_free_ char *own = joined(json_object_get(doc, "ports"));
        if (*own)
                printf("the dev sandbox's ports: %s\n", own);
}

int cmd_ps(struct cli_ctx *ctx, int argc, char **argv)
{
        int st = cli_parse_common_only(ctx, argc, argv);
        if (st)
                return st;
        _cleanup_spec_ struct spec *s = NULL;
        _cleanup_error_ berth_error *err = NULL;
        if (cli_load_spec(ctx, &s, &st) < 0)
                return st;
        enum envs_liveness live;
        json_t *doc = NULL;
        if (envs_status(s, &live, &doc, &err) < 0)
                return cli_report(ctx, err);
        static const char *const names[] = { "down", "up", "dead" };
        if (ctx->json) {
                json_t *out = doc ? doc : json_pack("{s:[]}", "services");
                json_object_set_new(out, "environment", json_string(names[live]));
                cli_print_json(out);
        } else if (live == ENVS_UP) {
                print_table(doc);
                json_decref(doc);
        } else if (live == ENVS_DEAD)
                fprintf(stderr, "berth: %s: the supervisor is dead (its services with it); `berth down` cleans up, "
                        "`berth up` starts it again\n", s->name);
        else if (ctx->verbosity >= 0)
                fprintf(stderr, "berth: %s is not up\n", s->name);
        return live == ENVS_DEAD ? EXIT_FAIL : EXIT_OK;
}
