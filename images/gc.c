/* Who uses what (refs/), `image ls` and `image gc`. */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "private.h"

#define MAX_REF_FILE (1024 * 1024)

static char *owner_key(const char *owner)
{
        sha256_ctx c;
        sha256_init(&c);
        sha256_update(&c, owner, strlen(owner));
        char hex[65];
        sha256_final_hex(&c, hex);
        return xstrdup(hex);
}

int images_refs_set(const char *cache_dir, const char *owner, char *const *digests, size_t n, berth_error **err)
{
        _cleanup_(store_closep) struct store s = STORE_INIT;
        if (dl_crypto_load(err) < 0 || store_open(cache_dir, &s, err) < 0)
                return -1;
        if (strchr(owner, '\n'))
                return berth_error_make(err, BERTH_E_INVALID, 0, "owner `%s` has a newline", owner);
        _cleanup_dynbuf_ dynbuf b;
        dynbuf_init(&b, MAX_REF_FILE, "refs file");
        if (dynbuf_printf(&b, err, "%s\n", owner) < 0)
                return -1;
        for (size_t i = 0; i < n; i++)
                if (dynbuf_printf(&b, err, "%s\n", digests[i]) < 0)
                        return -1;
        _cleanup_free_ char *key = owner_key(owner);
        return write_file_atomic(s.refs_fd, key, b.buf, b.len, 0600, err);
}

/* ---- reading the cache ------------------------------------------------------ */

struct ref {
        char *owner;
        char **digests;
        bool live;
        char *file;
};

static void refs_free(struct ref *r, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(r[i].owner);
                strv_free(r[i].digests);
                free(r[i].file);
        }
        free(r);
}

static int parse_ref(int dirfd, const char *name, struct ref *ret, berth_error **err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        if (read_file_bounded(dirfd, name, MAX_REF_FILE, "refs file", &buf, &len, err) < 0)
                return -1;
        struct ref r = { .file = xstrdup(name) };
        size_t cap = 8, nd = 0;
        r.digests = xcalloc(cap, sizeof(char *));
        char *save = NULL;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (!r.owner) {
                        r.owner = xstrdup(line);
                        continue;
                }
                if (!sha256_valid_hex(line))
                        continue;
                if (nd + 1 >= cap)
                        r.digests = xrealloc(r.digests, (cap *= 2) * sizeof(char *));
                r.digests[nd++] = xstrdup(line);
                r.digests[nd] = NULL;
        }
        struct stat st;
        r.live = r.owner && stat(r.owner, &st) == 0;
        *ret = r;
        return 0;
}

static int load_refs(struct store *s, struct ref **ret, size_t *ret_n, berth_error **err)
{
        _cleanup_closedir_ DIR *d = opendir_at(s->refs_fd, ".", 0);
        if (!d)
                return berth_err(err, errno, "open refs");
        struct ref *v = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                v = xrealloc(v, (n + 1) * sizeof(*v));
                if (parse_ref(s->refs_fd, de->d_name, &v[n], err) < 0) {
                        refs_free(v, n);
                        return -1;
                }
                n++;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static uint64_t tree_size(int parent, const char *name, int depth)
{
        struct stat st;
        if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return 0;
        if (!S_ISDIR(st.st_mode))
                return S_ISREG(st.st_mode) ? (uint64_t) st.st_size : 0;
        if (depth > 256)
                return 0;
        _cleanup_closedir_ DIR *d = opendir_at(parent, name, O_NOFOLLOW);
        if (!d)
                return 0;
        uint64_t total = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        total += tree_size(dirfd(d), de->d_name, depth + 1);
        return total;
}

static bool has_digest(struct images_entry *v, size_t n, const char *hex)
{
        for (size_t i = 0; i < n; i++)
                if (streq(v[i].sha256, hex))
                        return true;
        return false;
}

static void add_names(int dirfd, struct images_entry **v, size_t *n)
{
        _cleanup_closedir_ DIR *d = opendir_at(dirfd, ".", 0);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!sha256_valid_hex(de->d_name) || has_digest(*v, *n, de->d_name))
                        continue;
                *v = xrealloc(*v, (*n + 1) * sizeof(**v));
                struct images_entry *e = &(*v)[(*n)++];
                *e = (struct images_entry) {};
                memcpy(e->sha256, de->d_name, 65);
        }
}

static void fill_entry(struct store *s, struct images_entry *e, const struct ref *refs, size_t nrefs)
{
        struct stat st;
        if (fstatat(s->blobs_fd, e->sha256, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                e->blob_size = (uint64_t) st.st_size;
                e->last_used = st.st_mtime;
        }
        e->layer_size = tree_size(s->layers_fd, e->sha256, 0);
        _cleanup_free_ char *lock = xasprintf("%s.lock", e->sha256);
        if (fstatat(s->locks_fd, lock, &st, 0) == 0 && st.st_mtime > e->last_used)
                e->last_used = st.st_mtime;
        size_t no = 0;
        e->owners = xcalloc(nrefs + 1, sizeof(char *));
        for (size_t i = 0; i < nrefs; i++)
                for (char **d = refs[i].digests; d && *d; d++)
                        if (streq(*d, e->sha256) && refs[i].owner) {
                                e->owners[no++] = xstrdup(refs[i].owner);
                                break;
                        }
}

void images_entries_free(struct images_entry *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                strv_free(v[i].owners);
        free(v);
}

static int list_store(struct store *s, struct ref *refs, size_t nrefs, struct images_entry **ret, size_t *ret_n)
{
        struct images_entry *v = NULL;
        size_t n = 0;
        add_names(s->blobs_fd, &v, &n);
        add_names(s->layers_fd, &v, &n);
        for (size_t i = 0; i < n; i++)
                fill_entry(s, &v[i], refs, nrefs);
        *ret = v;
        *ret_n = n;
        return 0;
}

int images_list(const char *cache_dir, struct images_entry **ret, size_t *ret_n, berth_error **err)
{
        _cleanup_(store_closep) struct store s = STORE_INIT;
        if (store_open(cache_dir, &s, err) < 0)
                return -1;
        struct ref *refs = NULL;
        size_t nrefs = 0;
        if (load_refs(&s, &refs, &nrefs, err) < 0)
                return -1;
        int rc = list_store(&s, refs, nrefs, ret, ret_n);
        refs_free(refs, nrefs);
        return rc;
}

/* ---- gc --------------------------------------------------------------------- */

static bool kept(const char *hex, const struct ref *refs, size_t nrefs, char *const *keep)
{
        for (size_t i = 0; keep && keep[i]; i++)
                if (streq(keep[i], hex))
                        return true;
        for (size_t i = 0; i < nrefs; i++)
                for (char **d = refs[i].digests; refs[i].live && d && *d; d++)
                        if (streq(*d, hex))
                                return true;
        return false;
}

/* Rename first, then delete: a crash midway leaves only a dot-name that the
 * next run cleans, never a half-deleted layer under its real name. */
static int remove_digest(struct store *s, const char *hex, berth_error **err)
{
        _cleanup_close_ int lock = store_lock(s, hex, false, err);
        if (lock == -2)
                return 1; /* someone is pulling it right now */
        if (lock < 0)
                return -1;
        if (store_has_layer(s, hex)) {
                _cleanup_free_ char *tmp = tmp_name_for(hex);
                if (renameat(s->layers_fd, hex, s->layers_fd, tmp) < 0)
                        return berth_err(err, errno, "remove layer %s", hex);
                if (rm_rf_at(s->layers_fd, tmp, err) < 0)
                        return -1;
        }
        if (unlinkat(s->blobs_fd, hex, 0) < 0 && errno != ENOENT)
                return berth_err(err, errno, "remove blob %s", hex);
        _cleanup_free_ char *partial = xasprintf(".%s.partial", hex);
        unlinkat(s->blobs_fd, partial, 0);
        return 0;
}

void images_gc_result_done(struct images_gc_result *r)
{
        strv_free(r->removed);
        *r = (struct images_gc_result) {};
}

static int collect(struct store *s, struct ref *refs, size_t nrefs, char *const *keep, bool dry_run,
                   struct images_gc_result *res, berth_error **err)
{
        struct images_entry *v = NULL;
        size_t n = 0;
        list_store(s, refs, nrefs, &v, &n);
        res->removed = xcalloc(n + 1, sizeof(char *));
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
                if (kept(v[i].sha256, refs, nrefs, keep))
                        continue;
                int r = dry_run ? 0 : remove_digest(s, v[i].sha256, err);
                if (r < 0)
                        rc = -1;
                if (r != 0)
                        continue;
                res->removed[res->n_removed++] = xstrdup(v[i].sha256);
                res->bytes_freed += v[i].blob_size + v[i].layer_size;
        }
        images_entries_free(v, n);
        return rc;
}

/* The digest in a temporary name ".<hex>.partial" or ".<hex>.tmp-XXXX", or NULL. */
static char *leftover_digest(const char *name)
{
        if (name[0] != '.' || strlen(name) < 66 || name[65] != '.')
                return NULL;
        _cleanup_free_ char *hex = xstrndup(name + 1, 64);
        return sha256_valid_hex(hex) ? TAKE_PTR(hex) : NULL;
}

/* A leftover goes if nobody holds its digest's lock (no pull is working on it);
 * a copy made to learn a local file's digest, once it is an hour old. */
static bool leftover_free(struct store *s, int dirfd, const char *name)
{
        _cleanup_free_ char *hex = leftover_digest(name);
        if (!hex) {
                struct stat st;
                return startswith(name, ".local.blob.tmp-") && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                       st.st_mtime < time(NULL) - 3600;
        }
        _cleanup_error_ berth_error *e = NULL;
        int lock = store_lock(s, hex, false, &e);
        if (lock < 0)
                return false;
        close(lock); /* the unlocked window is harmless: a new pull starts from a fresh name or resumes */
        return true;
}

/* Interrupted downloads and unpacks nobody will resume. */
static void collect_leftovers(struct store *s, int dirfd, bool dry_run, struct images_gc_result *res)
{
        _cleanup_closedir_ DIR *d = opendir_at(dirfd, ".", 0);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] != '.' || streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (!leftover_free(s, dirfd, de->d_name))
                        continue;
                res->bytes_freed += tree_size(dirfd, de->d_name, 0);
                _cleanup_error_ berth_error *e = NULL;
                if (!dry_run)
                        rm_rf_at(dirfd, de->d_name, &e);
        }
}

int images_gc(const char *cache_dir, char *const *keep, bool dry_run, struct images_gc_result *ret,
              berth_error **err)
{
        _cleanup_(store_closep) struct store s = STORE_INIT;
        if (store_open(cache_dir, &s, err) < 0)
                return -1;
        _cleanup_close_ int gc_lock = dry_run ? -1 : store_gc_lock(&s, true, err);
        if (!dry_run && gc_lock < 0)
                return -1;
        struct ref *refs = NULL;
        size_t nrefs = 0;
        if (load_refs(&s, &refs, &nrefs, err) < 0)
                return -1;
        struct images_gc_result res = {};
        int rc = collect(&s, refs, nrefs, keep, dry_run, &res, err);
        if (rc == 0) {
                collect_leftovers(&s, s.blobs_fd, dry_run, &res);
                collect_leftovers(&s, s.layers_fd, dry_run, &res);
        }
        /* Records of owners that no longer exist go with what they kept. */
        for (size_t i = 0; rc == 0 && !dry_run && i < nrefs; i++)
                if (!refs[i].live)
                        unlinkat(s.refs_fd, refs[i].file, 0);
        refs_free(refs, nrefs);
        if (rc < 0) {
                images_gc_result_done(&res);
                return -1;
        }
        *ret = res;
        return 0;
}
