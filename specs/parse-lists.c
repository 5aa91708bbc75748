/* Image layers, mounts, env and ports: the lists both the spec and its
 * services have. */
#include "parse-internal.h"
#include "common/oci-ref.h"

static struct spec_pos pos_of(struct pctx *p, const struct ynode *n)
{
        return (struct spec_pos){ .file = n->file ? n->file : p->s->path, .line = n->line, .col = n->col };
}

/* ---- image layers ------------------------------------------------------ */

/* URLs may not hold spaces; paths may, but no control characters. */
static bool has_bad_char(const char *s, bool is_url)
{
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f || (is_url && *s == ' '))
                        return true;
        return false;
}

static int h_url(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "an http, https or file URL or a path";
        _cleanup_free_ char *t = NULL;
        if (scalar_text(p, v, path, what, &t) < 0)
                return -1;
        const char *rest;
        if (!*t || has_bad_char(t, strstr(t, "://") != NULL))
                return perr_expected(p, v, path, what, t);
        if ((rest = startswith(t, "http://")) || (rest = startswith(t, "https://"))) {
                if (!*rest || *rest == '/' || *rest == ':')
                        return perr_expected(p, v, path, "an http(s) URL with a host", t);
        } else if ((rest = startswith(t, "file://"))) {
                if (*rest != '/')
                        return perr_expected(p, v, path, "a file URL with an absolute path like file:///srv/x.tar", t);
        } else if (strstr(t, "://")) {
                return perr_expected(p, v, path, what, t);
        } else {
                char *abs = spec_path_join(p->base_dir, t);
                free(t);
                t = abs;
        }
        free(*AT(obj, f, char *));
        *AT(obj, f, char *) = TAKE_PTR(t);
        return 0;
}

static int h_sha256(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "a sha256 digest of 64 hex digits";
        _cleanup_free_ char *t = NULL;
        if (scalar_text(p, v, path, what, &t) < 0)
                return -1;
        for (char *c = t; *c; c++)
                if (*c >= 'A' && *c <= 'F')
                        *c = (char) (*c - 'A' + 'a');
        if (!is_hex_string(t, 64))
                return perr_expected(p, v, path, what, t);
        free(*AT(obj, f, char *));
        *AT(obj, f, char *) = TAKE_PTR(t);
        return 0;
}

/* oci: a reference, stored in its canonical form (docker.io/library/x:tag). */
static int h_oci(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "an OCI reference like registry.example.com/team/name:tag[@sha256:…]";
        _cleanup_free_ char *t = NULL;
        _cleanup_(oci_ref_donep) struct oci_ref r = {};
        _cleanup_error_ berth_error *e = NULL;
        if (scalar_text(p, v, path, what, &t) < 0)
                return -1;
        if (!*t)
                return perr_expected(p, v, path, what, t);
        if (oci_ref_parse(t, &r, &e) < 0) {
                _cleanup_free_ char *q = spec_quote(t, strlen(t), 80);
                return perr(p, v, path, "%s: %s", q, e->msg);
        }
        free(*AT(obj, f, char *));
        *AT(obj, f, char *) = oci_ref_string(&r);
        return 0;
}

static int h_platform(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "a platform like linux/amd64 or linux/arm64/v8";
        _cleanup_free_ char *t = NULL;
        struct oci_platform pl;
        _cleanup_error_ berth_error *e = NULL;
        if (scalar_text(p, v, path, what, &t) < 0)
                return -1;
        if (oci_platform_parse(t, &pl, &e) < 0)
                return perr_expected(p, v, path, what, t);
        free(*AT(obj, f, char *));
        *AT(obj, f, char *) = TAKE_PTR(t);
        return 0;
}

static const struct field layer_fields[] = {
        { "name", h_name, offsetof(struct spec_layer, name) },
        { "version", h_string, offsetof(struct spec_layer, version) },
        { "url", h_url, offsetof(struct spec_layer, url) },
        { "sha256", h_sha256, offsetof(struct spec_layer, sha256) },
        { "check", h_argv, offsetof(struct spec_layer, check) },
        { "oci", h_oci, offsetof(struct spec_layer, oci) },
        { "oci-archive", h_url, offsetof(struct spec_layer, oci_archive) },
        { "docker-archive", h_url, offsetof(struct spec_layer, docker_archive) },
        { "ref", h_string, offsetof(struct spec_layer, ref) },
        { "platform", h_platform, offsetof(struct spec_layer, platform) },
        {},
};
enum { LF_NAME, LF_VERSION, LF_URL, LF_SHA256, LF_CHECK, LF_OCI, LF_OCI_ARCHIVE, LF_DOCKER_ARCHIVE, LF_REF,
       LF_PLATFORM };

static int key_err(struct pctx *p, const struct ynode *n, const char *path, int key, const char *msg)
{
        _cleanup_free_ char *kpath = xasprintf("%s.%s", path, layer_fields[key].key);
        return perr(p, n, kpath, "%s", msg);
}

static bool before(const struct ynode *a, const struct ynode *b)
{
        return a->line < b->line || (a->line == b->line && a->col < b->col);
}

/* Exactly one of url, oci, oci-archive, docker-archive says where the layer
 * comes from; the other keys must fit that source. */
static int check_layer_source(struct pctx *p, const struct ynode *n, const char *path, const struct ynode **seen)
{
        static const int sources[] = { LF_URL, LF_OCI, LF_OCI_ARCHIVE, LF_DOCKER_ARCHIVE };
        int src = -1, extra = -1;
        for (size_t i = 0; i < ARRAY_SIZE(sources); i++) {
                int k = sources[i];
                if (!seen[k])
                        continue;
                if (src >= 0 && before(seen[k], seen[src])) {
                        extra = src;
                        src = k;
                } else if (src >= 0 && (extra < 0 || before(seen[k], seen[extra]))) {
                        extra = k;
                } else if (src < 0) {
                        src = k;
                }
        }
        if (extra >= 0) {
                _cleanup_free_ char *msg = xasprintf("a layer has one source; %s is already given",
                                                     layer_fields[src].key);
                return key_err(p, seen[extra], path, extra, msg);
        }
        if (src < 0) {
                _cleanup_free_ char *kpath = xasprintf("%s.url", path);
                return perr(p, n, kpath, "required key is missing (or oci, oci-archive, docker-archive)");
        }
        if (seen[LF_SHA256] && src == LF_OCI)
                return key_err(p, seen[LF_SHA256], path, LF_SHA256, "not used with oci: pin the image with "
                               "@sha256:… in the reference");
        if (seen[LF_REF] && (src == LF_URL || src == LF_OCI))
                return key_err(p, seen[LF_REF], path, LF_REF, "only picks an image out of an oci-archive or a "
                               "docker-archive");
        if (seen[LF_PLATFORM] && src == LF_URL)
                return key_err(p, seen[LF_PLATFORM], path, LF_PLATFORM, "only picks from an OCI image index "
                               "(oci, oci-archive, docker-archive)");
        return src;
}

static int parse_layer(struct pctx *p, const struct ynode *n, const char *path, struct spec_layer *l)
{
        const struct ynode *seen[MAX_FIELDS];
        l->pos = pos_of(p, n);
        if (walk_map(p, n, path, layer_fields, l, seen) < 0)
                return -1;
        int src = check_layer_source(p, n, path, seen);
        if (src < 0)
                return -1;
        const char *remote = src == LF_URL ? l->url : src == LF_OCI_ARCHIVE ? l->oci_archive
                             : src == LF_DOCKER_ARCHIVE ? l->docker_archive : NULL;
        if (!l->sha256 && remote && (startswith(remote, "http://") || startswith(remote, "https://"))) {
                _cleanup_free_ char *kpath = xasprintf("%s.sha256", path);
                return perr(p, n, kpath, "required key is missing (http and https layers need a digest)");
        }
        if (l->check && !l->version) {
                _cleanup_free_ char *kpath = xasprintf("%s.check", path);
                return perr(p, seen[LF_CHECK], kpath, "needs a version to compare the output with");
        }
        return 0;
}

void spec_layers_free(struct spec_layer *l, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(l[i].name);
                free(l[i].version);
                free(l[i].url);
                free(l[i].oci);
                free(l[i].oci_archive);
                free(l[i].docker_archive);
                free(l[i].ref);
                free(l[i].platform);
                free(l[i].sha256);
                strv_free(l[i].check);
        }
        free(l);
}

int h_layers(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        if (check_seq(p, v, path, "a list of layers", MAX_LAYERS) < 0)
                return -1;
        if (v->n == 0)
                return perr(p, v, path, "expected a list of layers, got an empty list");
        struct spec_layer *l = xcalloc(v->n, sizeof(*l));
        for (size_t i = 0; i < v->n; i++) {
                _cleanup_free_ char *ipath = path_index(path, i);
                if (parse_layer(p, v->items[i], ipath, &l[i]) < 0) {
                        spec_layers_free(l, v->n);
                        return -1;
                }
        }
        spec_layers_free(*AT(obj, f, struct spec_layer *), *AT_N(obj, f));
        *AT(obj, f, struct spec_layer *) = l;
        *AT_N(obj, f) = v->n;
        return 0;
}

/* ---- mounts ------------------------------------------------------------ */

struct mount_in {
        char *type, *source, *volume, *target;
        bool read_only;
        uint64_t size;
};

static int h_mount_type(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "bind, tmpfs or volume";
        _cleanup_free_ char *t = NULL;
        if (scalar_text(p, v, path, what, &t) < 0)
                return -1;
        if (!streq(t, "bind") && !streq(t, "tmpfs") && !streq(t, "volume"))
                return perr_expected(p, v, path, what, t);
        free(*AT(obj, f, char *));
        *AT(obj, f, char *) = TAKE_PTR(t);
        return 0;
}

static const struct field mount_fields[] = {
        { "type", h_mount_type, offsetof(struct mount_in, type) },
        { "source", h_string, offsetof(struct mount_in, source) },
        { "volume", h_name, offsetof(struct mount_in, volume) },
        { "target", h_target, offsetof(struct mount_in, target), 0, true },
        { "read_only", h_bool, offsetof(struct mount_in, read_only) },
        { "size", h_size, offsetof(struct mount_in, size) },
        {},
};
enum { MF_TYPE, MF_SOURCE, MF_VOLUME, MF_TARGET, MF_READ_ONLY, MF_SIZE };

static int mount_type(struct pctx *p, const struct ynode *n, const char *path, const struct mount_in *in,
                      const struct ynode **seen, enum spec_mount_type *ret)
{
        static const struct {
                const char *name;
                int key;             /* the key this type needs */
        } types[] = { { "bind", MF_SOURCE }, { "tmpfs", -1 }, { "volume", MF_VOLUME } };
        static const int only[] = { MF_SOURCE, MF_VOLUME, MF_SIZE };
        static const char *const only_in[] = { "bind", "volume", "tmpfs" };
        size_t t;
        if (in->type)
                t = streq(in->type, "bind") ? 0 : streq(in->type, "tmpfs") ? 1 : 2;
        else if (seen[MF_VOLUME])
                t = 2;
        else if (seen[MF_SOURCE])
                t = 0;
        else
                return perr(p, n, path, "expected source (bind mount), volume (named volume) or type: tmpfs");
        for (size_t i = 0; i < ARRAY_SIZE(only); i++)
                if (seen[only[i]] && !streq(only_in[i], types[t].name)) {
                        _cleanup_free_ char *kpath = xasprintf("%s.%s", path, mount_fields[only[i]].key);
                        return perr(p, seen[only[i]], kpath, "only allowed in a %s mount", only_in[i]);
                }
        if (types[t].key >= 0 && !seen[types[t].key]) {
                _cleanup_free_ char *kpath = xasprintf("%s.%s", path, mount_fields[types[t].key].key);
                return perr(p, n, kpath, "required key is missing (for a %s mount)", types[t].name);
        }
        *ret = t == 0 ? SPEC_MOUNT_BIND : t == 1 ? SPEC_MOUNT_TMPFS : SPEC_MOUNT_VOLUME;
        return 0;
}

static int parse_mount(struct pctx *p, const struct ynode *n, const char *path, struct spec_mount *m)
{
        struct mount_in in = {};
        const struct ynode *seen[MAX_FIELDS];
        int r = walk_map(p, n, path, mount_fields, &in, seen);
        if (r == 0)
                r = mount_type(p, n, path, &in, seen, &m->type);
        if (r == 0) {
                m->source = m->type == SPEC_MOUNT_BIND     ? spec_path_join(p->base_dir, in.source)
                            : m->type == SPEC_MOUNT_VOLUME ? TAKE_PTR(in.volume)
                                                           : NULL;
                m->target = TAKE_PTR(in.target);
                m->read_only = in.read_only;
                m->size = in.size;
                m->pos = pos_of(p, n);
        }
        free(in.type);
        free(in.source);
        free(in.volume);
        free(in.target);
        return r;
}

void spec_mounts_free(struct spec_mount *m, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(m[i].source);
                free(m[i].target);
        }
        free(m);
}

static int check_mount_targets(struct pctx *p, const struct ynode *v, const char *path, struct spec_mount *m,
                               size_t n)
{
        for (size_t i = 1; i < n; i++)
                for (size_t j = 0; j < i; j++)
                        if (streq(m[i].target, m[j].target)) {
                                _cleanup_free_ char *ipath = xasprintf("%s[%zu].target", path, i);
                                return perr_at(p, BERTH_E_INVALID, m[i].pos.file, m[i].pos.line, m[i].pos.col, ipath,
                                               "%s is already the target of %s[%zu]", m[i].target, path, j);
                        }
        return 0;
}

int h_mounts(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        if (check_seq(p, v, path, "a list of mounts", MAX_MOUNTS) < 0)
                return -1;
        struct spec_mount *m = xcalloc(v->n, sizeof(*m));
        for (size_t i = 0; i < v->n; i++) {
                _cleanup_free_ char *ipath = path_index(path, i);
                if (parse_mount(p, v->items[i], ipath, &m[i]) < 0) {
                        spec_mounts_free(m, v->n);
                        return -1;
                }
        }
        if (check_mount_targets(p, v, path, m, v->n) < 0) {
                spec_mounts_free(m, v->n);
                return -1;
        }
        spec_mounts_free(*AT(obj, f, struct spec_mount *), *AT_N(obj, f));
        *AT(obj, f, struct spec_mount *) = m;
        *AT_N(obj, f) = v->n;
        return 0;
}

/* ---- env --------------------------------------------------------------- */

void spec_env_free(struct spec_env *e, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(e[i].name);
                free(e[i].value);
        }
        free(e);
}

static int parse_env_entry(struct pctx *p, const struct ypair *kv, const char *path, struct spec_env *e)
{
        _cleanup_free_ char *kpath = path_key(path, kv->key);
        if (strlen(kv->key->text) != kv->key->len || !spec_valid_env_name(kv->key->text)) {
                _cleanup_free_ char *q = spec_quote(kv->key->text, kv->key->len, 80);
                return perr(p, kv->key, kpath, "expected a variable name matching [A-Za-z_][A-Za-z0-9_]*, got %s",
                            q);
        }
        if (scalar_text(p, kv->value, kpath, "a string (quote it: \"\" for empty)", &e->value) < 0)
                return -1;
        e->name = xstrdup(kv->key->text);
        return 0;
}

int h_env(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        if (v->kind != YNODE_MAP)
                return perr_expected(p, v, path, "a mapping of NAME: value", NULL);
        struct spec_env *e = xcalloc(v->n, sizeof(*e));
        for (size_t i = 0; i < v->n; i++)
                if (parse_env_entry(p, &v->pairs[i], path, &e[i]) < 0) {
                        spec_env_free(e, v->n);
                        return -1;
                }
        spec_env_free(*AT(obj, f, struct spec_env *), *AT_N(obj, f));
        *AT(obj, f, struct spec_env *) = e;
        *AT_N(obj, f) = v->n;
        return 0;
}

/* ---- ports ------------------------------------------------------------- */

void spec_ports_free(struct spec_port *pt, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(pt[i].host_ip);
        free(pt);
}

static bool any_address(const struct spec_port *pt)
{
        return !pt->host_ip || streq(pt->host_ip, "0.0.0.0") || streq(pt->host_ip, "::");
}

static bool ports_clash(const struct spec_port *a, const struct spec_port *b)
{
        return a->host_port == b->host_port && a->udp == b->udp &&
               (any_address(a) || any_address(b) || streq(a->host_ip, b->host_ip));
}

static int parse_port(struct pctx *p, const struct ynode *n, const char *path, struct spec_port *pt)
{
        static const char what[] = "a port like [host-ip:]host-port:container-port[/udp] (ports 1-65535)";
        _cleanup_free_ char *t = NULL;
        if (scalar_text(p, n, path, what, &t) < 0)
                return -1;
        if (spec_parse_port(t, &pt->host_ip, &pt->host_port, &pt->container_port, &pt->udp) < 0)
                return perr_expected(p, n, path, what, t);
        pt->pos = pos_of(p, n);
        return 0;
}

int h_ports(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        if (check_seq(p, v, path, "a list of ports", MAX_PORTS) < 0)
                return -1;
        struct spec_port *pt = xcalloc(v->n, sizeof(*pt));
        for (size_t i = 0; i < v->n; i++) {
                _cleanup_free_ char *ipath = path_index(path, i);
                int r = parse_port(p, v->items[i], ipath, &pt[i]);
                for (size_t j = 0; r == 0 && j < i; j++)
                        if (ports_clash(&pt[i], &pt[j]))
                                r = perr(p, v->items[i], ipath, "host port %u%s is already published by %s[%zu]",
                                         pt[i].host_port, pt[i].udp ? "/udp" : "", path, j);
                if (r < 0) {
                        spec_ports_free(pt, v->n);
                        return -1;
                }
        }
        spec_ports_free(*AT(obj, f, struct spec_port *), *AT_N(obj, f));
        *AT(obj, f, struct spec_port *) = pt;
        *AT_N(obj, f) = v->n;
        return 0;
}
