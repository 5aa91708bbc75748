/* The top level of berth.yaml: loading, the spec's own keys, resources and
 * security, and freeing the model. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <sys/stat.h>

#include "parse-internal.h"


void spec_limits_default(struct spec_limits *ret)
{
        *ret = (struct spec_limits){ .max_file_size = 1u << 20, .max_depth = 64, .max_nodes = 100000 };
}

/* ---- resources --------------------------------------------------------- */

static int h_memory(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        if (h_size(p, v, path, obj, f) < 0)
                return -1;
        if (*AT(obj, f, uint64_t) < (1u << 20)) {
                _cleanup_free_ char *q = spec_quote(v->text, v->len, 80);
                return perr(p, v, path, "expected a size of at least 1MiB, got %s", q);
        }
        return 0;
}

static int h_cpus(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "a number of CPUs above 0 like 1.5 (at most 3 decimals, up to 1024)";
        _cleanup_free_ char *t = NULL;
        if (scalar_text(p, v, path, what, &t) < 0)
                return -1;
        if (spec_parse_millicpus(t, AT(obj, f, uint32_t)) < 0)
                return perr_expected(p, v, path, what, t);
        return 0;
}

static int h_count(struct pctx *p, const struct ynode *v, const char *path, uint64_t max, uint64_t *ret)
{
        _cleanup_free_ char *what = xasprintf("a whole number from 1 to %" PRIu64, max);
        _cleanup_free_ char *t = NULL;
        if (scalar_text(p, v, path, what, &t) < 0)
                return -1;
        if (spec_parse_uint(t, max, ret) < 0 || *ret == 0)
                return perr_expected(p, v, path, what, t);
        return 0;
}

static int h_pids(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        /* PID_MAX_LIMIT on 64-bit Linux. */
        return h_count(p, v, path, 4194304, AT(obj, f, uint64_t));
}

static int h_nofile(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        /* The kernel's ceiling for fs.nr_open. */
        return h_count(p, v, path, 1073741816, AT(obj, f, uint64_t));
}

static const struct field resource_fields[] = {
        { "memory", h_memory, offsetof(struct spec_resources, memory) },
        { "cpus", h_cpus, offsetof(struct spec_resources, millicpus) },
        { "pids", h_pids, offsetof(struct spec_resources, pids) },
        { "nofile", h_nofile, offsetof(struct spec_resources, nofile) },
        {},
};

int h_resources(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        struct spec_resources *r = AT(obj, f, struct spec_resources);
        *r = (struct spec_resources){};
        return walk_map(p, v, path, resource_fields, r, NULL);
}

/* ---- security ---------------------------------------------------------- */

static int h_seccomp(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "default, unconfined or a path to a JSON profile";
        static const char *const modes[] = { "default", "unconfined", NULL };
        struct spec_security *sec = obj;
        _cleanup_free_ char *t = NULL;
        if (scalar_text(p, v, path, what, &t) < 0)
                return -1;
        free(sec->seccomp_profile);
        sec->seccomp_profile = NULL;
        if (streq(t, "default") || streq(t, "unconfined")) {
                sec->seccomp = streq(t, "default") ? SPEC_SECCOMP_DEFAULT : SPEC_SECCOMP_UNCONFINED;
                return 0;
        }
        if (!strchr(t, '/') && !endswith(t, ".json")) {
                const char *hint = closest_match(t, modes);
                _cleanup_free_ char *q = spec_quote(t, strlen(t), 80);
                if (hint)
                        return perr(p, v, path, "expected %s, got %s; did you mean \"%s\"?", what, q, hint);
                return perr_expected(p, v, path, what, t);
        }
        /* Checked here so a typo fails `validate`, not the first `run`. */
        _cleanup_free_ char *abs = spec_path_join(p->base_dir, t);
        struct stat st;
        if (stat(abs, &st) < 0)
                return perr(p, v, path, "seccomp profile %s: %s", abs, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return perr(p, v, path, "seccomp profile %s: not a regular file", abs);
        sec->seccomp = SPEC_SECCOMP_PROFILE;
        sec->seccomp_profile = TAKE_PTR(abs);
        return 0;
}

static const char *cap_hint(const char *t)
{
        char up[65];
        size_t n = 0;
        for (; t[n] && n < sizeof(up) - 1; n++)
                up[n] = (char) toupper((unsigned char) t[n]);
        up[n] = '\0';
        const char *bare = startswith(up, "CAP_") ? up + 4 : up;
        return closest_match(bare, spec_cap_names());
}

static int h_caps(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "a capability name like NET_ADMIN";
        bool is_add = f->off == offsetof(struct spec_security, cap_add);
        if (check_seq(p, v, path, "a list of capability names", MAX_CAPS) < 0)
                return -1;
        _cleanup_strv_ char **caps = xcalloc(v->n + 1, sizeof(char *));
        for (size_t i = 0; i < v->n; i++) {
                _cleanup_free_ char *ipath = path_index(path, i), *t = NULL;
                if (scalar_text(p, v->items[i], ipath, what, &t) < 0)
                        return -1;
                caps[i] = spec_normalize_cap(t);
                if (!caps[i]) {
                        _cleanup_free_ char *q = spec_quote(t, strlen(t), 80);
                        const char *hint = cap_hint(t);
                        return perr(p, v->items[i], ipath, "expected %s, got %s%s%s%s", what, q,
                                    hint ? "; did you mean \"" : "", hint ? hint : "", hint ? "\"?" : "");
                }
                if (is_add && streq(caps[i], "ALL"))
                        return perr(p, v->items[i], ipath, "ALL may only be dropped, not added");
                for (size_t j = 0; j < i; j++)
                        if (streq(caps[i], caps[j]))
                                return perr(p, v->items[i], ipath, "%s is listed twice", caps[i]);
        }
        strv_free(*AT(obj, f, char **));
        *AT(obj, f, char **) = TAKE_PTR(caps);
        return 0;
}

static const struct field cap_fields[] = {
        { "add", h_caps, offsetof(struct spec_security, cap_add) },
        { "drop", h_caps, offsetof(struct spec_security, cap_drop) },
        {},
};

static int h_capabilities(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        return walk_map(p, v, path, cap_fields, obj, NULL);
}

static const struct field security_fields[] = {
        { "seccomp", h_seccomp },
        { "capabilities", h_capabilities },
        { "read_only", h_bool, offsetof(struct spec_security, read_only) },
        {},
};

static int h_security(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        return walk_map(p, v, path, security_fields, AT(obj, f, struct spec_security), NULL);
}

/* ---- the spec's own keys ----------------------------------------------- */

static int h_schema(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "1 (the only schema version)";
        _cleanup_free_ char *t = NULL;
        if (scalar_text(p, v, path, what, &t) < 0)
                return -1;
        if (!streq(t, "1"))
                return perr_expected(p, v, path, what, t);
        *AT(obj, f, int) = 1;
        return 0;
}

static int h_semver(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "a semantic version like 1.4.0";
        _cleanup_free_ char *t = NULL;
        if (scalar_text(p, v, path, what, &t) < 0)
                return -1;
        if (!spec_valid_semver(t))
                return perr_expected(p, v, path, what, t);
        free(*AT(obj, f, char *));
        *AT(obj, f, char *) = TAKE_PTR(t);
        return 0;
}

int h_extends(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "name@range like base-debian@^2.1, ~1.2.3 or 1.4.0";
        struct spec *s = obj;
        _cleanup_free_ char *t = NULL;
        if (scalar_text(p, v, path, what, &t) < 0)
                return -1;
        char *at = strchr(t, '@');
        if (!at)
                return perr_expected(p, v, path, what, t);
        *at = '\0';
        bool ok = spec_valid_name(t) && spec_valid_range(at + 1);
        *at = '@';
        if (!ok)
                return perr_expected(p, v, path, what, t);
        free(s->extends);
        s->extends = TAKE_PTR(t);
        s->extends_pos = (struct spec_pos){ v->file, v->line, v->col };
        return 0;
}

static int h_network(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "none, private or host";
        _cleanup_free_ char *t = NULL;
        if (scalar_text(p, v, path, what, &t) < 0)
                return -1;
        enum spec_network *n = AT(obj, f, enum spec_network);
        if (streq(t, "none"))
                *n = SPEC_NET_NONE;
        else if (streq(t, "private"))
                *n = SPEC_NET_PRIVATE;
        else if (streq(t, "host"))
                *n = SPEC_NET_HOST;
        else
                return perr_expected(p, v, path, what, t);
        return 0;
}

#define SPEC(m) offsetof(struct spec, m)
static const struct field spec_fields[] = {
        { "berth", h_schema, SPEC(schema), 0, true },
        { "name", h_name, SPEC(name), 0, true },
        { "version", h_semver, SPEC(version) },
        { "description", h_string, SPEC(description) },
        { "extends", h_extends },
        { "image", h_layers, SPEC(image), SPEC(n_image) },
        { "workdir", h_target, SPEC(workdir) },
        { "mounts", h_mounts, SPEC(mounts), SPEC(n_mounts) },
        { "env", h_env, SPEC(env), SPEC(n_env) },
        { "user", h_user, SPEC(user) },
        { "resources", h_resources, SPEC(resources) },
        { "network", h_network, SPEC(network) },
        { "ports", h_ports, SPEC(ports), SPEC(n_ports) },
        { "security", h_security, SPEC(security) },
        { "services", h_services },
        { "repos", h_repos },
        { "final", h_final },
        {},
};

/* ---- host ports across the environment ---------------------------------- */

struct port_ref {
        const struct spec_port *port;
        const char *list;       /* "ports" or "services.NAME.ports" */
        size_t index;
};

static bool any_address(const struct spec_port *pt)
{
        return !pt->host_ip || streq(pt->host_ip, "0.0.0.0") || streq(pt->host_ip, "::");
}

static int cmp_port_ref(const void *x, const void *y)
{
        const struct port_ref *a = x, *b = y;
        if (a->port->host_port != b->port->host_port)
                return a->port->host_port < b->port->host_port ? -1 : 1;
        if (a->port->udp != b->port->udp)
                return (int) a->port->udp - (int) b->port->udp;
        /* All-addresses entries first: they clash with any neighbour. */
        if (any_address(a->port) || any_address(b->port))
                return (int) !any_address(a->port) - (int) !any_address(b->port);
        return strcmp(a->port->host_ip, b->port->host_ip);
}

static bool written_before(const struct spec_pos *a, const struct spec_pos *b)
{
        return a->line < b->line || (a->line == b->line && a->col < b->col);
}

static void add_port_refs(struct port_ref *refs, size_t *n, const struct spec_port *pt, size_t n_pt, const char *list)
{
        for (size_t i = 0; i < n_pt; i++)
                refs[(*n)++] = (struct port_ref){ &pt[i], list, i };
}

/* The environment and its services share one network namespace, so a host
 * port may be published once. Sorted, so a hostile spec stays O(n log n). */
static int check_port_clashes(struct pctx *p, const struct spec *s)
{
        size_t total = s->n_ports, n = 0;
        for (size_t i = 0; i < s->n_services; i++)
                total += s->services[i].n_ports;
        _cleanup_free_ struct port_ref *refs = xcalloc(total + 1, sizeof(*refs));
        _cleanup_strv_ char **lists = xcalloc(s->n_services + 1, sizeof(char *));
        add_port_refs(refs, &n, s->ports, s->n_ports, "ports");
        for (size_t i = 0; i < s->n_services; i++) {
                lists[i] = xasprintf("services.%s.ports", s->services[i].name);
                add_port_refs(refs, &n, s->services[i].ports, s->services[i].n_ports, lists[i]);
        }
        qsort(refs, n, sizeof(*refs), cmp_port_ref);
        for (size_t i = 1; i < n; i++) {
                const struct port_ref *a = &refs[i - 1], *b = &refs[i];
                if (a->port->host_port != b->port->host_port || a->port->udp != b->port->udp ||
                    (!any_address(a->port) && !any_address(b->port) && !streq(a->port->host_ip, b->port->host_ip)))
                        continue;
                if (written_before(&b->port->pos, &a->port->pos)) {
                        const struct port_ref *t = a;
                        a = b;
                        b = t;
                }
                _cleanup_free_ char *path = xasprintf("%s[%zu]", b->list, b->index);
                return perr_at(p, BERTH_E_INVALID, b->port->pos.file, b->port->pos.line, b->port->pos.col, path,
                               "host port %u%s is already published by %s[%zu]", b->port->host_port,
                               b->port->udp ? "/udp" : "", a->list, a->index);
        }
        return 0;
}

static int parse_root(struct pctx *p, const struct ynode *root, struct spec *s)
{
        if (walk_map(p, root, "", spec_fields, s, NULL) < 0 || check_port_clashes(p, s) < 0 ||
            spec_order_services(p, s) < 0)
                return -1;
        if (!s->image)
                return perr(p, root, "image", "required key is missing%s",
                            s->extends ? " (neither this spec nor what it extends has one)" : "");
        return 0;
}

static bool has_extends(const struct ynode *root)
{
        for (size_t i = 0; i < root->n; i++)
                if (streq(root->pairs[i].key->text, "extends"))
                        return true;
        return false;
}

/* The document, with its extends chain merged in first when it has one. */
static int parse_doc(struct pctx *p, struct ydoc *doc, const struct spec_resolver *r, struct spec *s)
{
        if (!doc->root)
                return perr(p, NULL, NULL, "expected a mapping of spec keys (berth, name, image, ...), got an "
                                           "empty document");
        if (doc->root->kind != YNODE_MAP)
                return perr_expected(p, doc->root, NULL, "a mapping of spec keys (berth, name, image, ...)", NULL);
        if (!has_extends(doc->root))
                return parse_root(p, doc->root, s);
        void *state = NULL;
        const struct ynode *merged;
        int rc = spec_resolve_tree(p, r, doc, &merged, &state);
        if (rc == 0)
                rc = parse_root(p, merged, s);
        spec_resolve_done(state);
        return rc;
}

int spec_parse(const char *name, const char *buf, size_t len, const char *base_dir, const struct spec_limits *limits,
               struct spec **ret, berth_error **err)
{
        return spec_parse_resolved(name, buf, len, base_dir, limits, NULL, ret, err);
}

int spec_parse_resolved(const char *name, const char *buf, size_t len, const char *base_dir,
                        const struct spec_limits *limits, const struct spec_resolver *r, struct spec **ret,
                        berth_error **err)
{
        struct spec_limits def;
        if (!limits) {
                spec_limits_default(&def);
                limits = &def;
        }
        _cleanup_spec_ struct spec *s = xcalloc(1, sizeof(*s));
        s->path = xstrdup(name);
        s->dir = xstrdup(base_dir ? base_dir : "/");
        struct ydoc doc;
        if (ydoc_parse(&doc, s->path, buf, len, limits, err) < 0)
                return -1;
        struct pctx p = { .s = s, .file = s->path, .base_dir = s->dir, .expand_left = SPEC_MAX_EXPANDED, .err = err };
        int rc = parse_doc(&p, &doc, r, s);
        ydoc_free(&doc);
        if (rc < 0)
                return -1;
        *ret = TAKE_PTR(s);
        return 0;
}

static char *spec_folder(const char *path, berth_error **err)
{
        _cleanup_free_ char *copy = xstrdup(path);
        char *real = realpath(dirname(copy), NULL);
        if (!real)
                berth_err(err, errno, "resolve the folder of `%s`", path);
        return real;
}

int spec_load(const char *path, struct spec **ret, berth_error **err)
{
        return spec_load_resolved(path, NULL, ret, err);
}

int spec_load_resolved(const char *path, const struct spec_resolver *r, struct spec **ret, berth_error **err)
{
        return spec_load_bytes(path, r, ret, NULL, NULL, err);
}

int spec_load_bytes(const char *path, const struct spec_resolver *r, struct spec **ret, char **ret_buf,
                    size_t *ret_len, berth_error **err)
{
        struct spec_limits lim;
        spec_limits_default(&lim);
        _cleanup_free_ char *buf = NULL;
        size_t len;
        _cleanup_error_ berth_error *rerr = NULL;
        if (read_file_bounded(AT_FDCWD, path, lim.max_file_size, "spec file", &buf, &len, &rerr) < 0) {
                if (rerr->kind == BERTH_E_LIMIT)
                        return berth_error_make(err, BERTH_E_LIMIT, 0,
                                                "%s:1:1: spec file is larger than the limit of %zu bytes", path,
                                                lim.max_file_size);
                if (err && !*err)
                        *err = TAKE_PTR(rerr);
                return -1;
        }
        _cleanup_free_ char *dir = spec_folder(path, err);
        if (!dir)
                return -1;
        if (spec_parse_resolved(path, buf, len, dir, &lim, r, ret, err) < 0)
                return -1;
        if (ret_buf)
                *ret_buf = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

void spec_free(struct spec *s)
{
        if (!s)
                return;
        free(s->path);
        free(s->dir);
        free(s->name);
        free(s->version);
        free(s->description);
        free(s->extends);
        spec_layers_free(s->image, s->n_image);
        free(s->workdir);
        spec_mounts_free(s->mounts, s->n_mounts);
        spec_env_free(s->env, s->n_env);
        free(s->user);
        spec_ports_free(s->ports, s->n_ports);
        free(s->security.seccomp_profile);
        strv_free(s->security.cap_add);
        strv_free(s->security.cap_drop);
        spec_services_free(s->services, s->n_services);
        spec_repos_free(s->repos, s->n_repos);
        strv_free(s->final);
        for (size_t i = 0; i < s->n_bases; i++) {
                free(s->bases[i].name);
                free(s->bases[i].version);
                free(s->bases[i].repo);
        }
        free(s->bases);
        berth_warnings_clear(&s->warnings);
        strv_free(s->sources);
        free(s);
}
