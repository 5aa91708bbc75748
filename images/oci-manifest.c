/* OCI image manifests, indexes and configs: parsed with jansson, every
 * media type checked against the ones berth can use before anything they
 * point at is fetched, every blob checked against its descriptor. */
#include <inttypes.h>
#include <jansson.h>

#include "oci.h"

static const struct {
        const char *type;
        enum oci_kind kind;
} media_types[] = {
        { "application/vnd.oci.image.manifest.v1+json", OCI_KIND_MANIFEST },
        { "application/vnd.docker.distribution.manifest.v2+json", OCI_KIND_MANIFEST },
        { "application/vnd.oci.image.index.v1+json", OCI_KIND_INDEX },
        { "application/vnd.docker.distribution.manifest.list.v2+json", OCI_KIND_INDEX },
        { "application/vnd.oci.image.config.v1+json", OCI_KIND_CONFIG },
        { "application/vnd.docker.container.image.v1+json", OCI_KIND_CONFIG },
        { "application/vnd.oci.image.layer.v1.tar", OCI_KIND_LAYER },
        { "application/vnd.oci.image.layer.v1.tar+gzip", OCI_KIND_LAYER },
        { "application/vnd.oci.image.layer.v1.tar+zstd", OCI_KIND_LAYER },
        { "application/vnd.docker.image.rootfs.diff.tar.gzip", OCI_KIND_LAYER },
};

const char *const oci_manifest_types[] = {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        NULL,
};

enum oci_kind oci_media_kind(const char *media_type)
{
        if (!media_type)
                return OCI_KIND_UNSUPPORTED;
        size_t len = strcspn(media_type, "; \t");
        for (size_t i = 0; i < ARRAY_SIZE(media_types); i++)
                if (strlen(media_types[i].type) == len && memcmp(media_types[i].type, media_type, len) == 0)
                        return media_types[i].kind;
        return OCI_KIND_UNSUPPORTED;
}

/* A media type as it may appear in a message: bounded, printable. */
static char *shown(const char *s)
{
        char *t = xstrndup(s, 100);
        for (char *c = t; *c; c++)
                if ((unsigned char) *c < 0x20 || (unsigned char) *c >= 0x7f)
                        *c = '?';
        return t;
}

static int unsupported(berth_error **err, const char *what, const char *type)
{
        _cleanup_free_ char *t = shown(type);
        return berth_error_make(err, BERTH_E_INVALID, 0, "%s: unsupported media type \"%s\"", what, t);
}

int oci_check_blob(const char *what, const struct oci_descriptor *d, const void *buf, size_t len, berth_error **err)
{
        if (len != d->size)
                return berth_error_make(err, BERTH_E_DIGEST, 0, "%s sha256:%s: %zu bytes, but its descriptor says %" PRIu64,
                                        what, d->hex, len, d->size);
        sha256_ctx c;
        char got[65];
        sha256_init(&c);
        sha256_update(&c, buf, len);
        sha256_final_hex(&c, got);
        if (!streq(got, d->hex))
                return berth_error_make(err, BERTH_E_DIGEST, 0, "%s: digest mismatch: expected sha256:%s, got sha256:%s",
                                        what, d->hex, got);
        return 0;
}

/* ---- descriptors ----------------------------------------------------------- */

static bool copy_word(char *dst, size_t size, json_t *v)
{
        const char *s = json_string_value(v);
        if (!s || !*s || strlen(s) >= size)
                return false;
        for (const char *c = s; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
                        return false;
        strcpy(dst, s);
        return true;
}

static void parse_platform(json_t *p, struct oci_descriptor *d)
{
        struct oci_platform pl = {};
        if (!json_is_object(p) || !copy_word(pl.os, sizeof(pl.os), json_object_get(p, "os")) ||
            !copy_word(pl.arch, sizeof(pl.arch), json_object_get(p, "architecture")))
                return; /* not one berth could run: never selected */
        json_t *variant = json_object_get(p, "variant");
        if (variant && !copy_word(pl.variant, sizeof(pl.variant), variant))
                return;
        d->platform = pl;
        d->has_platform = true;
}

static int parse_descriptor(json_t *o, const char *what, struct oci_descriptor *d, berth_error **err)
{
        if (!json_is_object(o))
                return berth_error_make(err, BERTH_E_INVALID, 0, "%s: expected a descriptor object", what);
        const char *mt = json_string_value(json_object_get(o, "mediaType"));
        const char *digest = json_string_value(json_object_get(o, "digest"));
        json_t *size = json_object_get(o, "size");
        if (!mt || !digest || !json_is_integer(size))
                return berth_error_make(err, BERTH_E_INVALID, 0, "%s: a descriptor needs mediaType, digest and size",
                                        what);
        const char *hex = startswith(digest, "sha256:");
        if (!hex || !sha256_valid_hex(hex)) {
                _cleanup_free_ char *t = shown(digest);
                return berth_error_make(err, BERTH_E_INVALID, 0, "%s: digest \"%s\": expected sha256: and 64 "
                                        "lowercase hex digits", what, t);
        }
        if (json_integer_value(size) < 0)
                return berth_error_make(err, BERTH_E_INVALID, 0, "%s: negative size", what);
        d->media_type = xstrdup(mt);
        memcpy(d->hex, hex, 65);
        d->size = (uint64_t) json_integer_value(size);
        parse_platform(json_object_get(o, "platform"), d);
        return 0;
}

static void descriptor_done(struct oci_descriptor *d)
{
        free(d->media_type);
        d->media_type = NULL;
}

void oci_manifest_done(struct oci_manifest *m)
{
        descriptor_done(&m->config);
        for (size_t i = 0; i < m->n_items; i++)
                descriptor_done(&m->items[i]);
        free(m->items);
        free(m->media_type);
        *m = (struct oci_manifest){};
}

/* ---- manifests and indexes ------------------------------------------------- */

/* The document's type: what it came with and what it says must agree; a
 * generic Content-Type defers to the document, and a document without
 * mediaType (allowed by OCI) is known by its shape. */
static int document_type(json_t *doc, const char *declared, char **ret, berth_error **err)
{
        const char *own = json_string_value(json_object_get(doc, "mediaType"));
        bool generic = !declared || !*declared || oci_media_kind(declared) == OCI_KIND_UNSUPPORTED;
        if (declared && !generic && own && oci_media_kind(own) != OCI_KIND_UNSUPPORTED &&
            strncmp(own, declared, strcspn(declared, "; \t")) != 0) {
                _cleanup_free_ char *a = shown(declared), *b = shown(own);
                return berth_error_make(err, BERTH_E_INVALID, 0, "manifest: served as \"%s\" but says it is \"%s\"",
                                        a, b);
        }
        const char *t = !generic ? declared : own;
        if (!t)
                t = json_object_get(doc, "manifests") ? "application/vnd.oci.image.index.v1+json"
                                                      : "application/vnd.oci.image.manifest.v1+json";
        if (generic && !own && declared && *declared && !startswith(declared, "application/json") &&
            !startswith(declared, "application/octet-stream"))
                return unsupported(err, "manifest", declared);
        enum oci_kind k = oci_media_kind(t);
        if (k != OCI_KIND_MANIFEST && k != OCI_KIND_INDEX) {
                if (startswith(t, "application/vnd.docker.distribution.manifest.v1"))
                        return berth_error_make(err, BERTH_E_INVALID, 0, "manifest: Docker schema 1 manifests are "
                                                "not supported (push the image again with a current tool)");
                return unsupported(err, "manifest", t);
        }
        *ret = xstrndup(t, strcspn(t, "; \t"));
        return 0;
}

static int parse_items(json_t *list, const char *what, struct oci_manifest *m, berth_error **err)
{
        size_t max = m->kind == OCI_KIND_INDEX ? OCI_MAX_MANIFESTS : OCI_MAX_LAYERS;
        if (!json_is_array(list))
                return berth_error_make(err, BERTH_E_INVALID, 0, "manifest: %s: expected a list", what);
        size_t n = json_array_size(list);
        if (n > max)
                return berth_error_make(err, BERTH_E_LIMIT, 0, "manifest: %zu %s, more than the limit of %zu", n, what,
                                        max);
        m->items = xcalloc(n, sizeof(*m->items));
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *w = xasprintf("manifest: %s[%zu]", what, i);
                if (parse_descriptor(json_array_get(list, i), w, &m->items[i], err) < 0)
                        return -1;
                m->n_items = i + 1;
                if (m->kind == OCI_KIND_MANIFEST && oci_media_kind(m->items[i].media_type) != OCI_KIND_LAYER)
                        return unsupported(err, w, m->items[i].media_type);
        }
        return 0;
}

static int parse_image_manifest(json_t *doc, struct oci_manifest *m, berth_error **err)
{
        if (parse_descriptor(json_object_get(doc, "config"), "manifest: config", &m->config, err) < 0)
                return -1;
        if (oci_media_kind(m->config.media_type) != OCI_KIND_CONFIG)
                return unsupported(err, "manifest: config (not a container image)", m->config.media_type);
        if (parse_items(json_object_get(doc, "layers"), "layers", m, err) < 0)
                return -1;
        if (m->n_items == 0)
                return berth_error_make(err, BERTH_E_INVALID, 0, "manifest: the image has no layers");
        for (size_t i = 0; i < m->n_items; i++)
                if (streq(m->items[i].hex, m->config.hex))
                        return berth_error_make(err, BERTH_E_INVALID, 0, "manifest: layers[%zu] is the config "
                                                "blob sha256:%s, a JSON document declared as a layer", i,
                                                m->config.hex);
        return 0;
}

int oci_manifest_parse(const char *buf, size_t len, const char *declared, struct oci_manifest *ret,
                       berth_error **err)
{
        if (len > OCI_MANIFEST_MAX)
                return berth_error_make(err, BERTH_E_LIMIT, 0, "manifest: %zu bytes, more than the limit of %u",
                                        len, OCI_MANIFEST_MAX);
        if (declared && startswith(declared, "application/vnd.docker.distribution.manifest.v1"))
                return berth_error_make(err, BERTH_E_INVALID, 0, "manifest: Docker schema 1 manifests are not "
                                        "supported (push the image again with a current tool)");
        json_error_t je;
        json_auto_t *doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
        if (!doc)
                return berth_error_make(err, BERTH_E_INVALID, 0, "manifest: not JSON: %s at byte %d", je.text,
                                        je.position);
        if (!json_is_object(doc) || json_integer_value(json_object_get(doc, "schemaVersion")) != 2)
                return berth_error_make(err, BERTH_E_INVALID, 0, "manifest: expected an object with schemaVersion 2");
        _cleanup_(oci_manifest_donep) struct oci_manifest m = {};
        if (document_type(doc, declared, &m.media_type, err) < 0)
                return -1;
        m.kind = oci_media_kind(m.media_type);
        int r = m.kind == OCI_KIND_INDEX ? parse_items(json_object_get(doc, "manifests"), "manifests", &m, err)
                                         : parse_image_manifest(doc, &m, err);
        if (r < 0)
                return -1;
        *ret = m;
        m = (struct oci_manifest){};
        return 0;
}

/* ---- platforms ------------------------------------------------------------- */

/* arm64 without a variant is v8, as containerd's matcher has it. */
static bool variant_matches(const struct oci_platform *have, const struct oci_platform *want)
{
        if (streq(have->variant, want->variant))
                return true;
        return streq(want->arch, "arm64") && ((!*have->variant && streq(want->variant, "v8")) ||
                                              (!*want->variant && streq(have->variant, "v8")));
}

static char *platform_text(const struct oci_platform *p)
{
        return xasprintf("%s/%s%s%s", p->os, p->arch, *p->variant ? "/" : "", p->variant);
}

static int no_platform(const struct oci_manifest *index, const struct oci_platform *want, berth_error **err)
{
        _cleanup_free_ char *w = platform_text(want);
        _cleanup_dynbuf_ dynbuf b;
        dynbuf_init(&b, 512, "platform list");
        for (size_t i = 0; i < index->n_items && b.len < 400; i++) {
                const struct oci_descriptor *d = &index->items[i];
                if (!d->has_platform || streq(d->platform.os, "unknown"))
                        continue;
                _cleanup_free_ char *t = platform_text(&d->platform);
                if (!b.len || !strstr(b.buf, t))
                        (void) dynbuf_printf(&b, NULL, "%s%s", b.len ? ", " : "", t);
        }
        return berth_error_make(err, BERTH_E_NOTFOUND, 0, "no image for platform %s in the index (it has %s)", w,
                                b.len ? b.buf : "no platforms");
}

int oci_index_select(const struct oci_manifest *index, const struct oci_platform *want,
                     const struct oci_descriptor **ret, berth_error **err)
{
        const struct oci_descriptor *best = NULL;
        for (size_t i = 0; i < index->n_items; i++) {
                const struct oci_descriptor *d = &index->items[i];
                enum oci_kind k = oci_media_kind(d->media_type);
                if ((k != OCI_KIND_MANIFEST && k != OCI_KIND_INDEX) || !d->has_platform ||
                    !streq(d->platform.os, want->os) || !streq(d->platform.arch, want->arch) ||
                    !variant_matches(&d->platform, want))
                        continue;
                if (!best || (streq(d->platform.variant, want->variant) && !streq(best->platform.variant, want->variant)))
                        best = d;
        }
        if (!best)
                return no_platform(index, want, err);
        *ret = best;
        return 0;
}

/* ---- configs --------------------------------------------------------------- */

/* A list of strings, or null; anything else is an error. */
static int string_list(json_t *v, const char *what, char ***ret, berth_error **err)
{
        if (!v || json_is_null(v)) {
                *ret = NULL;
                return 0;
        }
        if (!json_is_array(v) || json_array_size(v) > 4096)
                return berth_error_make(err, BERTH_E_INVALID, 0, "config: %s: expected a list of strings", what);
        _cleanup_strv_ char **out = xcalloc(json_array_size(v) + 1, sizeof(char *));
        for (size_t i = 0; i < json_array_size(v); i++) {
                const char *s = json_string_value(json_array_get(v, i));
                if (!s)
                        return berth_error_make(err, BERTH_E_INVALID, 0, "config: %s[%zu]: expected a string", what, i);
                out[i] = xstrdup(s);
        }
        *ret = TAKE_PTR(out);
        return 0;
}

static int optional_string(json_t *v, const char *what, char **ret, berth_error **err)
{
        if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)))
                return 0;
        if (!json_is_string(v))
                return berth_error_make(err, BERTH_E_INVALID, 0, "config: %s: expected a string", what);
        *ret = xstrdup(json_string_value(v));
        return 0;
}

static int parse_run_config(json_t *rc, struct oci_config *c, berth_error **err)
{
        if (!rc || json_is_null(rc))
                return 0;
        if (!json_is_object(rc))
                return berth_error_make(err, BERTH_E_INVALID, 0, "config: config: expected an object");
        if (string_list(json_object_get(rc, "Env"), "Env", &c->env, err) < 0 ||
            string_list(json_object_get(rc, "Entrypoint"), "Entrypoint", &c->entrypoint, err) < 0 ||
            string_list(json_object_get(rc, "Cmd"), "Cmd", &c->cmd, err) < 0 ||
            optional_string(json_object_get(rc, "WorkingDir"), "WorkingDir", &c->workdir, err) < 0 ||
            optional_string(json_object_get(rc, "User"), "User", &c->user, err) < 0)
                return -1;
        for (size_t i = 0; c->env && c->env[i]; i++)
                if (!strchr(c->env[i], '=') || c->env[i][0] == '=')
                        return berth_error_make(err, BERTH_E_INVALID, 0, "config: Env[%zu]: expected NAME=value", i);
        return 0;
}

int oci_config_parse(const char *buf, size_t len, struct oci_config *ret, berth_error **err)
{
        if (len > OCI_CONFIG_MAX)
                return berth_error_make(err, BERTH_E_LIMIT, 0, "config: %zu bytes, more than the limit of %u", len,
                                        OCI_CONFIG_MAX);
        json_error_t je;
        json_auto_t *doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
        if (!doc || !json_is_object(doc))
                return berth_error_make(err, BERTH_E_INVALID, 0, "config: not a JSON object%s%s", doc ? "" : ": ",
                                        doc ? "" : je.text);
        _cleanup_(oci_config_donep) struct oci_config c = {};
        if (parse_run_config(json_object_get(doc, "config"), &c, err) < 0)
                return -1;
        (void) copy_word(c.os, sizeof(c.os), json_object_get(doc, "os"));
        (void) copy_word(c.arch, sizeof(c.arch), json_object_get(doc, "architecture"));
        (void) copy_word(c.variant, sizeof(c.variant), json_object_get(doc, "variant"));
        json_t *diff_ids = json_object_get(json_object_get(doc, "rootfs"), "diff_ids");
        if (!json_is_array(diff_ids) || json_array_size(diff_ids) > OCI_MAX_LAYERS)
                return berth_error_make(err, BERTH_E_INVALID, 0, "config: rootfs.diff_ids: expected a list");
        c.n_diff_ids = json_array_size(diff_ids);
        c.diff_ids = xcalloc(c.n_diff_ids + 1, sizeof(char *));
        for (size_t i = 0; i < c.n_diff_ids; i++) {
                const char *d = json_string_value(json_array_get(diff_ids, i));
                const char *hex = d ? startswith(d, "sha256:") : NULL;
                if (!hex || !sha256_valid_hex(hex))
                        return berth_error_make(err, BERTH_E_INVALID, 0, "config: rootfs.diff_ids[%zu]: expected "
                                                "sha256: and 64 lowercase hex digits", i);
                c.diff_ids[i] = xstrdup(hex);
        }
        *ret = c;
        c = (struct oci_config){};
        return 0;
}

void oci_config_done(struct oci_config *c)
{
        strv_free(c->env);
        strv_free(c->entrypoint);
        strv_free(c->cmd);
        strv_free(c->diff_ids);
        free(c->workdir);
        free(c->user);
        *c = (struct oci_config){};
}

/* ---- layers ---------------------------------------------------------------- */

static const char *looks_like(const unsigned char *h, size_t len)
{
        size_t i = 0;
        while (i < len && (h[i] == ' ' || h[i] == '\n' || h[i] == '\r' || h[i] == '\t'))
                i++;
        if (i < len && (h[i] == '{' || h[i] == '['))
                return "a JSON document";
        if (len >= 2 && h[0] == 0x1f && h[1] == 0x8b)
                return "gzip";
        if (len >= 4 && h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd)
                return "zstd";
        if (len >= 262 && memcmp(h + 257, "ustar", 5) == 0)
                return "a tar";
        return "not a tar";
}

/* An uncompressed tar: a ustar header, or the zero block of an empty one. */
static bool is_tar(const unsigned char *h, size_t len)
{
        if (len >= 262 && memcmp(h + 257, "ustar", 5) == 0)
                return true;
        if (len < 512)
                return false;
        for (size_t i = 0; i < 512; i++)
                if (h[i])
                        return false;
        return true;
}

int oci_layer_sniff(const struct oci_descriptor *d, const unsigned char *head, size_t len, berth_error **err)
{
        const char *mt = d->media_type;
        bool ok;
        if (endswith(mt, "+gzip") || endswith(mt, ".tar.gzip"))
                ok = len >= 2 && head[0] == 0x1f && head[1] == 0x8b;
        else if (endswith(mt, "+zstd"))
                ok = len >= 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd;
        else
                ok = is_tar(head, len);
        if (ok)
                return 0;
        _cleanup_free_ char *t = shown(mt);
        return berth_error_make(err, BERTH_E_INVALID, 0, "layer sha256:%s: declared \"%s\" but the blob is %s", d->hex,
                                t, looks_like(head, len));
}
