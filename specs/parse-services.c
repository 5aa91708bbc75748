/* services: each service's keys, then depends_on checked and ordered. */
#include "parse-internal.h"

static int h_restart(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "no, on-failure or always";
        _cleanup_free_ char *t = NULL;
        if (scalar_text(p, v, path, what, &t) < 0)
                return -1;
        enum spec_restart *r = AT(obj, f, enum spec_restart);
        if (streq(t, "no"))
                *r = SPEC_RESTART_NO;
        else if (streq(t, "on-failure"))
                *r = SPEC_RESTART_ON_FAILURE;
        else if (streq(t, "always"))
                *r = SPEC_RESTART_ALWAYS;
        else
                return perr_expected(p, v, path, what, t);
        return 0;
}

static int h_positive_duration(struct pctx *p, const struct ynode *v, const char *path, void *obj,
                               const struct field *f)
{
        if (h_duration(p, v, path, obj, f) < 0)
                return -1;
        if (*AT(obj, f, uint64_t) == 0) {
                _cleanup_free_ char *q = spec_quote(v->text, v->len, 80);
                return perr(p, v, path, "expected a duration above 0 like 1s, got %s", q);
        }
        return 0;
}

static int h_retries(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "a number of retries from 1 to 1000000";
        _cleanup_free_ char *t = NULL;
        uint64_t n;
        if (scalar_text(p, v, path, what, &t) < 0)
                return -1;
        if (spec_parse_uint(t, 1000000, &n) < 0 || n == 0)
                return perr_expected(p, v, path, what, t);
        *AT(obj, f, uint32_t) = (uint32_t) n;
        return 0;
}

static const struct field health_fields[] = {
        { "command", h_argv, offsetof(struct spec_healthcheck, command), 0, true },
        { "interval", h_positive_duration, offsetof(struct spec_healthcheck, interval_ms) },
        { "timeout", h_positive_duration, offsetof(struct spec_healthcheck, timeout_ms) },
        { "retries", h_retries, offsetof(struct spec_healthcheck, retries) },
        { "start_period", h_duration, offsetof(struct spec_healthcheck, start_period_ms) },
        {},
};

static int h_healthcheck(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        struct spec_healthcheck *h = AT(obj, f, struct spec_healthcheck);
        strv_free(h->command);
        *h = (struct spec_healthcheck){ .interval_ms = 1000, .timeout_ms = 5000, .retries = 60 };
        return walk_map(p, v, path, health_fields, h, NULL);
}

static int h_depends_on(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "a service name";
        struct spec_service *svc = obj;
        if (check_seq(p, v, path, "a list of service names", MAX_SERVICES) < 0)
                return -1;
        _cleanup_strv_ char **names = xcalloc(v->n + 1, sizeof(char *));
        _cleanup_free_ struct spec_pos *pos = xcalloc(v->n + 1, sizeof(*pos));
        for (size_t i = 0; i < v->n; i++) {
                _cleanup_free_ char *ipath = path_index(path, i);
                if (scalar_text(p, v->items[i], ipath, what, &names[i]) < 0)
                        return -1;
                if (!spec_valid_name(names[i]))
                        return perr_expected(p, v->items[i], ipath, what, names[i]);
                pos[i] = (struct spec_pos){ v->items[i]->file, v->items[i]->line, v->items[i]->col };
        }
        strv_free(svc->depends_on);
        free(svc->depends_on_pos);
        svc->depends_on = TAKE_PTR(names);
        svc->depends_on_pos = TAKE_PTR(pos);
        return 0;
}

#define SVC(m) offsetof(struct spec_service, m)
static const struct field service_fields[] = {
        { "image", h_layers, SVC(image), SVC(n_image) },
        { "command", h_argv, SVC(command) }, /* required unless an OCI image gives one: check_commands() */
        { "user", h_user, SVC(user) },
        { "workdir", h_target, SVC(workdir) },
        { "env", h_env, SVC(env), SVC(n_env) },
        { "mounts", h_mounts, SVC(mounts), SVC(n_mounts) },
        { "ports", h_ports, SVC(ports), SVC(n_ports) },
        { "healthcheck", h_healthcheck, SVC(healthcheck) },
        { "restart", h_restart, SVC(restart) },
        { "stop_timeout", h_duration, SVC(stop_timeout_ms) },
        { "resources", h_resources, SVC(resources) },
        { "depends_on", h_depends_on, SVC(depends_on) },
        {},
};

static void service_clear(struct spec_service *svc)
{
        free(svc->name);
        spec_layers_free(svc->image, svc->n_image);
        strv_free(svc->command);
        free(svc->user);
        free(svc->workdir);
        spec_env_free(svc->env, svc->n_env);
        spec_mounts_free(svc->mounts, svc->n_mounts);
        spec_ports_free(svc->ports, svc->n_ports);
        strv_free(svc->healthcheck.command);
        strv_free(svc->depends_on);
        free(svc->depends_on_pos);
}

void spec_services_free(struct spec_service *svcs, size_t n)
{
        for (size_t i = 0; i < n; i++)
                service_clear(&svcs[i]);
        free(svcs);
}

static int parse_service(struct pctx *p, const struct ypair *kv, const char *path, struct spec_service *svc)
{
        static const char what[] = "a service name matching [a-z0-9][a-z0-9-]{0,62}";
        _cleanup_free_ char *kpath = path_key(path, kv->key);
        if (strlen(kv->key->text) != kv->key->len || !spec_valid_name(kv->key->text)) {
                _cleanup_free_ char *q = spec_quote(kv->key->text, kv->key->len, 80);
                return perr(p, kv->key, kpath, "expected %s, got %s", what, q);
        }
        svc->name = xstrdup(kv->key->text);
        svc->pos = (struct spec_pos){ kv->key->file, kv->key->line, kv->key->col };
        svc->stop_timeout_ms = 10000;
        return walk_map(p, kv->value, kpath, service_fields, svc, NULL);
}

int h_services(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        struct spec *s = obj;
        if (v->kind != YNODE_MAP)
                return perr_expected(p, v, path, "a mapping of service names to services", NULL);
        if (v->n > MAX_SERVICES)
                return perr_at(p, BERTH_E_LIMIT, v->file, v->line, v->col, path, "more than the limit of %d services",
                               MAX_SERVICES);
        struct spec_service *svcs = xcalloc(v->n, sizeof(*svcs));
        for (size_t i = 0; i < v->n; i++)
                if (parse_service(p, &v->pairs[i], path, &svcs[i]) < 0) {
                        spec_services_free(svcs, v->n);
                        return -1;
                }
        spec_services_free(s->services, s->n_services);
        s->services = svcs;
        s->n_services = v->n;
        return 0;
}

/* ---- depends_on: existence, cycles, order ------------------------------ */

/* Service names sorted once, so resolving every depends_on entry of a
 * hostile spec costs O(log n) each instead of a scan. */
struct name_index {
        const char *name;
        size_t index;
};

static int cmp_name_index(const void *x, const void *y)
{
        return strcmp(((const struct name_index *) x)->name, ((const struct name_index *) y)->name);
}

static struct name_index *index_services(const struct spec *s)
{
        struct name_index *idx = xcalloc(s->n_services + 1, sizeof(*idx));
        for (size_t i = 0; i < s->n_services; i++)
                idx[i] = (struct name_index){ s->services[i].name, i };
        qsort(idx, s->n_services, sizeof(*idx), cmp_name_index);
        return idx;
}

static ssize_t service_index(const struct spec *s, const struct name_index *idx, const char *name)
{
        struct name_index key = { name, 0 };
        const struct name_index *hit = bsearch(&key, idx, s->n_services, sizeof(*idx), cmp_name_index);
        return hit ? (ssize_t) hit->index : -1;
}

static int dependency_error(struct pctx *p, const struct spec *s, const struct spec_service *svc, size_t j,
                            bool twice)
{
        _cleanup_free_ char *path = xasprintf("services.%s.depends_on[%zu]", svc->name, j);
        const struct spec_pos *pos = &svc->depends_on_pos[j];
        if (twice)
                return perr_at(p, BERTH_E_INVALID, pos->file, pos->line, pos->col, path, "%s is listed twice",
                               svc->depends_on[j]);
        _cleanup_free_ const char **names = xcalloc(s->n_services + 1, sizeof(char *));
        for (size_t i = 0; i < s->n_services; i++)
                names[i] = s->services[i].name;
        const char *hint = closest_match(svc->depends_on[j], names);
        return perr_at(p, BERTH_E_INVALID, pos->file, pos->line, pos->col, path, "no service named \"%s\"%s%s%s",
                       svc->depends_on[j], hint ? "; did you mean \"" : "", hint ? hint : "", hint ? "\"?" : "");
}

/* Every entry names a service, once. */
static int check_dependencies(struct pctx *p, const struct spec *s, const struct name_index *idx)
{
        _cleanup_free_ size_t *seen = xcalloc(s->n_services + 1, sizeof(size_t));
        for (size_t i = 0; i < s->n_services; i++) {
                const struct spec_service *svc = &s->services[i];
                for (size_t j = 0; svc->depends_on && svc->depends_on[j]; j++) {
                        ssize_t d = service_index(s, idx, svc->depends_on[j]);
                        if (d < 0 || seen[d] == i + 1)
                                return dependency_error(p, s, svc, j, d >= 0);
                        seen[d] = i + 1;
                }
        }
        return 0;
}

struct topo {
        struct pctx *p;
        const struct spec *s;
        const struct name_index *idx;
        int *state;             /* 0 unvisited, 1 on the current path, 2 done */
        size_t *path;           /* the current path, for naming a cycle */
        size_t depth;
        size_t *order;
        size_t n_order;
};

static int cycle_error(struct topo *t, size_t from, size_t dep_i, size_t to)
{
        const struct spec_service *svc = &t->s->services[from];
        _cleanup_dynbuf_ dynbuf cyc;
        dynbuf_init(&cyc, SIZE_MAX, NULL);
        size_t start = 0;
        while (t->path[start] != to)
                start++;
        for (size_t k = start; k < t->depth; k++)
                dynbuf_printf(&cyc, NULL, "%s -> ", t->s->services[t->path[k]].name);
        dynbuf_printf(&cyc, NULL, "%s", t->s->services[to].name);
        _cleanup_free_ char *path = xasprintf("services.%s.depends_on[%zu]", svc->name, dep_i);
        return perr_at(t->p, BERTH_E_INVALID, svc->depends_on_pos[dep_i].file, svc->depends_on_pos[dep_i].line, svc->depends_on_pos[dep_i].col, path,
                       "dependency cycle: %s", cyc.buf);
}

/* Depth-first, dependencies before dependents, in the order written. The
 * depth is bounded by MAX_SERVICES. */
static int visit(struct topo *t, size_t i)
{
        if (t->state[i] == 2)
                return 0;
        t->state[i] = 1;
        t->path[t->depth++] = i;
        const struct spec_service *svc = &t->s->services[i];
        for (size_t j = 0; svc->depends_on && svc->depends_on[j]; j++) {
                size_t d = (size_t) service_index(t->s, t->idx, svc->depends_on[j]);
                if (t->state[d] == 1)
                        return cycle_error(t, i, j, d);
                if (visit(t, d) < 0)
                        return -1;
        }
        t->depth--;
        t->state[i] = 2;
        t->order[t->n_order++] = i;
        return 0;
}

/* A service without command runs its image's Entrypoint and Cmd, so the
 * image it runs (its own, or the environment's) must be an OCI image. */
static int check_commands(struct pctx *p, const struct spec *s)
{
        for (size_t i = 0; i < s->n_services; i++) {
                const struct spec_service *v = &s->services[i];
                const struct spec_layer *ls = v->n_image ? v->image : s->image;
                size_t n = v->n_image ? v->n_image : s->n_image;
                bool oci = false;
                for (size_t j = 0; j < n; j++)
                        oci |= ls[j].url == NULL;
                if (v->command || oci)
                        continue;
                _cleanup_free_ char *path = xasprintf("services.%s.command", v->name);
                return perr_at(p, BERTH_E_INVALID, v->pos.file, v->pos.line, v->pos.col, path,
                               "required key is missing (only an OCI image's Entrypoint and Cmd can stand for it)");
        }
        return 0;
}

int spec_order_services(struct pctx *p, struct spec *s)
{
        _cleanup_free_ struct name_index *idx = index_services(s);
        if (check_commands(p, s) < 0 || check_dependencies(p, s, idx) < 0)
                return -1;
        size_t n = s->n_services;
        _cleanup_free_ int *state = xcalloc(n + 1, sizeof(int));
        _cleanup_free_ size_t *path = xcalloc(n + 1, sizeof(size_t));
        _cleanup_free_ size_t *order = xcalloc(n + 1, sizeof(size_t));
        struct topo t = { .p = p, .s = s, .idx = idx, .state = state, .path = path, .order = order };
        for (size_t i = 0; i < n; i++)
                if (visit(&t, i) < 0)
                        return -1;
        struct spec_service *sorted = xcalloc(n + 1, sizeof(*sorted));
        for (size_t i = 0; i < n; i++)
                sorted[i] = s->services[order[i]];
        free(s->services);
        s->services = sorted;
        return 0;
}
