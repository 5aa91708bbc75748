/* Images from archives: an OCI image layout as a tar (`skopeo copy …
 * oci-archive:`) or `docker save` / `podman save` output. The archive is read
 * twice at most: once for its small documents (indexes, manifests, configs,
 * kept in memory under a bound), once more for the layers the cache lacks,
 * each streamed into the store and checked against its digest and size. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <sys/stat.h>

#include "oci.h"

#define SMALL_MAX (1u << 20)      /* an entry up to this is read into memory */
#define SMALL_TOTAL (64u << 20)   /* and all of them together */
#define MAX_ENTRIES 100000

struct entry {
        char *name;               /* normalised: no leading "./" */
        uint64_t size;
        char *data;               /* in memory, or NULL */
};

struct contents {
        struct entry *v;
        size_t n;
        uint64_t in_memory;
};

static void contents_done(struct contents *c)
{
        for (size_t i = 0; i < c->n; i++) {
                free(c->v[i].name);
                free(c->v[i].data);
        }
        free(c->v);
        *c = (struct contents){};
}

static const char *clean_name(const char *n)
{
        while (startswith(n, "./"))
                n += 2;
        return n;
}

static int open_tar(const char *path, int *ret_fd, struct archive **ret, berth_error **err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return berth_err(err, errno, "open `%s`", path);
        struct archive *a = sym_archive_read_new();
        if (!a)
                return berth_err(err, ENOMEM, "archive_read_new");
        sym_archive_read_support_format_tar(a);
        sym_archive_read_support_filter_gzip(a);
        sym_archive_read_support_filter_xz(a);
        sym_archive_read_support_filter_zstd(a);
        sym_archive_read_support_filter_bzip2(a);
        if (sym_archive_read_open_fd(a, fd, 1 << 16) != ARCHIVE_OK) {
                int r = berth_err(err, 0, "`%s`: %s", path, sym_archive_error_string(a));
                sym_archive_read_free(a);
                return r;
        }
        *ret_fd = TAKE_FD(fd);
        *ret = a;
        return 0;
}

static int read_all(struct archive *a, uint64_t size, char **ret, berth_error **err)
{
        char *buf = xmalloc(size + 1);
        size_t got = 0;
        while (got < size) {
                la_ssize_t n = sym_archive_read_data(a, buf + got, size - got);
                if (n <= 0) {
                        free(buf);
                        return berth_err(err, 0, "read: %s", n < 0 ? sym_archive_error_string(a) : "short entry");
                }
                got += (size_t) n;
        }
        buf[size] = '\0';
        *ret = buf;
        return 0;
}

/* First pass: every regular file's name and size; the small ones' bytes. */
static int scan(const char *path, struct contents *c, berth_error **err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_archive_read_ struct archive *a = NULL;
        struct archive_entry *e;
        int r;
        if (open_tar(path, &fd, &a, err) < 0)
                return -1;
        while ((r = sym_archive_read_next_header(a, &e)) == ARCHIVE_OK) {
                if (sym_archive_entry_filetype(e) != AE_IFREG)
                        continue;
                if (c->n >= MAX_ENTRIES)
                        return berth_error_make(err, BERTH_E_LIMIT, 0, "`%s`: more than %d entries", path, MAX_ENTRIES);
                uint64_t size = (uint64_t) sym_archive_entry_size(e);
                struct entry en = { .name = xstrdup(clean_name(sym_archive_entry_pathname(e))), .size = size };
                if (size <= SMALL_MAX && c->in_memory + size <= SMALL_TOTAL) {
                        if (read_all(a, size, &en.data, err) < 0) {
                                free(en.name);
                                return berth_error_wrap(err, "`%s`", path);
                        }
                        c->in_memory += size;
                }
                c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
                c->v[c->n++] = en;
        }
        if (r != ARCHIVE_EOF)
                return berth_err(err, 0, "`%s`: %s", path, sym_archive_error_string(a));
        return 0;
}

static const struct entry *find(const struct contents *c, const char *name)
{
        name = clean_name(name);
        for (size_t i = 0; i < c->n; i++)
                if (streq(c->v[i].name, name))
                        return &c->v[i];
        return NULL;
}

static const struct entry *find_blob(const struct contents *c, const char *hex)
{
        _cleanup_free_ char *name = xasprintf("blobs/sha256/%s", hex);
        return find(c, name);
}

/* A document the archive must hold, in memory, matching its descriptor. */
static int document(const struct contents *c, const char *what, const struct oci_descriptor *d, const struct entry **ret,
                    berth_error **err)
{
        const struct entry *en = find_blob(c, d->hex);
        if (!en)
                return berth_error_make(err, BERTH_E_NOTFOUND, 0, "%s sha256:%s is not in the archive", what, d->hex);
        if (!en->data)
                return berth_error_make(err, BERTH_E_LIMIT, 0, "%s sha256:%s: larger than %u bytes", what, d->hex,
                                        SMALL_MAX);
        if (oci_check_blob(what, d, en->data, en->size, err) < 0)
                return -1;
        *ret = en;
        return 0;
}

/* ---- picking an image ------------------------------------------------------- */

/* ref names an image as its tag ("1") or its reference ("busybox:1",
 * "docker.io/library/busybox:1"): all mean the same one. */
static bool ref_matches(const char *name, const char *ref)
{
        if (streq(name, ref))
                return true;
        const char *colon = strrchr(name, ':');
        if (colon && !strchr(colon, '/') && streq(colon + 1, ref))
                return true;
        _cleanup_(oci_ref_donep) struct oci_ref a = {}, b = {};
        if (oci_ref_parse(name, &a, NULL) < 0 || oci_ref_parse(ref, &b, NULL) < 0)
                return false;
        _cleanup_free_ char *sa = oci_ref_string(&a), *sb = oci_ref_string(&b);
        return streq(sa, sb);
}

static int pick(json_t *list, const char *ref, const char *(*name_of)(json_t *item, size_t k), size_t *ret,
                berth_error **err)
{
        size_t n = json_array_size(list), found = n;
        _cleanup_dynbuf_ dynbuf names;
        dynbuf_init(&names, 512, "names");
        for (size_t i = 0; i < n; i++)
                for (size_t k = 0; name_of(json_array_get(list, i), k); k++) {
                        const char *nm = name_of(json_array_get(list, i), k);
                        if (ref && found == n && ref_matches(nm, ref))
                                found = i;
                        if (names.len < 400)
                                (void) dynbuf_printf(&names, NULL, "%s%s", names.len ? ", " : "", nm);
                }
        if (!ref && n == 1)
                found = 0;
        if (found < n) {
                *ret = found;
                return 0;
        }
        if (ref)
                return berth_error_make(err, BERTH_E_NOTFOUND, 0, "no image %s in the archive (it has %s)", ref,
                                        names.len ? names.buf : "no names");
        return berth_error_make(err, BERTH_E_INVALID, 0, "the archive holds %zu images; pick one with ref: (%s)", n,
                                names.len ? names.buf : "no names");
}

static const char *oci_name(json_t *item, size_t k)
{
        json_t *ann = json_object_get(item, "annotations");
        const char *keys[] = { "io.containerd.image.name", "org.opencontainers.image.ref.name" };
        size_t seen = 0;
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
                const char *v = json_string_value(json_object_get(ann, keys[i]));
                if (v && seen++ == k)
                        return v;
        }
        return NULL;
}

static const char *docker_name(json_t *item, size_t k)
{
        return json_string_value(json_array_get(json_object_get(item, "RepoTags"), k));
}

/* ---- an OCI layout ------------------------------------------------------------ */

static int descriptor_of(json_t *entry, struct oci_manifest *ret, berth_error **err)
{
        json_auto_t *one = json_pack("{s:i,s:s,s:[O]}", "schemaVersion", 2, "mediaType",
                                     "application/vnd.oci.image.index.v1+json", "manifests", entry);
        _cleanup_free_ char *text = one ? json_dumps(one, JSON_COMPACT) : NULL;
        if (!text)
                return berth_err(err, ENOMEM, "index.json");
        return oci_manifest_parse(text, strlen(text), NULL, ret, err);
}

static int resolve_layout(const struct contents *c, const char *ref, const struct oci_platform *want,
                          struct oci_image *im, berth_error **err)
{
        const struct entry *ix = find(c, "index.json");
        if (!ix || !ix->data || !find(c, "oci-layout"))
                return berth_err(err, 0, "not an OCI image layout (no oci-layout and index.json)");
        json_auto_t *doc = json_loadb(ix->data, ix->size, 0, NULL);
        json_t *list = json_object_get(doc, "manifests");
        size_t k;
        _cleanup_(oci_manifest_donep) struct oci_manifest cur = {};
        if (!json_is_array(list) || pick(list, ref, oci_name, &k, err) < 0 ||
            descriptor_of(json_array_get(list, k), &cur, err) < 0)
                return berth_error_wrap(err, "index.json");
        const struct oci_descriptor *next = &cur.items[0];
        for (int depth = 0; depth <= OCI_MAX_DEPTH; depth++) {
                const struct entry *en;
                struct oci_manifest doc2 = {};
                char hex[65];
                memcpy(hex, next->hex, 65);
                if (document(c, "manifest", next, &en, err) < 0 ||
                    oci_manifest_parse(en->data, en->size, next->media_type, &doc2, err) < 0)
                        return -1;
                oci_manifest_done(&cur);
                cur = doc2;
                if (cur.kind == OCI_KIND_MANIFEST) {
                        memcpy(im->manifest_hex, hex, 65);
                        im->manifest_json = xstrdup(en->data);
                        im->manifest_len = en->size;
                        im->manifest = cur;
                        cur = (struct oci_manifest){};
                        return 0;
                }
                if (oci_index_select(&cur, want, &next, err) < 0)
                        return -1;
                if (streq(next->hex, hex))
                        return berth_error_make(err, BERTH_E_INVALID, 0, "index sha256:%s points at itself", hex);
        }
        return berth_error_make(err, BERTH_E_LIMIT, 0, "indexes nested more than %d deep", OCI_MAX_DEPTH);
}

static int layout_config(const struct contents *c, struct oci_image *im, berth_error **err)
{
        const struct entry *en;
        if (document(c, "config", &im->manifest.config, &en, err) < 0 ||
            oci_config_parse(en->data, en->size, &im->config, err) < 0)
                return -1;
        if (im->config.n_diff_ids != im->manifest.n_items)
                return berth_error_make(err, BERTH_E_INVALID, 0, "config: %zu diff_ids for %zu layers",
                                        im->config.n_diff_ids, im->manifest.n_items);
        im->config_json = xstrdup(en->data);
        im->config_len = en->size;
        return 0;
}

/* ---- docker save ---------------------------------------------------------------- */

static char *sha256_of(const void *buf, size_t len)
{
        sha256_ctx h;
        char hex[65];
        sha256_init(&h);
        sha256_update(&h, buf, len);
        sha256_final_hex(&h, hex);
        return xstrdup(hex);
}

/* docker save names layers by path and digests them by the config's
 * diff_ids (uncompressed tars): an OCI manifest is written for them. */
static char *docker_manifest(const struct oci_image *im, const char *config_hex, json_t *layers,
                             const struct contents *c, berth_error **err)
{
        json_auto_t *ls = json_array();
        for (size_t i = 0; i < json_array_size(layers); i++) {
                const char *p = json_string_value(json_array_get(layers, i));
                const struct entry *en = p ? find(c, p) : NULL;
                if (!en)
                        return berth_error_make(err, BERTH_E_NOTFOUND, 0, "Layers[%zu]: %s is not in the archive", i,
                                                p ? p : "(not a string)"), NULL;
                _cleanup_free_ char *digest = xasprintf("sha256:%s", im->config.diff_ids[i]);
                json_array_append_new(ls, json_pack("{s:s,s:s,s:I}", "mediaType", "application/vnd.oci.image.layer.v1.tar",
                                                    "digest", digest, "size", (json_int_t) en->size));
        }
        _cleanup_free_ char *cd = xasprintf("sha256:%s", config_hex);
        json_auto_t *m = json_pack("{s:i,s:s,s:{s:s,s:s,s:I},s:O}", "schemaVersion", 2, "mediaType",
                                   "application/vnd.oci.image.manifest.v1+json", "config", "mediaType",
                                   "application/vnd.docker.container.image.v1+json", "digest", cd, "size",
                                   (json_int_t) im->config_len, "layers", ls);
        return json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
}

static int resolve_docker(const struct contents *c, const char *ref, struct oci_image *im, char ***ret_paths,
                          berth_error **err)
{
        const struct entry *me = find(c, "manifest.json");
        if (!me || !me->data)
                return berth_err(err, 0, "not a docker archive (no manifest.json)");
        json_auto_t *doc = json_loadb(me->data, me->size, 0, NULL);
        size_t k;
        if (!json_is_array(doc) || pick(doc, ref, docker_name, &k, err) < 0)
                return berth_error_wrap(err, "manifest.json");
        json_t *item = json_array_get(doc, k), *layers = json_object_get(item, "Layers");
        const char *cfg = json_string_value(json_object_get(item, "Config"));
        const struct entry *ce = cfg ? find(c, cfg) : NULL;
        if (!ce || !ce->data || !json_is_array(layers))
                return berth_err(err, 0, "manifest.json: an image needs its Config and Layers in the archive");
        _cleanup_free_ char *config_hex = sha256_of(ce->data, ce->size);
        const char *base = strrchr(cfg, '/') ? strrchr(cfg, '/') + 1 : cfg;
        if (strlen(base) >= 64 && is_hex_string(base, 64) && strncmp(base, config_hex, 64) != 0)
                return berth_error_make(err, BERTH_E_DIGEST, 0, "config %s: digest mismatch: got sha256:%s", cfg,
                                        config_hex);
        if (oci_config_parse(ce->data, ce->size, &im->config, err) < 0)
                return -1;
        im->config_json = xstrdup(ce->data);
        im->config_len = ce->size;
        if (im->config.n_diff_ids != json_array_size(layers))
                return berth_error_make(err, BERTH_E_INVALID, 0, "config: %zu diff_ids for %zu layers",
                                        im->config.n_diff_ids, json_array_size(layers));
        _cleanup_free_ char *m = docker_manifest(im, config_hex, layers, c, err);
        if (!m)
                return -1;
        _cleanup_free_ char *mhex = sha256_of(m, strlen(m));
        memcpy(im->manifest_hex, mhex, 65);
        im->manifest_len = strlen(m);
        im->manifest_json = TAKE_PTR(m);
        if (oci_manifest_parse(im->manifest_json, im->manifest_len, NULL, &im->manifest, err) < 0)
                return -1;
        char **paths = xcalloc(json_array_size(layers) + 1, sizeof(char *));
        for (size_t i = 0; i < json_array_size(layers); i++)
                paths[i] = xstrdup(clean_name(json_string_value(json_array_get(layers, i))));
        *ret_paths = paths;
        return 0;
}

/* ---- layers into the store ---------------------------------------------------------- */

struct sink {
        struct store *s;
        const struct oci_descriptor *d;
        int fd;
        char *tmp;
        sha256_ctx h;
        uint64_t bytes;
        unsigned char head[512];
        size_t head_len;
};

static int sink_open(struct sink *k, struct store *s, const struct oci_descriptor *d, berth_error **err)
{
        *k = (struct sink){ .s = s, .d = d, .tmp = tmp_name_for(d->hex) };
        k->fd = openat(s->blobs_fd, k->tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (k->fd < 0)
                return berth_err(err, errno, "create `%s`", k->tmp);
        sha256_init(&k->h);
        return 0;
}

static int sink_write(struct sink *k, const void *buf, size_t len, berth_error **err)
{
        if (k->bytes + len > k->d->size)
                return berth_error_make(err, BERTH_E_DIGEST, 0, "layer sha256:%s: larger than its declared size of "
                                        "%" PRIu64 " bytes", k->d->hex, k->d->size);
        size_t h = len < sizeof(k->head) - k->head_len ? len : sizeof(k->head) - k->head_len;
        memcpy(k->head + k->head_len, buf, h);
        k->head_len += h;
        sha256_update(&k->h, buf, len);
        k->bytes += len;
        if (write_all(k->fd, buf, len) < 0)
                return berth_err(err, errno, "write `%s`", k->tmp);
        return 0;
}

/* Checked (size, digest, first bytes), then renamed in under its digest. */
static int sink_close(struct sink *k, bool ok, berth_error **err)
{
        char got[65] = "";
        sha256_final_hex(&k->h, got);
        if (ok && k->bytes != k->d->size)
                ok = berth_error_make(err, BERTH_E_DIGEST, 0, "layer sha256:%s: %" PRIu64 " bytes, but its "
                                      "descriptor says %" PRIu64, k->d->hex, k->bytes, k->d->size) == 0;
        if (ok && !streq(got, k->d->hex))
                ok = berth_error_make(err, BERTH_E_DIGEST, 0, "layer: digest mismatch: expected sha256:%s, got "
                                      "sha256:%s", k->d->hex, got) == 0;
        if (ok && oci_layer_sniff(k->d, k->head, k->head_len, err) < 0)
                ok = false;
        if (ok && (fsync(k->fd) < 0 || fchmod(k->fd, 0444) < 0 ||
                   renameat(k->s->blobs_fd, k->tmp, k->s->blobs_fd, k->d->hex) < 0))
                ok = berth_err(err, errno, "store layer sha256:%s", k->d->hex) == 0;
        if (!ok)
                (void) unlinkat(k->s->blobs_fd, k->tmp, 0);
        close(k->fd);
        free(k->tmp);
        return ok ? 0 : -1;
}

static int store_entry(struct store *s, struct archive *a, const struct entry *en, const struct oci_descriptor *d,
                       berth_error **err)
{
        _cleanup_close_ int lock = store_lock(s, d->hex, true, err);
        if (lock < 0)
                return -1;
        if (store_has_blob(s, d->hex))
                return 0;
        struct sink k;
        if (sink_open(&k, s, d, err) < 0)
                return -1;
        int r = 0;
        if (en->data) {
                r = sink_write(&k, en->data, en->size, err);
        } else {
                char buf[1 << 16];
                la_ssize_t n;
                while (r == 0 && (n = sym_archive_read_data(a, buf, sizeof(buf))) > 0)
                        r = sink_write(&k, buf, (size_t) n, err);
                if (r == 0 && n < 0)
                        r = berth_err(err, 0, "read: %s", sym_archive_error_string(a));
        }
        return sink_close(&k, r == 0, err);
}

/* Second pass, only for the layers the cache lacks and memory does not hold. */
static int store_layers(struct store *s, const char *path, const struct contents *c, char **names,
                        const struct oci_manifest *m, berth_error **err)
{
        size_t left = 0;
        for (size_t i = 0; i < m->n_items; i++) {
                const struct entry *en = find(c, names[i]);
                if (!en)
                        return berth_error_make(err, BERTH_E_NOTFOUND, 0, "layer %s is not in the archive", names[i]);
                if (store_has_blob(s, m->items[i].hex))
                        continue;
                if (en->data) {
                        if (store_entry(s, NULL, en, &m->items[i], err) < 0)
                                return -1;
                } else {
                        left++;
                }
        }
        if (!left)
                return 0;
        _cleanup_close_ int fd = -1;
        _cleanup_archive_read_ struct archive *a = NULL;
        struct archive_entry *e;
        if (open_tar(path, &fd, &a, err) < 0)
                return -1;
        while (left && sym_archive_read_next_header(a, &e) == ARCHIVE_OK) {
                const char *name = clean_name(sym_archive_entry_pathname(e));
                for (size_t i = 0; i < m->n_items; i++)
                        if (streq(names[i], name) && !store_has_blob(s, m->items[i].hex)) {
                                if (store_entry(s, a, find(c, name), &m->items[i], err) < 0)
                                        return -1;
                                left--;
                                break;
                        }
        }
        if (left)
                return berth_err(err, 0, "`%s`: %zu layers could not be read back", path, left);
        return 0;
}

/* ---- the whole import ------------------------------------------------------------ */

static int read_image(struct store *s, const char *path, bool docker, const char *ref,
                      const struct oci_platform *want, struct oci_image *im, struct oci_added *added,
                      berth_error **err)
{
        _cleanup_(contents_done) struct contents c = {};
        _cleanup_strv_ char **names = NULL;
        if (scan(path, &c, err) < 0)
                return -1;
        if (docker ? resolve_docker(&c, ref, im, &names, err) < 0
                   : resolve_layout(&c, ref, want, im, err) < 0 || layout_config(&c, im, err) < 0)
                return -1;
        if (!names) {
                names = xcalloc(im->manifest.n_items + 1, sizeof(char *));
                for (size_t i = 0; i < im->manifest.n_items; i++)
                        names[i] = xasprintf("blobs/sha256/%s", im->manifest.items[i].hex);
        }
        oci_note_added(s, &im->manifest, added);
        return store_layers(s, path, &c, names, &im->manifest, err);
}

static int unpack_layers(struct store *s, const struct images_opts *opts, const struct oci_manifest *m,
                         berth_error **err)
{
        struct images_opts o = *opts;
        o.owner = NULL;
        _cleanup_free_ struct image_ref *refs = xcalloc(m->n_items, sizeof(*refs));
        _cleanup_strv_ char **paths = xcalloc(m->n_items + 1, sizeof(char *)), **dirs = NULL;
        for (size_t i = 0; i < m->n_items; i++) {
                paths[i] = xasprintf("%s/blobs/sha256/%s", s->root, m->items[i].hex);
                refs[i] = (struct image_ref){ .url = paths[i], .sha256 = m->items[i].hex };
        }
        return images_pull(&o, refs, m->n_items, &dirs, err);
}

/* A local archive is known by its path, file and times, plus what is picked. */
static char *archive_key(const char *path, const struct stat *st, bool docker, const char *ref,
                         const struct oci_platform *want)
{
        _cleanup_free_ char *src = xasprintf("%s-archive:%s %llu:%llu:%lld:%lld.%09ld %s", docker ? "docker" : "oci",
                                             path, (unsigned long long) st->st_dev, (unsigned long long) st->st_ino,
                                             (long long) st->st_size, (long long) st->st_mtim.tv_sec,
                                             st->st_mtim.tv_nsec, ref ? ref : "-");
        return oci_record_key(src, want);
}

static int local_path(const struct images_opts *opts, const char *source, const char *sha256, char **ret,
                      berth_error **err)
{
        if (!startswith(source, "http://") && !startswith(source, "https://")) {
                *ret = xstrdup(startswith(source, "file://") ? source + 7 : source);
                return 0;
        }
        struct images_opts o = *opts;
        o.owner = NULL;
        struct image_ref r = { .url = source, .sha256 = sha256 };
        _cleanup_strv_ char **blobs = NULL;
        if (images_fetch(&o, &r, 1, &blobs, err) < 0)
                return -1;
        *ret = xstrdup(blobs[0]);
        return 0;
}

static int import(struct store *s, const struct images_opts *opts, const char *path, bool docker, const char *ref,
                  const struct oci_platform *want, struct oci_image *im, berth_error **err)
{
        struct oci_added added = {};
        int r = read_image(s, path, docker, ref, want, im, &added, err);
        if (r == 0)
                r = unpack_layers(s, opts, &im->manifest, err);
        if (r < 0 && added.blob && (*err)->kind != BERTH_E_FAILED)
                oci_take_out(s, &im->manifest, &added);
        free(added.blob);
        free(added.layer);
        return r;
}

int images_pull_archive(const struct images_opts *opts, const char *source, const char *sha256, bool docker,
                        const char *ref, const char *platform, struct images_oci_image *ret, berth_error **err)
{
        struct oci_platform want;
        _cleanup_(store_closep) struct store s = STORE_INIT;
        _cleanup_free_ char *path = NULL, *key = NULL;
        _cleanup_(oci_image_donep) struct oci_image im = {};
        struct stat st;
        if (platform ? oci_platform_parse(platform, &want, err) < 0 : (oci_platform_host(&want), 0))
                return -1;
        if (store_open(opts->cache_dir, &s, err) < 0)
                return -1;
        _cleanup_close_ int records = oci_open_records(&s, err);
        if (records < 0 || dl_crypto_load(err) < 0 || dl_archive_load(err) < 0 ||
            local_path(opts, source, sha256, &path, err) < 0)
                return -1;
        if (stat(path, &st) < 0)
                return berth_err(err, errno, "`%s`", path);
        key = archive_key(path, &st, docker, ref, &want);
        if (oci_from_record(&s, records, key, &im) < 0) {
                oci_image_done(&im);
                if (import(&s, opts, path, docker, ref, &want, &im, err) < 0 ||
                    oci_keep_documents(&s, records, key, &im, err) < 0) {
                        if (*err && (*err)->kind == BERTH_E_INVALID)
                                (*err)->kind = BERTH_E_FAILED;
                        return berth_error_wrap(err, "%s", source);
                }
        }
        oci_fill_result(&s, source, &im, ret);
        for (size_t i = 0; i < ret->n_layers; i++)
                images_mark_used(ret->layer_dirs[i]);
        return 0;
}
