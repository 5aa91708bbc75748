/* Who uses what (refs/ for specs that exist, inuse/ for sandboxes that
 * run), `image ls` and `image gc`. */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "oci.h"
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

/* ---- in use: records held by running sandboxes ---------------------------------- */

static int open_inuse(struct store *s, berth_error **err)
{
        _cleanup_free_ char *p = xasprintf("%s/inuse", s->root);
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
                return berth_err(err, errno, "mkdir `%s`", p);
        int fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? berth_err(err, errno, "open `%s`", p) : fd;
}

/* A record is written under a dot-name, locked, then put in place: gc never
 * sees one unlocked before its first holder has it. A shared one is linked
 * (a holder that made it meanwhile keeps theirs: 1); a run's own (unique)
 * one is renamed, so that its holder's fd names it when it removes it. */
static int make_record(int dirfd, const char *name, const char *text, bool own, int *ret_fd, berth_error **err)
{
        _cleanup_free_ char *tmp = xasprintf(".%s-%d", name, (int) getpid());
        _cleanup_close_ int fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return berth_err(err, errno, "create in-use record");
        if (write_all(fd, text, strlen(text)) < 0 || flock(fd, own ? LOCK_EX : LOCK_SH) < 0) {
                int e = errno;
                unlinkat(dirfd, tmp, 0);
                return berth_err(err, e, "write in-use record");
        }
        int r = own ? renameat(dirfd, tmp, dirfd, name) : linkat(dirfd, tmp, dirfd, name, 0);
        int e = errno;
        if (!own || r < 0)
                unlinkat(dirfd, tmp, 0);
        if (r < 0)
                return e == EEXIST ? 1 : berth_err(err, e, "in-use record");
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* One record per set of layers, named by a hash of its text and held with a
 * shared lock by every sandbox on them: a run finds it in place and writes
 * nothing to the cache. Two sets whose names collide: the second gets a
 * record of its own (<pid>-<time>), removed by its holder. */
static int hold_record(int dirfd, const char *text, int *ret_fd, berth_error **err)
{
        char name[17];
        snprintf(name, sizeof(name), "%016llx", (unsigned long long) fnv1a64(FNV1A64_INIT, text, strlen(text)));
        for (int tries = 0; tries < 8; tries++) {
                _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0 && errno != ENOENT)
                        return berth_err(err, errno, "open in-use record");
                if (fd < 0) {
                        int r = make_record(dirfd, name, text, false, ret_fd, err);
                        if (r <= 0)
                                return r;
                        continue;
                }
                _cleanup_free_ char *buf = NULL;
                if (read_fd_bounded(fd, MAX_REF_FILE, "in-use record", &buf, NULL, err) < 0)
                        return -1;
                if (streq(buf, text)) {
                        if (flock(fd, LOCK_SH) < 0)
                                return berth_err(err, errno, "lock in-use record");
                        *ret_fd = TAKE_FD(fd);
                        return 0;
                }
                break;
        }
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        _cleanup_free_ char *own = xasprintf("%d-%lld%09ld", (int) getpid(), (long long) t.tv_sec, t.tv_nsec);
        int r = make_record(dirfd, own, text, true, ret_fd, err);
        return r == 1 ? berth_err(err, EEXIST, "in-use record") : r;
}

int images_inuse_hold(const char *cache_dir, char *const *layer_dirs, int *ret_fd, berth_error **err)
{
        _cleanup_(store_closep) struct store s = STORE_INIT;
        _cleanup_strv_ char **digests = xcalloc(strv_length(layer_dirs) + 1, sizeof(char *));
        _cleanup_dynbuf_ dynbuf text;
        size_t n = 0;
        *ret_fd = -1;
        dynbuf_init(&text, MAX_REF_FILE, "in-use record");
        for (size_t i = 0; layer_dirs && layer_dirs[i]; i++) {
                const char *b = strrchr(layer_dirs[i], '/');
                if (b && sha256_valid_hex(b + 1)) {
                        digests[n++] = xstrdup(b + 1);
                        if (dynbuf_printf(&text, err, "%s\n", b + 1) < 0)
                                return -1;
                }
        }
        if (n == 0)
                return 0; /* local folders only: nothing of the cache */
        if (store_open(cache_dir, &s, err) < 0)
                return -1;
        /* gc holds gc.lock exclusively while it decides: once we hold it
         * shared, the layers either are gone already (checked here) or stay. */
        _cleanup_close_ int gc = store_gc_lock(&s, false, err), dirfd = gc < 0 ? -1 : open_inuse(&s, err);
        if (dirfd < 0)
                return -1;
        for (size_t i = 0; i < n; i++)
                if (!store_has_layer(&s, digests[i]))
                        return berth_error_make(err, BERTH_E_NOTFOUND, 0, "layer %.12s was removed from the cache "
                                                "(image gc) meanwhile; run again", digests[i]);
        return hold_record(dirfd, text.buf, ret_fd, err);
}

void images_inuse_release(int *fd)
{
        if (*fd < 0)
                return;
        /* A record of its own goes (still locked, so gc never reads it half
         * removed); a shared one stays for the next run, and gc removes it
         * once nobody holds it. */
        char link[64], path[PATH_MAX];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", *fd);
        ssize_t n = readlink(link, path, sizeof(path) - 1);
        if (n > 0) {
                path[n] = '\0';
                const char *base = strrchr(path, '/');
                /* (the first holder of a shared one has it by its dot-name, unlinked) */
                if (strstr(path, "/inuse/") && base && base[1] != '.' && strchr(base, '-') && unlink(path) < 0)
                        log_debug("remove in-use record %s: %m", path);
        }
        closep(fd);
}

/* The digests of the records whose holder still runs (their lock is
 * taken); the others are stale, listed in *ret_stale. */
static char **load_inuse(struct store *s, char ***ret_stale)
{
        _cleanup_error_ berth_error *e = NULL;
        _cleanup_close_ int dirfd = open_inuse(s, &e);
        char **live = xcalloc(1, sizeof(char *)), **stale = xcalloc(1, sizeof(char *));
        size_t nl = 0, ns = 0;
        *ret_stale = stale;
        _cleanup_closedir_ DIR *d = dirfd < 0 ? NULL : opendir_at(dirfd, ".", 0);
        struct dirent *de;
        while (d && (de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_close_ int fd = openat(dirfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                _cleanup_free_ char *buf = NULL;
                if (fd < 0)
                        continue;
                if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
                        stale = *ret_stale = xrealloc(stale, (ns + 2) * sizeof(char *));
                        stale[ns++] = xstrdup(de->d_name);
                        stale[ns] = NULL;
                        continue;
                }
                berth_error_freep(&e);
                if (read_fd_bounded(fd, MAX_REF_FILE, "in-use record", &buf, NULL, &e) < 0)
                        continue;
                char *save = NULL;
                for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                        if (sha256_valid_hex(l)) {
                                live = xrealloc(live, (nl + 2) * sizeof(char *));
                                live[nl++] = xstrdup(l);
                                live[nl] = NULL;
                        }
        }
        return live;
}

static void remove_stale_inuse(struct store *s, char **stale)
{
        _cleanup_error_ berth_error *e = NULL;
        _cleanup_close_ int dirfd = open_inuse(s, &e);
        for (size_t i = 0; dirfd >= 0 && stale && stale[i]; i++)
                unlinkat(dirfd, stale[i], 0);
}

static bool kept(const char *hex, const struct ref *refs, size_t nrefs, char *const *keep);

/* ---- OCI records (oci/): reference -> manifest, config ---------------------------- */

static void strv_add(char ***v, size_t *n, const char *x)
{
        *v = xrealloc(*v, (*n + 2) * sizeof(char *));
        (*v)[(*n)++] = xstrdup(x);
        (*v)[*n] = NULL;
}

/* Whether every layer of the manifest blob mhex is kept. */
static bool manifest_kept(struct store *s, const char *mhex, const struct ref *refs, size_t nrefs, char *const *keep)
{
        _cleanup_free_ char *m = NULL;
        _cleanup_error_ berth_error *e = NULL;
        _cleanup_(oci_manifest_donep) struct oci_manifest man = {};
        size_t len = 0;
        if (read_file_bounded(s->blobs_fd, mhex, OCI_MANIFEST_MAX, "manifest", &m, &len, &e) < 0 ||
            oci_manifest_parse(m, len, NULL, &man, &e) < 0 || man.kind != OCI_KIND_MANIFEST)
                return false;
        for (size_t i = 0; i < man.n_items; i++)
                if (!kept(man.items[i].hex, refs, nrefs, keep))
                        return false;
        return true;
}

/* A record stays, with its manifest and config, while each of its image's
 * layers is kept; else it goes (listed in *dead), and its documents with it
 * unless something else keeps them. Adds what stays to *keep. */
static void sort_oci_records(struct store *s, const struct ref *refs, size_t nrefs, char ***keep, size_t *nk,
                             char ***dead)
{
        _cleanup_free_ char *p = xasprintf("%s/oci", s->root);
        _cleanup_closedir_ DIR *d = opendir(p);
        size_t nd = 0;
        *dead = xcalloc(1, sizeof(char *));
        struct dirent *de;
        while (d && (de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *rec = NULL;
                _cleanup_error_ berth_error *e = NULL;
                char mhex[65], chex[65];
                const char *nl;
                bool ok = read_file_bounded(dirfd(d), de->d_name, MAX_REF_FILE, "record", &rec, NULL, &e) == 0 &&
                          (nl = strchr(rec, '\n')) && sscanf(nl + 1, "%64s %64s", mhex, chex) == 2 &&
                          sha256_valid_hex(mhex) && sha256_valid_hex(chex) && store_has_blob(s, mhex) &&
                          store_has_blob(s, chex) && manifest_kept(s, mhex, refs, nrefs, *keep);
                if (!ok) {
                        strv_add(dead, &nd, de->d_name);
                        continue;
                }
                strv_add(keep, nk, mhex);
                strv_add(keep, nk, chex);
        }
}

static void remove_oci_records(struct store *s, char **dead)
{
        _cleanup_free_ char *p = xasprintf("%s/oci", s->root);
        _cleanup_close_ int fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        for (size_t i = 0; fd >= 0 && dead && dead[i]; i++)
                unlinkat(fd, dead[i], 0);
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
        /* Kept: what the caller says, what a running sandbox holds, and the
         * documents of the OCI images whose layers are all kept. */
        _cleanup_strv_ char **stale = NULL, **dead = NULL;
        _cleanup_strv_ char **all = load_inuse(&s, &stale);
        size_t nk = strv_length(all);
        for (size_t i = 0; keep && keep[i]; i++)
                strv_add(&all, &nk, keep[i]);
        sort_oci_records(&s, refs, nrefs, &all, &nk, &dead);
        struct images_gc_result res = {};
        int rc = collect(&s, refs, nrefs, all, dry_run, &res, err);
        if (rc == 0 && !dry_run) {
                remove_stale_inuse(&s, stale);
                remove_oci_records(&s, dead);
        }
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
