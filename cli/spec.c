#include <getopt.h>
#include <inttypes.h>

#include "cli.h"
#include "images/sign.h"
#include "specs/specs.h"

const char cmd_spec_help[] =
        "Usage: berth spec show [-f SPEC | NAME@RANGE] [--repo DIR|URL]... [--json]\n"
        "       berth spec publish [-f SPEC] --repo DIR [--key KEYFILE]\n"
        "       berth spec yank NAME@VERSION --repo DIR [--key KEYFILE]\n"
        "       berth spec versions NAME [--repo DIR|URL]...\n"
        "       berth spec keygen KEYFILE\n"
        "       berth spec diff A B [--json]   (A, B: a file or NAME@VERSION)\n"
        "\n"
        "Ops: print a spec (a file, normalized, or a published version as written;\n"
        "--json prints the resolved model), publish a version to a spec\n"
        "repository (versions are immutable), withdraw one from ranges (yank),\n"
        "list the versions, make an Ed25519 key pair to sign an index with,\n"
        "or compare two resolved specs key by key.\n"
        "Repositories: --repo (repeatable), then $BERTH_SPEC_REPOS (space\n"
        "separated), then the spec's repos:. See docs/SPEC.md.\n";

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
                json_array_append_new(a, json_pack("{s:o,s:i,s:i,s:s}", "host_ip", json_str_or_null(p[i].host_ip),
                                                   "host_port", (int) p[i].host_port, "container_port",
                                                   (int) p[i].container_port, "protocol", p[i].udp ? "udp" : "tcp"));
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

char *cli_spec_size(uint64_t b)
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
                /* berth.lock's pin of a tag, shown as the reference it pulls */
                bool pin = l[i].oci && l[i].sha256 && !strchr(l[i].oci, '@');
                _cleanup_free_ char *pinned = pin ? xasprintf("%s@sha256:%s", l[i].oci, l[i].sha256) : NULL;
                _cleanup_free_ char *src = yq(l[i].url ? l[i].url : pinned ? pinned : l[i].oci ? l[i].oci
                                              : l[i].oci_archive ? l[i].oci_archive : l[i].docker_archive);
                printf("%*s- %s: %s\n", ind + 2, "", key, src);
                put_kv(ind + 4, "sha256", l[i].oci ? NULL : l[i].sha256);
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
                _cleanup_free_ char *size = m[i].size ? cli_spec_size(m[i].size) : NULL;
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
                printf("%s\"%s%s%s%s%u:%u%s\"", i ? ", " : "", v6 ? "[" : "", p[i].host_ip ? p[i].host_ip : "",
                       v6 ? "]" : "", p[i].host_ip ? ":" : "", p[i].host_port, p[i].container_port,
                       p[i].udp ? "/udp" : "");
        }
        printf("]\n");
}

static void show_resources(int ind, const struct spec_resources *r)
{
        if (!r->memory && !r->millicpus && !r->pids && !r->nofile)
                return;
        printf("%*sresources:\n", ind, "");
        if (r->memory) {
                _cleanup_free_ char *m = cli_spec_size(r->memory);
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

struct spec_args {
        const char *key;        /* --key */
};

static int spec_show_file(struct cli_ctx *ctx)
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

/* "name@range" into its two halves; a usage error if it is not one. */
static int split_ref(struct cli_ctx *ctx, const char *ref, char **ret_name, char **ret_range)
{
        const char *at = strchr(ref, '@');
        _cleanup_free_ char *name = at ? xstrndup(ref, (size_t) (at - ref)) : xstrdup(ref);
        if (!spec_valid_name(name) || (at && !at[1]))
                return cli_usage_error(ctx, "expected NAME@RANGE like base-debian@^2.1, got `%s`", ref);
        *ret_name = TAKE_PTR(name);
        *ret_range = xstrdup(at ? at + 1 : "*");
        return 0;
}

/* The first configured repository with a version of name in range. */
static int find_published(struct cli_ctx *ctx, const struct spec_resolver *r, const char *name, const char *range,
                          struct spec_repo *ret_repo, struct spec_index **ret_idx,
                          const struct spec_index_entry **ret_entry, char **ret_warning, berth_error **err)
{
        if (r->n_repos == 0)
                return berth_error_make(err, BERTH_E_USAGE, 0,
                                        "no spec repository given (--repo or BERTH_SPEC_REPOS)");
        for (size_t i = 0; i < r->n_repos; i++) {
                _cleanup_index_ struct spec_index *idx = NULL;
                if (spec_repo_index(r->io, &r->repos[i], NULL, &idx, err) < 0)
                        return -1;
                berth_error *miss = NULL;
                if (spec_index_select(idx, name, range, r->repos[i].url, ret_entry, ret_warning, &miss) == 0) {
                        *ret_repo = r->repos[i];
                        *ret_idx = TAKE_PTR(idx);
                        return 0;
                }
                if (i + 1 == r->n_repos || miss->kind != BERTH_E_NOTFOUND) {
                        *err = *err ? *err : miss;
                        return -1;
                }
                berth_error_free(miss);
        }
        return -1;
}

static int spec_show_published(struct cli_ctx *ctx, const char *ref)
{
        _cleanup_free_ char *name = NULL, *range = NULL, *buf = NULL, *warning = NULL;
        int st = split_ref(ctx, ref, &name, &range);
        if (st)
                return st;
        struct spec_resolver r;
        cli_spec_resolver(ctx, &r);
        _cleanup_error_ berth_error *err = NULL;
        _cleanup_index_ struct spec_index *idx = NULL;
        const struct spec_index_entry *e;
        struct spec_repo repo;
        size_t len;
        _cleanup_spec_ struct spec *s = NULL;
        int rc = find_published(ctx, &r, name, range, &repo, &idx, &e, &warning, &err);
        if (rc == 0)
                rc = spec_repo_spec(r.io, &repo, e, &buf, &len, &err);
        if (rc == 0 && ctx->json) {
                _cleanup_free_ char *label = xasprintf("%s@%s", e->name, e->version), *cwd = get_current_dir_name();
                rc = spec_parse_resolved(label, buf, len, cwd ? cwd : "/", NULL, &r, &s, &err);
        }
        cli_spec_resolver_done(&r);
        if (rc < 0)
                return cli_report(ctx, err);
        /* Only now: the static front may have handed the command on before. */
        if (warning)
                berth_warn(&ctx->warnings, NULL, "%s", warning);
        if (ctx->json)
                cli_print_json(json_spec(s));
        else
                fwrite(buf, 1, len, stdout);
        return EXIT_OK;
}

static int spec_publish(struct cli_ctx *ctx, const struct spec_args *a)
{
        if (strv_length(ctx->repos) != 1)
                return cli_usage_error(ctx, "give the repository folder to publish to with one --repo DIR");
        struct spec_resolver r;
        cli_spec_resolver(ctx, &r);
        _cleanup_error_ berth_error *err = NULL;
        _cleanup_spec_ struct spec *s = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int rc = spec_load_bytes(ctx->spec_path, &r, &s, &buf, &len, &err);
        cli_spec_resolver_done(&r);
        if (rc == 0)
                rc = spec_repo_publish(cli_spec_io(), ctx->repos[0], s, buf, len, a->key, &err);
        if (rc < 0) {
                if (err->kind == BERTH_E_LIMIT)
                        err->kind = BERTH_E_INVALID;
                return cli_report(ctx, err);
        }
        if (ctx->json)
                cli_print_json(json_pack("{s:s,s:s,s:s,s:b}", "name", s->name, "version", s->version, "repo",
                                         ctx->repos[0], "signed", a->key != NULL));
        else if (ctx->verbosity >= 0)
                printf("published %s@%s to %s%s\n", s->name, s->version, ctx->repos[0], a->key ? " (signed)" : "");
        return EXIT_OK;
}

static int spec_yank(struct cli_ctx *ctx, const struct spec_args *a, const char *ref)
{
        if (strv_length(ctx->repos) != 1)
                return cli_usage_error(ctx, "give the repository folder with one --repo DIR");
        const char *at = strchr(ref, '@');
        if (!at)
                return cli_usage_error(ctx, "expected NAME@VERSION, got `%s`", ref);
        _cleanup_free_ char *name = xstrndup(ref, (size_t) (at - ref));
        _cleanup_error_ berth_error *err = NULL;
        if (spec_repo_yank(cli_spec_io(), ctx->repos[0], name, at + 1, a->key, &err) < 0)
                return cli_report(ctx, err);
        if (ctx->json)
                cli_print_json(json_pack("{s:s,s:s,s:b}", "name", name, "version", at + 1, "yanked", 1));
        else if (ctx->verbosity >= 0)
                printf("yanked %s\n", ref);
        return EXIT_OK;
}

static int spec_versions(struct cli_ctx *ctx, const char *name)
{
        if (!spec_valid_name(name))
                return cli_usage_error(ctx, "expected a spec name, got `%s`", name);
        struct spec_resolver r;
        cli_spec_resolver(ctx, &r);
        _cleanup_error_ berth_error *err = NULL;
        _cleanup_index_ struct spec_index *idx = NULL;
        const struct spec_index_entry *e;
        struct spec_repo repo;
        int rc = find_published(ctx, &r, name, "*", &repo, &idx, &e, NULL, &err);
        if (rc < 0 && err->kind == BERTH_E_NOTFOUND && strstr(err->msg, "no version of")) {
                /* Only yanked or prerelease versions: still worth listing. */
                berth_error_freep(&err);
                rc = find_published(ctx, &r, name, ">=0.0.0-0", &repo, &idx, &e, NULL, &err);
        }
        json_t *list = json_array();
        for (size_t i = 0; rc == 0 && i < idx->n; i++) {
                const struct spec_index_entry *x = &idx->entries[i];
                if (!streq(x->name, name))
                        continue;
                if (ctx->json)
                        json_array_append_new(list, json_pack("{s:s,s:b,s:s,s:s,s:s}", "version", x->version, "yanked",
                                                              x->yanked, "published", x->published, "sha256",
                                                              x->sha256, "repo", repo.url));
                else
                        printf("%s%s\n", x->version, x->yanked ? "  (yanked)" : "");
        }
        cli_spec_resolver_done(&r);
        if (rc < 0) {
                json_decref(list);
                return cli_report(ctx, err);
        }
        if (ctx->json)
                cli_print_json(list);
        else
                json_decref(list);
        return EXIT_OK;
}

/* ---- diff ---------------------------------------------------------------- */

/* A or B: a file, or NAME@VERSION (any range) from the repositories. */
static int load_side(struct cli_ctx *ctx, const char *arg, struct spec **ret, berth_error **err)
{
        if (access(arg, F_OK) == 0 || !strchr(arg, '@')) {
                const char *saved = ctx->spec_path;
                ctx->spec_path = arg;
                int rc = cli_spec_load(ctx, ret, err);
                ctx->spec_path = saved;
                return rc;
        }
        _cleanup_free_ char *name = NULL, *range = NULL, *buf = NULL, *warning = NULL;
        const char *at = strchr(arg, '@');
        name = xstrndup(arg, (size_t) (at - arg));
        range = xstrdup(at + 1);
        struct spec_resolver r;
        cli_spec_resolver(ctx, &r);
        _cleanup_index_ struct spec_index *idx = NULL;
        const struct spec_index_entry *e;
        struct spec_repo repo;
        size_t len;
        int rc = find_published(ctx, &r, name, range, &repo, &idx, &e, &warning, err);
        if (rc == 0)
                rc = spec_repo_spec(r.io, &repo, e, &buf, &len, err);
        if (rc == 0) {
                _cleanup_free_ char *label = xasprintf("%s@%s", e->name, e->version), *cwd = get_current_dir_name();
                rc = spec_parse_resolved(label, buf, len, cwd ? cwd : "/", NULL, &r, ret, err);
        }
        cli_spec_resolver_done(&r);
        return rc;
}

/* The model as JSON, services keyed by name, without where it was read. */
static json_t *diffable(const struct spec *s)
{
        json_t *o = json_spec(s), *by_name = json_object(), *v;
        size_t i;
        json_array_foreach(json_object_get(o, "services"), i, v)
                json_object_set(by_name, json_string_value(json_object_get(v, "name")), v);
        json_object_set_new(o, "services", by_name);
        json_object_del(o, "path");
        json_object_del(o, "dir");
        return o;
}

static void add_change(json_t *out, const char *key, json_t *a, json_t *b)
{
        json_array_append_new(out, json_pack("{s:s,s:O,s:O}", "key", key, "a", a ? a : json_null(), "b",
                                             b ? b : json_null()));
}

static void diff_values(const char *key, json_t *a, json_t *b, json_t *out);

static void diff_objects(const char *key, json_t *a, json_t *b, json_t *out)
{
        const char *k;
        json_t *v;
        /* Keys in order, so the report is stable: a's, then b's new ones. */
        json_t *keys = json_array();
        json_object_foreach(a, k, v) json_array_append_new(keys, json_string(k));
        json_object_foreach(b, k, v) if (!json_object_get(a, k)) json_array_append_new(keys, json_string(k));
        size_t i;
        json_array_foreach(keys, i, v) {
                k = json_string_value(v);
                _cleanup_free_ char *sub = *key ? xasprintf("%s.%s", key, k) : xstrdup(k);
                diff_values(sub, json_object_get(a, k), json_object_get(b, k), out);
        }
        json_decref(keys);
}

static void diff_arrays(const char *key, json_t *a, json_t *b, json_t *out)
{
        size_t n = json_array_size(a) > json_array_size(b) ? json_array_size(a) : json_array_size(b);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *sub = xasprintf("%s[%zu]", key, i);
                diff_values(sub, json_array_get(a, i), json_array_get(b, i), out);
        }
}

static void diff_values(const char *key, json_t *a, json_t *b, json_t *out)
{
        if (a && b && json_equal(a, b))
                return;
        if (json_is_object(a) && json_is_object(b))
                return diff_objects(key, a, b, out);
        /* Lists of scalars (command, capabilities) read best whole. */
        bool scalars = true;
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) scalars = scalars && !json_is_object(v);
        json_array_foreach(b, i, v) scalars = scalars && !json_is_object(v);
        if (json_is_array(a) && json_is_array(b) && !scalars)
                return diff_arrays(key, a, b, out);
        if ((!a || json_is_null(a)) && (!b || json_is_null(b)))
                return;
        add_change(out, key, a, b);
}

static char *show_value(json_t *v)
{
        if (!v || json_is_null(v))
                return xstrdup("(none)");
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
        return s ? s : xstrdup("?");
}

static int spec_diff(struct cli_ctx *ctx, const char *a_arg, const char *b_arg)
{
        _cleanup_error_ berth_error *err = NULL;
        _cleanup_spec_ struct spec *a = NULL, *b = NULL;
        if (load_side(ctx, a_arg, &a, &err) < 0 || load_side(ctx, b_arg, &b, &err) < 0)
                return cli_report(ctx, err);
        json_t *ja = diffable(a), *jb = diffable(b), *changes = json_array();
        diff_values("", ja, jb, changes);
        json_decref(ja);
        json_decref(jb);
        if (ctx->json) {
                cli_print_json(changes);
                return EXIT_OK;
        }
        size_t i;
        json_t *c;
        json_array_foreach(changes, i, c) {
                _cleanup_free_ char *va = show_value(json_object_get(c, "a")), *vb = show_value(json_object_get(c, "b"));
                printf("%s: %s -> %s\n", json_string_value(json_object_get(c, "key")), va, vb);
        }
        json_decref(changes);
        return EXIT_OK;
}

static int spec_keygen(struct cli_ctx *ctx, const char *path)
{
        _cleanup_error_ berth_error *err = NULL;
        if (images_key_generate(path, &err) < 0)
                return cli_report(ctx, err);
        if (ctx->json)
                cli_print_json(json_pack("{s:s,s:s++}", "private", path, "public", path, ".pub"));
        else if (ctx->verbosity >= 0)
                printf("wrote %s (private, mode 0600) and %s.pub\n", path, path);
        return EXIT_OK;
}

static int parse_options(struct cli_ctx *ctx, int argc, char **argv, struct spec_args *a)
{
        static const struct option opts[] = { CLI_COMMON_LONG, { "key", required_argument, NULL, 'K' }, {} };
        int c;
        while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
                if (c == 'K')
                        a->key = optarg;
                else if (!cli_common_option(ctx, c, optarg))
                        return cli_usage_error(ctx, "unexpected option; see `berth spec --help`");
        }
        return 0;
}

/* Options before and after the subcommand and its arguments; the
 * positional arguments are left in args. */
static int parse_all(struct cli_ctx *ctx, int argc, char **argv, struct spec_args *a, char ***ret_args)
{
        _cleanup_strv_ char **args = NULL;
        while (optind < argc) {
                int r = parse_options(ctx, argc, argv, a);
                if (r)
                        return r;
                if (optind < argc)
                        args = strv_append(args, xstrdup(argv[optind++]));
        }
        *ret_args = TAKE_PTR(args);
        return 0;
}

static int want_args(struct cli_ctx *ctx, char **args, size_t n, const char *what)
{
        if (strv_length(args) != n + 1)
                return cli_usage_error(ctx, "expected %s; see `berth spec --help`", what);
        return 0;
}

static int run_sub(struct cli_ctx *ctx, const char *sub, char **args, const struct spec_args *a)
{
        int r;
        if (streq(sub, "show"))
                return strv_length(args) == 1 ? spec_show_file(ctx)
                       : (r = want_args(ctx, args, 1, "NAME@RANGE or -f SPEC")) ? r
                                                                                 : spec_show_published(ctx, args[1]);
        if (streq(sub, "publish"))
                return (r = want_args(ctx, args, 0, "no argument (the spec is given with -f)")) ? r
                                                                                                : spec_publish(ctx, a);
        if (streq(sub, "yank"))
                return (r = want_args(ctx, args, 1, "NAME@VERSION")) ? r : spec_yank(ctx, a, args[1]);
        if (streq(sub, "versions"))
                return (r = want_args(ctx, args, 1, "NAME")) ? r : spec_versions(ctx, args[1]);
        if (streq(sub, "keygen"))
                return (r = want_args(ctx, args, 1, "KEYFILE")) ? r : spec_keygen(ctx, args[1]);
        return (r = want_args(ctx, args, 2, "A B (each a file or NAME@VERSION)")) ? r : spec_diff(ctx, args[1], args[2]);
}

int cmd_spec(struct cli_ctx *ctx, int argc, char **argv)
{
        static const char *const subs[] = { "show", "publish", "diff", "yank", "versions", "keygen", NULL };
        struct spec_args a = {};
        _cleanup_strv_ char **args = NULL;
        int r = parse_all(ctx, argc, argv, &a, &args);
        if (r)
                return r;
        if (!args)
                return cli_usage_error(ctx, "expected show, publish, yank, versions, keygen or diff; see `berth "
                                            "spec --help`");
        const char *sub = args[0];
        size_t i = 0;
        while (subs[i] && !streq(subs[i], sub))
                i++;
        if (!subs[i]) {
                const char *hint = closest_match(sub, subs);
                return cli_usage_error(ctx, "unknown subcommand `%s`%s%s%s", sub, hint ? "; did you mean `" : "",
                                       hint ? hint : "", hint ? "`?" : "");
        }
        static const char *const verbs[] = { "spec show", "spec publish", "spec diff", "spec yank", "spec versions",
                                             "spec keygen" };
        ctx->verb = verbs[i];
        return run_sub(ctx, sub, args, &a);
}
