/* berth.lock: what a spec resolved to (its bases and every layer's digest)
 * and the digest of the spec itself, as JSON with sorted keys, one entry per
 * line. Reading it back pins the resolution; comparing it with a freshly
 * loaded spec names what changed. */
#include <fcntl.h>
#include <jansson.h>

#include "spec-internal.h"

#define LOCK_MAX (4u << 20)

void spec_lock_free(struct spec_lock *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < l->n_bases; i++) {
                free(l->bases[i].name);
                free(l->bases[i].version);
                free(l->bases[i].repo);
        }
        free(l->bases);
        for (size_t i = 0; i < l->n_layers; i++) {
                free(l->layers[i].url);
                free(l->layers[i].where);
        }
        free(l->layers);
        free(l);
}

static bool valid_sha(const char *s)
{
        return s && strlen(s) == 64 && is_hex_string(s, 64) && !strpbrk(s, "ABCDEF");
}

static int lock_err(berth_error **err, const char *path, const char *what)
{
        return berth_error_make(err, BERTH_E_FAILED, 0, "%s: malformed lockfile: %s (run berth lock)", path, what);
}

static int parse_bases(json_t *a, const char *path, struct spec_lock *l, berth_error **err)
{
        size_t i;
        json_t *o;
        l->bases = xcalloc(json_array_size(a) + 1, sizeof(*l->bases));
        json_array_foreach(a, i, o) {
                const char *name = json_string_value(json_object_get(o, "name"));
                const char *version = json_string_value(json_object_get(o, "version"));
                const char *repo = json_string_value(json_object_get(o, "repo"));
                const char *sha = json_string_value(json_object_get(o, "sha256"));
                if (!name || !spec_valid_name(name) || !version || !spec_valid_semver(version) || !repo || !valid_sha(sha))
                        return lock_err(err, path, "a base needs name, version, repo and sha256");
                l->bases[l->n_bases++] = (struct spec_base){ xstrdup(name), xstrdup(version), xstrdup(repo) };
                memcpy(l->bases[l->n_bases - 1].sha256, sha, 65);
        }
        return 0;
}

/* Where a layer comes from, as the lock keys it: its URL, or the kind of an
 * OCI entry and its value ("oci:REF"). An OCI image's pin is the digest its
 * reference resolved to (an index, or the manifest). */
static const char *const oci_kinds[] = { "oci", "oci-archive", "docker-archive" };

static char *layer_source(const struct spec_layer *l)
{
        const char *v[] = { l->oci, l->oci_archive, l->docker_archive };
        for (size_t i = 0; i < 3; i++)
                if (v[i])
                        return xasprintf("%s:%s", oci_kinds[i], v[i]);
        return xstrdup(l->url);
}

static char *lock_source(json_t *o)
{
        const char *url = json_string_value(json_object_get(o, "url"));
        for (size_t i = 0; i < 3 && !url; i++) {
                const char *v = json_string_value(json_object_get(o, oci_kinds[i]));
                if (v)
                        return xasprintf("%s:%s", oci_kinds[i], v);
        }
        return url ? xstrdup(url) : NULL;
}

static int parse_layers(json_t *a, const char *path, struct spec_lock *l, berth_error **err)
{
        size_t i;
        json_t *o;
        l->layers = xcalloc(json_array_size(a) + 1, sizeof(*l->layers));
        json_array_foreach(a, i, o) {
                char *url = lock_source(o);
                const char *sha = json_string_value(json_object_get(o, "sha256"));
                const char *where = json_string_value(json_object_get(o, "key"));
                if (!url || !valid_sha(sha) || !where) {
                        free(url);
                        return lock_err(err, path, "a layer needs key, a source (url, oci …) and sha256");
                }
                struct spec_lock_layer *x = &l->layers[l->n_layers++];
                *x = (struct spec_lock_layer){ .url = url, .where = xstrdup(where) };
                memcpy(x->sha256, sha, 65);
        }
        return 0;
}

int spec_lock_read(const char *path, struct spec_lock **ret, berth_error **err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        if (read_file_bounded(AT_FDCWD, path, LOCK_MAX, "lockfile", &buf, &len, err) < 0)
                return -1;
        json_error_t jerr;
        json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
        _cleanup_(json_decrefp) json_t *hold = root;
        if (!root)
                return lock_err(err, path, jerr.text);
        json_t *format = json_object_get(root, "berth_lock"), *bases = json_object_get(root, "bases");
        json_t *layers = json_object_get(root, "layers");
        const char *spec_sha = json_string_value(json_object_get(root, "spec_sha256"));
        if (!json_is_integer(format) || json_integer_value(format) != 1 || !json_is_array(bases) ||
            !json_is_array(layers) || !valid_sha(spec_sha))
                return lock_err(err, path, "expected berth_lock: 1, spec_sha256, bases and layers");
        struct spec_lock *l = xcalloc(1, sizeof(*l));
        memcpy(l->spec_sha256, spec_sha, 65);
        if (parse_bases(bases, path, l, err) < 0 || parse_layers(layers, path, l, err) < 0) {
                spec_lock_free(l);
                return -1;
        }
        *ret = l;
        return 0;
}

/* ---- the layers a spec uses, in a stable order ---------------------------- */

/* Each layer of the model with its key path: image[i], then each service's
 * own image (services.NAME.image[i]) in start order. */
static void each_layer(struct spec *s, void (*fn)(struct spec_layer *l, const char *where, void *ud), void *ud)
{
        for (size_t i = 0; i < s->n_image; i++) {
                _cleanup_free_ char *w = xasprintf("image[%zu]", i);
                fn(&s->image[i], w, ud);
        }
        for (size_t k = 0; k < s->n_services; k++)
                for (size_t i = 0; i < s->services[k].n_image; i++) {
                        _cleanup_free_ char *w = xasprintf("services.%s.image[%zu]", s->services[k].name, i);
                        fn(&s->services[k].image[i], w, ud);
                }
}

static void dump_layer(struct spec_layer *l, const char *where, void *ud)
{
        const char *v[] = { l->oci, l->oci_archive, l->docker_archive };
        size_t k = 0;
        while (k < 3 && !v[k])
                k++;
        json_t *o = json_pack("{s:s,s:s}", "key", where, "sha256", l->sha256);
        json_object_set_new(o, k < 3 ? oci_kinds[k] : "url", json_string(k < 3 ? v[k] : l->url));
        json_array_append_new(ud, o);
}

char *spec_lock_dump(struct spec *s, const char *spec_sha256)
{
        json_t *bases = json_array(), *layers = json_array();
        for (size_t i = 0; i < s->n_bases; i++)
                json_array_append_new(bases, json_pack("{s:s,s:s,s:s,s:s}", "name", s->bases[i].name, "version",
                                                       s->bases[i].version, "repo", s->bases[i].repo, "sha256",
                                                       s->bases[i].sha256));
        each_layer(s, dump_layer, layers);
        json_t *root = json_pack("{s:i,s:s,s:o,s:o}", "berth_lock", 1, "spec_sha256", spec_sha256, "bases", bases,
                                 "layers", layers);
        char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
        json_decref(root);
        char *out = xasprintf("%s\n", text);
        free(text);
        return out;
}

struct apply {
        struct spec_lock *lock;
        char **changes;
        size_t next;
};

static void apply_layer(struct spec_layer *l, const char *where, void *ud)
{
        struct apply *a = ud;
        struct spec_lock_layer *x = a->next < a->lock->n_layers ? &a->lock->layers[a->next] : NULL;
        _cleanup_free_ char *src = layer_source(l);
        a->next++;
        if (!x || !streq(x->where, where) || !streq(x->url, src)) {
                a->changes = strv_append(a->changes, xasprintf("%s: %s is not what berth.lock pins there (%s)", where,
                                                               src, x ? x->url : "nothing"));
                return;
        }
        if (l->sha256 && !streq(l->sha256, x->sha256)) {
                a->changes = strv_append(a->changes, xasprintf("%s.sha256: spec %.12s…, berth.lock %.12s…", where,
                                                               l->sha256, x->sha256));
                return;
        }
        if (!l->sha256)
                l->sha256 = xstrdup(x->sha256);
}

char **spec_lock_apply(struct spec_lock *lock, struct spec *s)
{
        struct apply a = { .lock = lock };
        for (size_t i = 0; i < lock->n_bases || i < s->n_bases; i++) {
                const struct spec_base *p = i < lock->n_bases ? &lock->bases[i] : NULL;
                const struct spec_base *b = i < s->n_bases ? &s->bases[i] : NULL;
                if (!p || !b || !streq(p->name, b->name) || !streq(p->version, b->version) ||
                    !streq(p->sha256, b->sha256))
                        a.changes = strv_append(a.changes, xasprintf("extends: resolves to %s%s%s, berth.lock pins %s%s%s",
                                                                     b ? b->name : "nothing", b ? "@" : "",
                                                                     b ? b->version : "", p ? p->name : "nothing",
                                                                     p ? "@" : "", p ? p->version : ""));
        }
        each_layer(s, apply_layer, &a);
        for (size_t i = a.next; i < lock->n_layers; i++)
                a.changes = strv_append(a.changes, xasprintf("%s: berth.lock pins %s, which the spec no longer has",
                                                             lock->layers[i].where, lock->layers[i].url));
        return a.changes;
}
