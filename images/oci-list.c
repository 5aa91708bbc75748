/* `image ls` for OCI images: one entry per record in <cache>/oci (what a
 * reference or archive last resolved to), with its layers' sizes and last
 * use. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "oci.h"

void images_oci_entries_free(struct images_oci_entry *v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(v[i].reference);
                free(v[i].platform);
        }
        free(v);
}

/* The key is "SOURCE os/arch/variant"; an archive's SOURCE is
 * "KIND-archive:PATH STAT REF" (oci-archive.c): shown as KIND-archive:PATH,
 * with the image's name when one was picked. */
static void split_key(char *key, struct images_oci_entry *e)
{
        char *sp = strrchr(key, ' ');
        if (!sp)
                return;
        *sp = '\0';
        size_t pl = strlen(sp + 1);
        e->platform = xstrndup(sp + 1, pl && sp[pl] == '/' ? pl - 1 : pl);
        if (startswith(key, "oci-archive:") || startswith(key, "docker-archive:")) {
                char *ref = strrchr(key, ' ');
                char *stat_part = ref ? memrchr(key, ' ', (size_t) (ref - key)) : NULL;
                if (stat_part) {
                        *stat_part = '\0';
                        e->reference = streq(ref + 1, "-") ? xstrdup(key) : xasprintf("%s (%s)", key, ref + 1);
                        return;
                }
        }
        e->reference = xstrdup(key);
}

static int64_t layer_used(struct store *s, const char *hex)
{
        struct stat st;
        _cleanup_free_ char *lock = xasprintf("%s.lock", hex);
        return fstatat(s->locks_fd, lock, &st, 0) == 0 ? (int64_t) st.st_mtime : 0;
}

/* One record: 0 and e filled, or -1 for a record that is not one (skipped). */
static int read_entry(struct store *s, int records, const char *name, struct images_oci_entry *e)
{
        _cleanup_error_ berth_error *err = NULL;
        _cleanup_free_ char *rec = NULL, *m = NULL;
        _cleanup_(oci_manifest_donep) struct oci_manifest man = {};
        size_t rlen, mlen;
        char mhex[65], chex[65], thex[65] = "";
        char *nl;
        if (read_file_bounded(records, name, OCI_RECORD_MAX, "record", &rec, &rlen, &err) < 0 ||
            !(nl = strchr(rec, '\n')) || sscanf(nl + 1, "%64s %64s %64s", mhex, chex, thex) < 2 ||
            !sha256_valid_hex(mhex))
                return -1;
        *nl = '\0';
        *e = (struct images_oci_entry){};
        split_key(rec, e);
        if (!e->reference) {
                free(e->platform);
                return -1;
        }
        snprintf(e->manifest_digest, sizeof(e->manifest_digest), "sha256:%s", mhex);
        snprintf(e->top_digest, sizeof(e->top_digest), "sha256:%s", sha256_valid_hex(thex) ? thex : mhex);
        e->complete = read_file_bounded(s->blobs_fd, mhex, OCI_MANIFEST_MAX, "manifest", &m, &mlen, &err) == 0 &&
                      oci_manifest_parse(m, mlen, NULL, &man, &err) == 0;
        for (size_t i = 0; i < man.n_items; i++) {
                int64_t used = layer_used(s, man.items[i].hex);
                e->size += man.items[i].size;
                e->last_used = used > e->last_used ? used : e->last_used;
                e->complete = e->complete && store_has_layer(s, man.items[i].hex);
        }
        e->n_layers = man.n_items;
        return 0;
}

/* A tag's pull also records the image under TAG@DIGEST (what a lock pins):
 * the same image, listed once. */
static bool shadowed(const struct images_oci_entry *v, size_t n, const struct images_oci_entry *e)
{
        const char *at = strchr(e->reference, '@');
        for (size_t i = 0; at && i < n; i++)
                if (&v[i] != e && strlen(v[i].reference) == (size_t) (at - e->reference) &&
                    !strncmp(v[i].reference, e->reference, (size_t) (at - e->reference)) &&
                    streq(v[i].manifest_digest, e->manifest_digest) && streq(v[i].platform, e->platform))
                        return true;
        return false;
}

static int by_reference(const void *a, const void *b)
{
        const struct images_oci_entry *x = a, *y = b;
        int c = strcmp(x->reference, y->reference);
        return c ? c : strcmp(x->platform, y->platform);
}

int images_oci_list(const char *cache_dir, struct images_oci_entry **ret, size_t *ret_n, berth_error **err)
{
        _cleanup_(store_closep) struct store s = STORE_INIT;
        if (store_open(cache_dir, &s, err) < 0)
                return -1;
        _cleanup_close_ int records = oci_open_records(&s, err);
        if (records < 0)
                return -1;
        _cleanup_closedir_ DIR *d = opendir_at(records, ".", 0);
        if (!d)
                return berth_err(err, errno, "read %s/oci", s.root);
        struct images_oci_entry *v = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                v = xrealloc(v, (n + 1) * sizeof(*v));
                if (read_entry(&s, records, de->d_name, &v[n]) == 0)
                        n++;
        }
        _cleanup_free_ bool *drop = xcalloc(n + 1, sizeof(bool));
        for (size_t i = 0; i < n; i++)
                drop[i] = shadowed(v, n, &v[i]);
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                if (drop[i])
                        free(v[i].reference), free(v[i].platform);
                else
                        v[k++] = v[i];
        if (k)
                qsort(v, k, sizeof(*v), by_reference);
        *ret = v;
        *ret_n = k;
        return 0;
}
