/* Pulling an OCI image: resolve the reference, then hand the layers to the
 * ordinary pull (parallel, resumable, verified, unpacked once per digest).
 * The manifest and config join the blobs only when everything worked, and
 * a record of what the reference resolved to lets a later run use the cache
 * without asking the registry. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "oci.h"


void images_oci_image_done(struct images_oci_image *im)
{
        free(im->reference);
        strv_free(im->layer_dirs);
        strv_free(im->env);
        strv_free(im->entrypoint);
        strv_free(im->cmd);
        free(im->workdir);
        free(im->user);
        *im = (struct images_oci_image){};
}

/* The record's key: the reference and platform. Its file name is a hash of
 * it (FNV-1a: no libcrypto, so that a run of a pulled image loads none); the
 * record holds the key itself, so a collision is only a miss. */
char *oci_record_key(const char *ref_text, const struct oci_platform *p)
{
        return xasprintf("%s %s/%s/%s", ref_text, p->os, p->arch, p->variant);
}

static char *record_name(const char *key)
{
        uint64_t h = UINT64_C(1469598103934665603);
        for (const unsigned char *c = (const unsigned char *) key; *c; c++)
                h = (h ^ *c) * UINT64_C(1099511628211);
        return xasprintf("%016" PRIx64, h);
}

int oci_open_records(struct store *s, berth_error **err)
{
        _cleanup_free_ char *p = xasprintf("%s/oci", s->root);
        if (mkdir_p(p, 0700, err) < 0)
                return -1;
        int fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return berth_err(err, errno, "open `%s`", p);
        return fd;
}

/* A blob of the store: verified when it went in, and the cache's files are
 * trusted as its layers are. */
static int read_blob(struct store *s, const char *hex, size_t max, char **ret, size_t *ret_len)
{
        _cleanup_error_ berth_error *e = NULL;
        return read_file_bounded(s->blobs_fd, hex, max, "blob", ret, ret_len, &e);
}

void oci_fill_result(struct store *s, const char *ref_text, struct oci_image *im, struct images_oci_image *ret)
{
        struct images_oci_image out = { .reference = xstrdup(ref_text) };
        snprintf(out.manifest_digest, sizeof(out.manifest_digest), "sha256:%s", im->manifest_hex);
        snprintf(out.top_digest, sizeof(out.top_digest), "sha256:%s", *im->top_hex ? im->top_hex : im->manifest_hex);
        snprintf(out.config_digest, sizeof(out.config_digest), "sha256:%s", im->manifest.config.hex);
        out.n_layers = im->manifest.n_items;
        out.layer_dirs = xcalloc(out.n_layers + 1, sizeof(char *));
        for (size_t i = 0; i < out.n_layers; i++)
                out.layer_dirs[i] = store_layer_path(s, im->manifest.items[i].hex);
        out.env = TAKE_PTR(im->config.env);
        out.entrypoint = TAKE_PTR(im->config.entrypoint);
        out.cmd = TAKE_PTR(im->config.cmd);
        out.workdir = TAKE_PTR(im->config.workdir);
        out.user = TAKE_PTR(im->config.user);
        *ret = out;
}

/* ---- from the cache ----------------------------------------------------------- */

int oci_from_record(struct store *s, int records, const char *key, struct oci_image *im)
{
        _cleanup_free_ char *name = record_name(key), *rec = NULL, *m = NULL, *c = NULL;
        _cleanup_error_ berth_error *e = NULL;
        size_t rlen = 0, mlen = 0, clen = 0;
        char mhex[65], chex[65], thex[65] = "";
        const char *nl;
        if (read_file_bounded(records, name, OCI_RECORD_MAX, "record", &rec, &rlen, &e) < 0 || !(nl = strchr(rec, '\n')) ||
            (size_t) (nl - rec) != strlen(key) || strncmp(rec, key, strlen(key)) != 0 ||
            sscanf(nl + 1, "%64s %64s %64s", mhex, chex, thex) < 2 || !sha256_valid_hex(mhex) ||
            !sha256_valid_hex(chex))
                return -1;
        if (read_blob(s, mhex, OCI_MANIFEST_MAX, &m, &mlen) < 0 ||
            oci_manifest_parse(m, mlen, NULL, &im->manifest, &e) < 0 || im->manifest.kind != OCI_KIND_MANIFEST ||
            !streq(im->manifest.config.hex, chex) || read_blob(s, chex, OCI_CONFIG_MAX, &c, &clen) < 0 ||
            oci_config_parse(c, clen, &im->config, &e) < 0)
                return -1;
        for (size_t i = 0; i < im->manifest.n_items; i++)
                if (!store_has_layer(s, im->manifest.items[i].hex))
                        return -1;
        memcpy(im->manifest_hex, mhex, 65);
        memcpy(im->top_hex, sha256_valid_hex(thex) ? thex : mhex, 65);
        return 0;
}

/* ---- from the registry --------------------------------------------------------- */

void oci_note_added(struct store *s, const struct oci_manifest *m, struct oci_added *a)
{
        a->blob = xcalloc(m->n_items, sizeof(bool));
        a->layer = xcalloc(m->n_items, sizeof(bool));
        for (size_t i = 0; i < m->n_items; i++) {
                a->blob[i] = !store_has_blob(s, m->items[i].hex);
                a->layer[i] = !store_has_layer(s, m->items[i].hex);
        }
}

void oci_take_out(struct store *s, const struct oci_manifest *m, const struct oci_added *a)
{
        for (size_t i = 0; i < m->n_items; i++) {
                const char *hex = m->items[i].hex;
                if (!a->blob[i] && !a->layer[i])
                        continue;
                _cleanup_error_ berth_error *e = NULL;
                _cleanup_close_ int lock = store_lock(s, hex, true, &e);
                if (lock < 0)
                        continue;
                if (a->blob[i])
                        (void) unlinkat(s->blobs_fd, hex, 0);
                if (a->layer[i])
                        (void) rm_rf_at(s->layers_fd, hex, &e);
        }
}

/* A layer's first bytes must agree with its media type (oci_layer_sniff). */
static int sniff_blobs(struct store *s, const struct oci_manifest *m, berth_error **err)
{
        for (size_t i = 0; i < m->n_items; i++) {
                unsigned char head[512];
                _cleanup_close_ int fd = openat(s->blobs_fd, m->items[i].hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return berth_err(err, errno, "open blob %s", m->items[i].hex);
                ssize_t n = pread(fd, head, sizeof(head), 0);
                if (n < 0)
                        return berth_err(err, errno, "read blob %s", m->items[i].hex);
                if (oci_layer_sniff(&m->items[i], head, (size_t) n, err) < 0)
                        return -1;
        }
        return 0;
}

static int fetch_layers(struct store *s, const struct images_opts *opts, struct registry *r, struct oci_image *im,
                        berth_error **err)
{
        const struct oci_manifest *m = &im->manifest;
        struct images_opts o = *opts;
        o.owner = NULL; /* the caller records who uses what */
        _cleanup_free_ struct image_ref *refs = xcalloc(m->n_items, sizeof(*refs));
        _cleanup_strv_ char **urls = xcalloc(m->n_items + 1, sizeof(char *));
        for (size_t i = 0; i < m->n_items; i++) {
                urls[i] = registry_blob_url(r, m->items[i].hex);
                refs[i] = (struct image_ref){ .url = urls[i], .sha256 = m->items[i].hex, .size = m->items[i].size,
                                              .authorization = r->authorization };
        }
        _cleanup_strv_ char **blobs = NULL, **dirs = NULL;
        if (images_fetch(&o, refs, m->n_items, &blobs, err) < 0 || sniff_blobs(s, m, err) < 0)
                return -1;
        return images_pull(&o, refs, m->n_items, &dirs, err);
}

int oci_keep_documents(struct store *s, int records, const char *key, const struct oci_image *im,
                          berth_error **err)
{
        _cleanup_free_ char *name = record_name(key);
        if (!store_has_blob(s, im->manifest_hex) &&
            write_file_atomic(s->blobs_fd, im->manifest_hex, im->manifest_json, im->manifest_len, 0444, err) < 0)
                return -1;
        if (!store_has_blob(s, im->manifest.config.hex) &&
            write_file_atomic(s->blobs_fd, im->manifest.config.hex, im->config_json, im->config_len, 0444, err) < 0)
                return -1;
        _cleanup_free_ char *rec = xasprintf("%s\n%s %s %s\n", key, im->manifest_hex, im->manifest.config.hex,
                                             *im->top_hex ? im->top_hex : im->manifest_hex);
        return write_file_atomic(records, name, rec, strlen(rec), 0600, err);
}

static int from_registry(struct store *s, const struct images_opts *opts, const struct oci_ref *ref,
                         const struct oci_platform *want, struct oci_image *im, berth_error **err)
{
        _cleanup_(registry_closep) struct registry r = {};
        if (registry_open(ref, opts, &r, err) < 0 || registry_resolve(&r, want, im, err) < 0)
                return -1;
        struct oci_added a = {};
        oci_note_added(s, &im->manifest, &a);
        int rc = fetch_layers(s, opts, &r, im, err);
        /* Content that is wrong goes; after a network failure what is
         * complete stays for the next try. */
        if (rc < 0 && (*err)->kind != BERTH_E_FAILED)
                oci_take_out(s, &im->manifest, &a);
        free(a.blob);
        free(a.layer);
        return rc < 0 ? berth_error_wrap(err, "%s", r.ref_text) : 0;
}

/* A pull of a tag that the cache holds: one HEAD says whether it moved.
 * 1 unchanged, 0 changed (or the registry does not say), -1 error. */
static int tag_unchanged(const struct images_opts *opts, const struct oci_ref *ref, const char *top_hex,
                         berth_error **err)
{
        _cleanup_(registry_closep) struct registry r = {};
        char hex[65];
        if (dl_crypto_load(err) < 0 || dl_curl_load(err) < 0 || registry_open(ref, opts, &r, err) < 0)
                return -1;
        int rc = registry_head_digest(&r, hex, err);
        if (rc < 0)
                return berth_error_wrap(err, "%s", r.ref_text);
        return rc == 0 && streq(hex, top_hex);
}

int images_pull_oci(const struct images_opts *opts, const char *reference, const char *platform, bool refresh,
                    struct images_oci_image *ret, berth_error **err)
{
        _cleanup_(oci_ref_donep) struct oci_ref ref = {};
        struct oci_platform want;
        if (oci_ref_parse(reference, &ref, err) < 0)
                return berth_error_wrap(err, "%s", reference);
        if (platform ? oci_platform_parse(platform, &want, err) < 0 : (oci_platform_host(&want), 0))
                return -1;
        _cleanup_(store_closep) struct store s = STORE_INIT;
        if (store_open(opts->cache_dir, &s, err) < 0)
                return -1;
        _cleanup_close_ int records = oci_open_records(&s, err);
        if (records < 0)
                return -1;
        _cleanup_free_ char *text = oci_ref_string(&ref), *key = oci_record_key(text, &want);
        _cleanup_(oci_image_donep) struct oci_image im = {};
        bool cached = oci_from_record(&s, records, key, &im) == 0;
        if (cached && refresh && !ref.digest) {
                int same = tag_unchanged(opts, &ref, im.top_hex, err);
                if (same < 0)
                        return -1;
                cached = same;
        }
        if (!cached) {
                oci_image_done(&im);
                if (dl_crypto_load(err) < 0 || dl_curl_load(err) < 0 ||
                    from_registry(&s, opts, &ref, &want, &im, err) < 0 || oci_keep_documents(&s, records, key, &im, err) < 0) {
                        /* What a registry serves is not the spec: a bad document is a failed pull (exit 1). */
                        if (*err && (*err)->kind == BERTH_E_INVALID)
                                (*err)->kind = BERTH_E_FAILED;
                        return -1;
                }
                /* The same image by the digest the tag named: what a lock
                 * pins, found without asking the registry again. */
                _cleanup_free_ char *pinned = ref.digest ? NULL : xasprintf("%s@sha256:%s", text, im.top_hex);
                _cleanup_free_ char *pinned_key = pinned ? oci_record_key(pinned, &want) : NULL;
                if (pinned_key && oci_keep_documents(&s, records, pinned_key, &im, err) < 0)
                        return -1;
        }
        oci_fill_result(&s, text, &im, ret);
        for (size_t i = 0; i < ret->n_layers; i++)
                images_mark_used(ret->layer_dirs[i]);
        return 0;
}
