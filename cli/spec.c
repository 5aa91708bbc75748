#include <getopt.h>
#include <inttypes.h>

#include "cli.h"
#include "specs/specs.h"

const char cmd_spec_help[] =
        "Usage: berth spec show [-f SPEC] [--json]\n"
        "       berth spec publish|diff ...   (not implemented yet)\n"
        "\n"
        "Ops: print the normalized spec (relative paths resolved, sizes in\n"
        "bytes and durations in milliseconds under --json, services in start\n"
        "order), publish a spec version to a spec repository, or compare two.\n";

/* ---- JSON -------------------------------------------------------------- */

static json_t *json_str_or_null(const char *s)
{
        return s ? json_string(s) : json_null();
}

static json_t *json_strv(char *const *v)
{
        json_t *a = json_array();
        for (size_t i = 0; v && v[i]; i++)
                json_array_append_new(a, json_string(v[i]));
        return a;
}

static json_t *json_uint_or_null(uint64_t v)
{
        return v ? json_integer((json_int_t) v) : json_null();
}

static json_t *json_layers(const struct spec_layer *l, size_t n)
{
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++) {
                json_t *o = json_pack("{s:o,s:o,s:o,s:o,s:o}", "name", json_str_or_null(l[i].name), "version",
                                      json_str_or_null(l[i].version), "url", json_str_or_null(l[i].url), "sha256",
                                      json_str_or_null(l[i].sha256), "check",
                                      l[i].check ? json_strv(l[i].check) : json_null());
                static const char *const keys[] = { "oci", "oci-archive", "docker-archive", "ref", "platform" };
                const char *vals[] = { l[i].oci, l[i].oci_archive, l[i].docker_archive, l[i].ref, l[i].platform };
                for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
                        if (vals[k])
                                json_object_set_new(o, keys[k], json_string(vals[k]));
                json_array_append_new(a, o);
        }
        return a;
}

static const char *mount_type_name(enum spec_mount_type t)
{
        return t == SPEC_MOUNT_BIND ? "bind" : t == SPEC_MOUNT_TMPFS ? "tmpfs" : "volume";
}

static json_t *json_mounts(const struct spec_mount *m, size_t n)
{
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(a, json_pack("{s:s,s:o,s:s,s:b,s:o}", "type", mount_type_name(m[i].type),
                                                   "source", json_str_or_null(m[i].source), "target", m[i].target,
                                                   "read_only", m[i].read_only, "size",
                                                   json_uint_or_null(m[i].size)));
        return a;
}

static json_t *json_env(const struct spec_env *e, size_t n)
{
        json_t *o = json_object();
        for (size_t i = 0; i < n; i++)
                json_object_set_new(o, e[i].name, json_string(e[i].value));
        return o;
}

static json_t *json_ports(const struct spec_port *p, size_t n)
{
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(a, json_pack("{s:o,s:i,s:i}", "host_ip", json_str_or_null(p[i].host_ip),
                                                   "host_port", (int) p[i].host_port, "container_port",
                                                   (int) p[i].container_port));
        return a;
}

static json_t *json_resources(const struct spec_resources *r)
{
        return json_pack("{s:o,s:o,s:o,s:o}", "memory", json_uint_or_null(r->memory), "cpus",
                         r->millicpus ? json_real(r->millicpus / 1000.0) : json_null(), "pids",
                         json_uint_or_null(r->pids), "nofile", json_uint_or_null(r->nofile));
}

static const char *const seccomp_names[] = { "default", "unconfined", "profile" };
static const char *const network_names[] = { "private", "none", "host" };
static const char *const restart_names[] = { "no", "on-failure", "always" };

static json_t *json_security(const struct spec_security *s)
{
        return json_pack("{s:s,s:o,s:{s:o,s:o},s:b}", "seccomp", seccomp_names[s->seccomp], "seccomp_profile",
                         json_str_or_null(s->seccomp_profile), "capabilities", "add", json_strv(s->cap_add), "drop",
                         json_strv(s->cap_drop), "read_only", s->read_only);
}

static json_t *json_healthcheck(const struct spec_healthcheck *h)
{
        if (!h->command)
                return json_null();
        return json_pack("{s:o,s:I,s:I,s:I,s:I}", "command", json_strv(h->command), "interval_ms",
                         (json_int_t) h->interval_ms, "timeout_ms", (json_int_t) h->timeout_ms, "retries",
                         (json_int_t) h->retries, "start_period_ms", (json_int_t) h->start_period_ms);
}

static json_t *json_service(const struct spec_service *v)
{
        json_t *o = json_pack("{s:s,s:o,s:o,s:o,s:o}", "name", v->name, "image", json_layers(v->image, v->n_image),
                              "command", json_strv(v->command), "user", json_str_or_null(v->user), "workdir",
                              json_str_or_null(v->workdir));
        json_object_set_new(o, "env", json_env(v->env, v->n_env));
        json_object_set_new(o, "mounts", json_mounts(v->mounts, v->n_mounts));
        json_object_set_new(o, "ports", json_ports(v->ports, v->n_ports));
        json_object_set_new(o, "healthcheck", json_healthcheck(&v->healthcheck));
        json_object_set_new(o, "restart", json_string(restart_names[v->restart]));
        json_object_set_new(o, "stop_timeout_ms", json_integer((json_int_t) v->stop_timeout_ms));
        json_object_set_new(o, "resources", json_resources(&v->resources));
        json_object_set_new(o, "depends_on", json_strv(v->depends_on));
        return o;
}

static json_t *json_spec(const struct spec *s)
{
        json_t *o = json_pack("{s:s,s:s,s:i,s:s,s:o,s:o,s:o}", "path", s->path, "dir", s->dir, "berth", s->schema,
                              "name", s->name, "version", json_str_or_null(s->version), "description",
                              json_str_or_null(s->description), "extends", json_str_or_null(s->extends));
        json_object_set_new(o, "image", json_layers(s->image, s->n_image));
        json_object_set_new(o, "workdir", json_string(s->workdir ? s->workdir : "/"));
        json_object_set_new(o, "mounts", json_mounts(s->mounts, s->n_mounts));
        json_object_set_new(o, "env", json_env(s->env, s->n_env));
        json_object_set_new(o, "user", json_str_or_null(s->user));
        json_object_set_new(o, "resources", json_resources(&s->resources));
        json_object_set_new(o, "network", json_string(network_names[s->network]));
        json_object_set_new(o, "ports", json_ports(s->ports, s->n_ports));
        json_object_set_new(o, "security", json_security(&s->security));
        json_t *svcs = json_array();
        for (size_t i = 0; i < s->n_services; i++)
                json_array_append_new(svcs, json_service(&s->services[i]));
        json_object_set_new(o, "services", svcs);
        return o;
}

/* ---- human: YAML-ish, readable back as YAML ---------------------------- */

/* Plain when it cannot be misread as another YAML type; else double-quoted. */
static char *yq(const char *s)
{
        static const char *const reserved[] = { "true", "false", "null", "~", "yes", "no", "on", "off", NULL };
        bool plain = *s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./@+-") ==
                                   strlen(s) && !strchr("-.", s[0]);
        for (size_t i = 0; plain && reserved[i]; i++)
                plain = strcasecmp(s, reserved[i]) != 0;
        /* A string that reads as a number stays a string. */
        char *end;
        if (plain && (strtod(s, &end), *end == '\0'))
                plain = false;
        if (plain)
                return xstrdup(s);
        json_t *j = json_string(s);
        char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
        json_decref(j);
        return q ? q : xstrdup("\"\"");
}

static char *fmt_size(uint64_t b)
{
        static const struct { uint64_t f; const char *u; } units[] = { { 1ULL << 30, "GiB" }, { 1ULL << 20, "MiB" },
                                                                        { 1ULL << 10, "KiB" } };
        for (size_t i = 0; i < ARRAY_SIZE(units); i++)
                if (b % units[i].f == 0)
                        return xasprintf("%" PRIu64 "%s", b / units[i].f, units[i].u);
        return xasprintf("%" PRIu64 "B", b);
}

static char *fmt_duration(uint64_t ms)
{
        static const struct { uint64_t f; const char *u; } units[] = { { 3600000, "h" }, { 60000, "m" }, { 1000, "s" } };
        if (ms == 0)
                return xstrdup("0s");
        for (size_t i = 0; i < ARRAY_SIZE(units); i++)
                if (ms % units[i].f == 0)
                        return xasprintf("%" PRIu64 "%s", ms / units[i].f, units[i].u);
        return xasprintf("%" PRIu64 "ms", ms);
}

static void put_kv(int ind, const char *key, const char *value)
{
        if (!value)
                return;
        _cleanup_free_ char *q = yq(value);
        printf("%*s%s: %s\n", ind, "", key, q);
}

static void put_list(int ind, const char *key, char *const *v)
{
        if (!v)
                return;
        printf("%*s%s: [", ind, "", key);
        for (size_t i = 0; v[i]; i++) {
                _cleanup_free_ char *q = yq(v[i]);
                printf("%s%s", i ? ", " : "", q);
        }
        printf("]\n");
}

static void show_layers(int ind, const struct spec_layer *l, size_t n)
{
        if (!n)
                return;
        printf("%*simage:\n", ind, "");
        for (size_t i = 0; i < n; i++) {
                const char *key = l[i].url ? "url" : l[i].oci ? "oci" : l[i].oci_archive ? "oci-archive"
                                                                                  : "docker-archive";
                _cleanup_free_ char *src = yq(l[i].url ? l[i].url : l[i].oci ? l[i].oci
                                              : l[i].oci_archive ? l[i].oci_archive : l[i].docker_archive);
                printf("%*s- %s: %s\n", ind + 2, "", key, src);
                put_kv(ind + 4, "sha256", l[i].sha256);
                put_kv(ind + 4, "ref", l[i].ref);
                put_kv(ind + 4, "platform", l[i].platform);
                put_kv(ind + 4, "name", l[i].name);
                put_kv(ind + 4, "version", l[i].version);
                put_list(ind + 4, "check", l[i].check);
        }
}

static void show_mounts(int ind, const struct spec_mount *m, size_t n)
{
        if (!n)
                return;
        printf("%*smounts:\n", ind, "");
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *src = m[i].source ? yq(m[i].source) : NULL, *tgt = yq(m[i].target);
                _cleanup_free_ char *size = m[i].size ? fmt_size(m[i].size) : NULL;
                printf("%*s- {type: %s, ", ind + 2, "", mount_type_name(m[i].type));
                if (src)
                        printf("%s: %s, ", m[i].type == SPEC_MOUNT_VOLUME ? "volume" : "source", src);
                printf("target: %s, read_only: %s", tgt, m[i].read_only ? "true" : "false");
                if (size)
                        printf(", size: %s", size);
                printf("}\n");
        }
}

static void show_env(int ind, const struct spec_env *e, size_t n)
{
        if (!n)
                return;
        printf("%*senv:\n", ind, "");
        for (size_t i = 0; i < n; i++)
                put_kv(ind + 2, e[i].name, e[i].value);
}

static void show_ports(int ind, const struct spec_port *p, size_t n)
{
        if (!n)
                return;
        printf("%*sports: [", ind, "");
        for (size_t i = 0; i < n; i++) {
                bool v6 = p[i].host_ip && strchr(p[i].host_ip, ':');
                printf("%s\"%s%s%s%s%u:%u\"", i ? ", " : "", v6 ? "[" : "", p[i].host_ip ? p[i].host_ip : "",
                       v6 ? "]" : "", p[i].host_ip ? ":" : "", p[i].host_port, p[i].container_port);
        }
        printf("]\n");
}

static void show_resources(int ind, const struct spec_resources *r)
{
        if (!r->memory && !r->millicpus && !r->pids && !r->nofile)
                return;
        printf("%*sresources:\n", ind, "");
        if (r->memory) {
                _cleanup_free_ char *m = fmt_size(r->memory);
                printf("%*smemory: %s\n", ind + 2, "", m);
        }
        if (r->millicpus)
                printf("%*scpus: %g\n", ind + 2, "", r->millicpus / 1000.0);
        if (r->pids)
                printf("%*spids: %" PRIu64 "\n", ind + 2, "", r->pids);
        if (r->nofile)
                printf("%*snofile: %" PRIu64 "\n", ind + 2, "", r->nofile);
}

static void show_security(const struct spec_security *s)
{
        printf("security:\n");
        put_kv(2, "seccomp", s->seccomp == SPEC_SECCOMP_PROFILE ? s->seccomp_profile : seccomp_names[s->seccomp]);
        char *none[] = { NULL };
        printf("  capabilities:\n");
        put_list(4, "add", s->cap_add ? s->cap_add : none);
        put_list(4, "drop", s->cap_drop ? s->cap_drop : none);
        printf("  read_only: %s\n", s->read_only ? "true" : "false");
}

static void show_service(const struct spec_service *v)
{
        _cleanup_free_ char *stop = fmt_duration(v->stop_timeout_ms);
        printf("  %s:\n", v->name);
        show_layers(4, v->image, v->n_image);
        put_list(4, "command", v->command);
        put_kv(4, "user", v->user);
        put_kv(4, "workdir", v->workdir);
        show_env(4, v->env, v->n_env);
        show_mounts(4, v->mounts, v->n_mounts);
        show_ports(4, v->ports, v->n_ports);
        if (v->healthcheck.command) {
                const struct spec_healthcheck *h = &v->healthcheck;
                _cleanup_free_ char *iv = fmt_duration(h->interval_ms), *to = fmt_duration(h->timeout_ms),
                                    *sp = fmt_duration(h->start_period_ms);
                printf("    healthcheck:\n");
                put_list(6, "command", h->command);
                printf("      interval: %s\n      timeout: %s\n      retries: %u\n      start_period: %s\n", iv, to,
                       h->retries, sp);
        }
        _cleanup_free_ char *restart = yq(restart_names[v->restart]);
        printf("    restart: %s\n    stop_timeout: %s\n", restart, stop);
        show_resources(4, &v->resources);
        put_list(4, "depends_on", v->depends_on);
}

static void show_human(const struct spec *s)
{
        printf("berth: %d\n", s->schema);
        put_kv(0, "name", s->name);
        put_kv(0, "version", s->version);
        put_kv(0, "description", s->description);
        show_layers(0, s->image, s->n_image);
        put_kv(0, "workdir", s->workdir ? s->workdir : "/");
        show_mounts(0, s->mounts, s->n_mounts);
        show_env(0, s->env, s->n_env);
        put_kv(0, "user", s->user);
        show_resources(0, &s->resources);
        printf("network: %s\n", network_names[s->network]);
        show_ports(0, s->ports, s->n_ports);
        show_security(&s->security);
        if (s->n_services)
                printf("services:  # in start order\n");
        for (size_t i = 0; i < s->n_services; i++)
                show_service(&s->services[i]);
}

/* ---- the verb ---------------------------------------------------------- */

static int spec_show(struct cli_ctx *ctx)
{
        _cleanup_spec_ struct spec *s = NULL;
        int status;
        if (cli_load_spec(ctx, &s, &status) < 0)
                return status;
        if (ctx->json)
                cli_print_json(json_spec(s));
        else
                show_human(s);
        return EXIT_OK;
}

static int parse_options(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = { CLI_COMMON_LONG, {} };
        int c;
        while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1)
                if (!cli_common_option(ctx, c, optarg))
                        return cli_usage_error(ctx, "unexpected option; see `berth spec --help`");
        return 0;
}

int cmd_spec(struct cli_ctx *ctx, int argc, char **argv)
{
        static const char *const subs[] = { "show", "publish", "diff", NULL };
        int r = parse_options(ctx, argc, argv);
        if (r)
                return r;
        if (optind >= argc)
                return cli_usage_error(ctx, "expected show, publish or diff; see `berth spec --help`");
        const char *sub = argv[optind];
        if (streq(sub, "publish") || streq(sub, "diff")) {
                ctx->verb = streq(sub, "publish") ? "spec publish" : "spec diff";
                return cli_not_implemented(ctx);
        }
        if (!streq(sub, "show")) {
                const char *hint = closest_match(sub, subs);
                return cli_usage_error(ctx, "unknown subcommand `%s`%s%s%s", sub, hint ? "; did you mean `" : "",
                                       hint ? hint : "", hint ? "`?" : "");
        }
        /* Options may follow the subcommand too: `spec show -f x --json`. */
        argc -= optind;
        argv += optind;
        optind = 0;
        r = parse_options(ctx, argc, argv);
        if (r)
                return r;
        ctx->verb = "spec show";
        if (optind < argc)
                return cli_usage_error(ctx, "unexpected argument `%s`; the spec is given with -f", argv[optind]);
        return spec_show(ctx);
}
