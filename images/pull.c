/* images_pull(): cache lookups, per-digest locks, downloads, unpacks. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

#include "fetch.h"

struct layer {
        size_t index;
        const char *url;
        char *local;            /* a local file's path, or NULL for http(s) */
        char sha[65];
        uint64_t size;          /* declared by an OCI descriptor, or 0 */
        const char *authorization;
        ssize_t same_as;        /* index of an earlier layer with this digest, or -1 */
        int lock_fd;
        bool want_layer;        /* false: the verified blob is enough */
        uint64_t bytes;         /* copied from a local file */
        uint64_t start_ms;
        bool done, cached;
        bool unpacked;          /* set by the unpack worker; read after it is joined */
        bool in_place;          /* a local file, unpacked where it is and hashed on the way */
};

static bool present(struct store *s, const struct layer *l)
{
        return l->want_layer ? store_has_layer(s, l->sha) : store_has_blob(s, l->sha);
}

static int percent_decode(const char *s, char **ret, berth_error **err)
{
        _cleanup_free_ char *out = xmalloc(strlen(s) + 1);
        size_t o = 0;
        for (const char *p = s; *p; p++) {
                if (*p != '%') {
                        out[o++] = *p;
                        continue;
                }
                char hex[3] = { p[1], p[1] ? p[2] : 0, 0 };
                if (!is_hex_string(hex, 2))
                        return berth_error_make(err, BERTH_E_INVALID, 0, "`%s`: bad %%-escape", s);
                out[o++] = (char) strtol(hex, NULL, 16);
                p += 2;
        }
        out[o] = '\0';
        if (strlen(out) != o)
                return berth_error_make(err, BERTH_E_INVALID, 0, "`%s`: NUL in a file name", s);
        *ret = TAKE_PTR(out);
        return 0;
}

static int check_ref(const struct image_ref *r, struct layer *l, berth_error **err)
{
        if (!r->url || !r->url[0])
                return berth_error_make(err, BERTH_E_INVALID, 0, "no url");
        if (r->sha256 && !sha256_valid_hex(r->sha256))
                return berth_error_make(err, BERTH_E_INVALID, 0, "%s: sha256 must be 64 lowercase hex digits, got \"%s\"",
                                        r->url, r->sha256);
        if (r->sha256)
                memcpy(l->sha, r->sha256, 65);
        l->size = r->size;
        l->authorization = r->authorization;
        if (startswith(r->url, "http://") || startswith(r->url, "https://")) {
                if (!r->sha256)
                        return berth_error_make(err, BERTH_E_INVALID, 0, "%s: a sha256 is required for http(s)", r->url);
                return 0;
        }
        int local = image_local_path(r->url, &l->local, err);
        if (local < 0)
                return -1;
        if (local == 0)
                return berth_error_make(err, BERTH_E_INVALID, 0,
                                        "%s: expected http://, https://, file:// or an absolute path", r->url);
        return 0;
}

int image_local_path(const char *url, char **ret, berth_error **err)
{
        const char *path = startswith(url, "file://");
        if (path && startswith(path, "localhost/"))
                path += strlen("localhost");
        if (path && path[0] == '/')
                return percent_decode(path, ret, err) < 0 ? -1 : 1;
        if (url[0] == '/') {
                *ret = xstrdup(url);
                return 1;
        }
        return 0;
}

static void emit(const struct images_opts *o, struct layer *l, enum images_event_kind kind, const char *dir)
{
        if (!o->progress)
                return;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t now = (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
        struct images_event ev = { .kind = kind, .index = l->index, .url = l->url, .sha256 = l->sha[0] ? l->sha : NULL,
                                   .cached = l->cached, .layer_dir = dir, .bytes = l->bytes, .total = l->bytes,
                                   .elapsed_ms = l->start_ms ? now - l->start_ms : 0 };
        if (kind == IMAGES_EV_START)
                l->start_ms = now;
        o->progress(&ev, o->userdata);
}

/* ---- local files ----------------------------------------------------------- */

static int copy_hashing(int in, int out, struct hasher *h, uint64_t max, uint64_t *ret_total, berth_error **err)
{
        uint64_t total = 0;
        static const size_t bufsz = 1 << 20;
        _cleanup_free_ char *buf = xmalloc(bufsz);
        for (;;) {
                ssize_t n = read(in, buf, bufsz);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return berth_err(err, errno, "read");
                if (n == 0) {
                        *ret_total = total;
                        return 0;
                }
                total += (uint64_t) n;
                if (total > max)
                        return berth_error_make(err, BERTH_E_LIMIT, 0,
                                                "larger than the limit of %" PRIu64 " bytes (BERTH_IMAGE_MAX_DOWNLOAD)",
                                                max);
                hasher_update(h, buf, (size_t) n);
                if (hasher_error(h))
                        return berth_err(err, hasher_error(h), "write into the cache");
        }
}

/* Copy a local archive into the blob store under tmp, hashing it on the way. */
static int copy_local(struct store *s, const struct images_opts *o, struct layer *l, const char *tmp,
                      char got[static 65], berth_error **err)
{
        _cleanup_close_ int in = open(l->local, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (in < 0)
                return berth_error_make(err, errno == ENOENT ? BERTH_E_NOTFOUND : BERTH_E_FAILED, errno, "open `%s`",
                                        l->local);
        _cleanup_close_ int out = openat(s->blobs_fd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0)
                return berth_err(err, errno, "create `%s`", tmp);
        _cleanup_(hasher_freep) struct hasher *h = hasher_new();
        hasher_set_fd(h, out);
        int rc = copy_hashing(in, out, h, o->limits.max_download, &l->bytes, err);
        hasher_flush(h);
        if (rc == 0 && hasher_error(h))
                rc = berth_err(err, hasher_error(h), "write into the cache");
        if (rc < 0 || fsync(out) < 0 || fchmod(out, 0444) < 0) {
                unlinkat(s->blobs_fd, tmp, 0);
                return berth_err(err, errno, "copy `%s`", l->local);
        }
        hasher_final_hex(h, got);
        return 0;
}

static int publish_local(struct store *s, const char *tmp, const char *hex, berth_error **err)
{
        if (store_publish(s->blobs_fd, tmp, hex, err) < 0) {
                unlinkat(s->blobs_fd, tmp, 0);
                return berth_error_wrap(err, "blob %s", hex);
        }
        return 0;
}

/* A local file with a pinned digest: copy, check, publish. Caller holds the lock. */
static int fetch_local(struct store *s, const struct images_opts *o, struct layer *l, berth_error **err)
{
        _cleanup_free_ char *tmp = xasprintf(".%s.partial", l->sha);
        char got[65];
        emit(o, l, IMAGES_EV_START, NULL);
        if (copy_local(s, o, l, tmp, got, err) < 0)
                return -1;
        emit(o, l, IMAGES_EV_PROGRESS, NULL);
        if (!streq(got, l->sha)) {
                unlinkat(s->blobs_fd, tmp, 0);
                return berth_error_make(err, BERTH_E_DIGEST, 0, "%s: sha256 mismatch: expected %s, got %s", l->url,
                                        l->sha, got);
        }
        return publish_local(s, tmp, l->sha, err);
}

/* ---- local files without a digest -------------------------------------------- */

/* What identifies a local file's content without reading it, as git's index
 * does: ctime changes with every write and cannot be set back. */
static char *stat_line(const struct stat *st)
{
        return xasprintf("%ju %ju %jd %jd.%09ld %jd.%09ld", (uintmax_t) st->st_dev, (uintmax_t) st->st_ino,
                         (intmax_t) st->st_size, (intmax_t) st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
                         (intmax_t) st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

static char *local_key(const char *path)
{
        sha256_ctx c;
        char hex[65];
        sha256_init(&c);
        sha256_update(&c, path, strlen(path));
        sha256_final_hex(&c, hex);
        return xstrdup(hex);
}

/* The digest remembered for this path, if the file is unchanged and its blob
 * or layer is still in the cache. */
static bool remembered_digest(struct store *s, struct layer *l)
{
        struct stat st;
        if (stat(l->local, &st) < 0)
                return false;
        _cleanup_free_ char *key = local_key(l->local), *line = stat_line(&st), *buf = NULL;
        _cleanup_error_ berth_error *e = NULL;
        size_t len;
        if (read_file_bounded(s->locals_fd, key, 4096, "local file record", &buf, &len, &e) < 0)
                return false;
        char *nl = strchr(buf, '\n');
        if (!nl || !streq(nl + 1, line) || (size_t) (nl - buf) != 64)
                return false;
        *nl = '\0';
        if (!sha256_valid_hex(buf) || !(store_has_blob(s, buf) || store_has_layer(s, buf)))
                return false;
        memcpy(l->sha, buf, 65);
        log_debug("pull: `%s` is unchanged since it hashed to %s", l->local, l->sha);
        return true;
}

static void remember_digest(struct store *s, const struct layer *l, const struct stat *st)
{
        _cleanup_free_ char *key = local_key(l->local), *line = stat_line(st);
        _cleanup_free_ char *rec = xasprintf("%s\n%s", l->sha, line);
        _cleanup_error_ berth_error *e = NULL;
        write_file_atomic(s->locals_fd, key, rec, strlen(rec), 0600, &e);
}

/* Unpack a local file without a digest in place: its digest is whatever it
 * hashed to, and the layer is published under it. */
static int learn_by_unpacking(struct store *s, const struct images_opts *o, struct layer *l, berth_error **err)
{
        _cleanup_free_ char *tmp = NULL;
        if (store_unpack_local(s, l->local, NULL, &o->limits, l->sha, &tmp, err) < 0)
                return -1;
        _cleanup_close_ int lock = store_lock(s, l->sha, true, err);
        if (lock < 0) {
                _cleanup_error_ berth_error *e = NULL;
                rm_rf_at(s->layers_fd, tmp, &e);
                return -1;
        }
        if (!store_has_layer(s, l->sha))
                return store_publish_layer(s, tmp, l->sha, err);
        _cleanup_error_ berth_error *e = NULL;
        rm_rf_at(s->layers_fd, tmp, &e);
        return 0;
}

/* Copy a local file without a digest into blobs/: its digest is whatever it hashed to. */
static int learn_by_copying(struct store *s, const struct images_opts *o, struct layer *l, berth_error **err)
{
        _cleanup_free_ char *tmp = tmp_name_for("local.blob");
        if (copy_local(s, o, l, tmp, l->sha, err) < 0)
                return -1;
        _cleanup_close_ int lock = store_lock(s, l->sha, true, err);
        if (lock < 0)
                return -1;
        if (store_has_blob(s, l->sha))
                unlinkat(s->blobs_fd, tmp, 0);
        else if (publish_local(s, tmp, l->sha, err) < 0)
                return -1;
        return 0;
}

/* A local file without a digest: its digest is whatever it hashes to.
 * Returns 1 if the file was read, 0 if its digest was remembered. */
static int learn_local_digest(struct store *s, const struct images_opts *o, struct layer *l, berth_error **err)
{
        if (remembered_digest(s, l))
                return 0;
        struct stat before;
        if (stat(l->local, &before) < 0)
                return berth_error_make(err, errno == ENOENT ? BERTH_E_NOTFOUND : BERTH_E_FAILED, errno, "stat `%s`",
                                        l->local);
        l->bytes = (uint64_t) before.st_size;
        emit(o, l, IMAGES_EV_START, NULL);
        if (l->want_layer)
                emit(o, l, IMAGES_EV_UNPACK, NULL);
        int rc = l->want_layer ? learn_by_unpacking(s, o, l, err) : learn_by_copying(s, o, l, err);
        if (rc < 0)
                return -1;
        emit(o, l, IMAGES_EV_PROGRESS, NULL);
        /* Only what was read while the file stayed as it was may be remembered. */
        struct stat after;
        if (stat(l->local, &after) == 0 && after.st_ino == before.st_ino &&
            after.st_ctim.tv_sec == before.st_ctim.tv_sec && after.st_ctim.tv_nsec == before.st_ctim.tv_nsec)
                remember_digest(s, l, &after);
        return 1;
}

/* ---- one round: lock what we can, fetch, unpack ----------------------------- */

static void unlock_all(struct layer *ls, size_t n)
{
        for (size_t i = 0; i < n; i++)
                closep(&ls[i].lock_fd), ls[i].lock_fd = -1;
}

/* Lock l; returns 1 if another process holds it (non-blocking), 0 if locked. */
static int take(struct store *s, struct layer *l, bool block, berth_error **err)
{
        int fd = store_lock(s, l->sha, block, err);
        if (fd == -2)
                return 1;
        if (fd < 0)
                return -1;
        l->lock_fd = fd;
        store_clean_stale(s, l->sha);
        if (present(s, l))
                l->done = true; /* another process finished it meanwhile */
        return 0;
}

/* ---- unpacking beside the downloads ----------------------------------------- */

/* One worker unpacks published blobs while other layers still download. Only
 * the calling thread emits events and touches layer state; the worker reports
 * through done[] and err, read after it is joined. */
struct unpacker {
        pthread_mutex_t lock;
        pthread_cond_t changed;
        pthread_t thread;
        bool running, closing;
        struct store *store;
        const struct images_limits *limits;
        struct layer **queue;
        size_t n_queue, next, cap;
        berth_error *err;
};

static int unpack_one(struct store *s, const struct layer *l, const struct images_limits *limits, berth_error **err)
{
        if (!l->in_place)
                return store_unpack_blob(s, l->sha, limits, err);
        char got[65];
        _cleanup_free_ char *tmp = NULL;
        if (store_unpack_local(s, l->local, l->sha, limits, got, &tmp, err) < 0)
                return -1;
        return store_publish_layer(s, tmp, l->sha, err);
}

static void *unpacker_main(void *arg)
{
        struct unpacker *u = arg;
        pthread_mutex_lock(&u->lock);
        for (;;) {
                while (u->next == u->n_queue && !u->closing)
                        pthread_cond_wait(&u->changed, &u->lock);
                if (u->next == u->n_queue)
                        break;
                struct layer *l = u->queue[u->next++];
                bool failed = u->err != NULL;
                pthread_mutex_unlock(&u->lock);
                berth_error *e = NULL;
                if (!failed && unpack_one(u->store, l, u->limits, &e) < 0)
                        berth_error_wrap(&e, "layer %zu (%s)", l->index + 1, l->url);
                pthread_mutex_lock(&u->lock);
                if (e && !u->err)
                        u->err = TAKE_PTR(e);
                berth_error_freep(&e);
                if (!failed && !u->err)
                        l->unpacked = true;
        }
        pthread_mutex_unlock(&u->lock);
        return NULL;
}

static void unpacker_add(struct unpacker *u, const struct images_opts *o, struct layer *l)
{
        if (!l->want_layer) {
                l->done = true;
                return;
        }
        emit(o, l, IMAGES_EV_UNPACK, NULL);
        pthread_mutex_lock(&u->lock);
        if (u->n_queue == u->cap) {
                u->cap = u->cap ? u->cap * 2 : 8;
                u->queue = xrealloc(u->queue, u->cap * sizeof(*u->queue));
        }
        u->queue[u->n_queue++] = l;
        pthread_cond_broadcast(&u->changed);
        pthread_mutex_unlock(&u->lock);
        if (!u->running) {
                if (pthread_create(&u->thread, NULL, unpacker_main, u) != 0)
                        abort(); /* only without memory or threads */
                u->running = true;
        }
}

/* Wait for every queued unpack; the first error wins. */
static int unpacker_finish(struct unpacker *u, struct layer *ls, size_t n, berth_error **err)
{
        pthread_mutex_lock(&u->lock);
        u->closing = true;
        pthread_cond_broadcast(&u->changed);
        pthread_mutex_unlock(&u->lock);
        if (u->running)
                pthread_join(u->thread, NULL);
        for (size_t i = 0; i < n; i++)
                if (ls[i].unpacked)
                        ls[i].done = true;
        free(u->queue);
        pthread_mutex_destroy(&u->lock);
        pthread_cond_destroy(&u->changed);
        return u->err ? berth_error_move(err, &u->err) : 0;
}

struct published_ctx {
        struct unpacker *u;
        const struct images_opts *o;
        struct layer *ls;
};

static void on_published(struct fetch_job *job, void *userdata)
{
        struct published_ctx *c = userdata;
        unpacker_add(c->u, c->o, &c->ls[job->index]);
}

/* Fetch everything locked that has no blob yet, unpacking each blob as soon as
 * it is there: http(s) together, local files one by one. */
static int fetch_and_unpack(struct store *s, const struct images_opts *o, struct layer *ls, size_t n,
                            struct unpacker *u, berth_error **err)
{
        _cleanup_free_ struct fetch_job *jobs = xcalloc(n ? n : 1, sizeof(*jobs));
        struct published_ctx ctx = { u, o, ls };
        size_t nj = 0;
        for (size_t i = 0; i < n; i++) {
                struct layer *l = &ls[i];
                if (l->lock_fd < 0 || l->done)
                        continue;
                if (store_has_blob(s, l->sha)) {
                        unpacker_add(u, o, l);
                        continue;
                }
                if (!l->local) {
                        jobs[nj++] = (struct fetch_job) { .index = l->index, .url = l->url, .sha256 = l->sha,
                                                          .size = l->size, .authorization = l->authorization,
                                                          .on_published = on_published, .userdata = &ctx };
                        continue;
                }
                if (l->want_layer) {
                        /* Read where it is: no copy in blobs/, the digest checked while unpacking. */
                        struct stat st;
                        l->bytes = stat(l->local, &st) == 0 ? (uint64_t) st.st_size : 0;
                        l->in_place = true;
                        emit(o, l, IMAGES_EV_START, NULL);
                        unpacker_add(u, o, l);
                        continue;
                }
                if (fetch_local(s, o, l, err) < 0)
                        return berth_error_wrap(err, "layer %zu", l->index + 1);
                unpacker_add(u, o, l);
        }
        return nj ? fetch_all(s, o, jobs, nj, err) : 0;
}

static int round_for(struct store *s, const struct images_opts *o, struct layer *ls, size_t n, bool block,
                     berth_error **err)
{
        for (size_t i = 0; i < n; i++) {
                struct layer *l = &ls[i];
                if (l->done || l->same_as >= 0)
                        continue;
                int r = take(s, l, block, err);
                if (r < 0)
                        return -1;
                /* Blocking: one at a time, so one slow peer does not hold up the others' work. */
                if (block && r == 0)
                        break;
        }
        struct unpacker u = { .store = s, .limits = &o->limits };
        pthread_mutex_init(&u.lock, NULL);
        pthread_cond_init(&u.changed, NULL);
        int rc = fetch_and_unpack(s, o, ls, n, &u, err);
        /* Joined before the locks go, also after a failed download. */
        if (unpacker_finish(&u, ls, n, err) < 0)
                rc = -1;
        unlock_all(ls, n);
        return rc;
}

static bool all_done(const struct layer *ls, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!ls[i].done && ls[i].same_as < 0)
                        return false;
        return true;
}

/* ---- images_pull ------------------------------------------------------------ */

static int prepare(struct store *s, const struct images_opts *o, const struct image_ref *refs, struct layer *ls,
                   size_t n, bool want_layer, berth_error **err)
{
        for (size_t i = 0; i < n; i++) {
                struct layer *l = &ls[i];
                *l = (struct layer) { .index = i, .url = refs[i].url, .same_as = -1, .lock_fd = -1,
                                      .want_layer = want_layer };
                if (check_ref(&refs[i], l, err) < 0)
                        return berth_error_wrap(err, "layer %zu", i + 1);
                int read_now = l->sha[0] ? 0 : learn_local_digest(s, o, l, err);
                if (read_now < 0)
                        return berth_error_wrap(err, "layer %zu", i + 1);
                for (size_t j = 0; j < i; j++)
                        if (streq(ls[j].sha, l->sha) && ls[j].same_as < 0)
                                l->same_as = (ssize_t) j;
                if (l->same_as < 0 && present(s, l)) {
                        l->done = true;
                        /* What was just read to learn its digest was not cached. */
                        l->cached = read_now == 0;
                }
        }
        return 0;
}

static void layers_free(struct layer *ls, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(ls[i].local);
                closep(&ls[i].lock_fd);
        }
        free(ls);
}

static char **finish(struct store *s, const struct images_opts *o, struct layer *ls, size_t n)
{
        char **dirs = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
                const struct layer *l = ls[i].same_as >= 0 ? &ls[ls[i].same_as] : &ls[i];
                dirs[i] = l->want_layer ? store_layer_path(s, l->sha)
                                        : xasprintf("%s/blobs/sha256/%s", s->root, l->sha);
                store_touch(s, l->sha);
                struct layer ev = ls[i];
                ev.cached = l->cached;
                memcpy(ev.sha, l->sha, sizeof(ev.sha));
                emit(o, &ev, IMAGES_EV_DONE, dirs[i]);
        }
        return dirs;
}

static int record_owner(struct store *s, const struct images_opts *o, struct layer *ls, size_t n, berth_error **err)
{
        if (!o->owner)
                return 0;
        char **digests = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                digests[i] = ls[i].sha;
        int rc = images_refs_set(s->root, o->owner, digests, n, err);
        free(digests);
        return rc;
}

static int pull(const struct images_opts *opts, const struct image_ref *refs, size_t n, bool want_layer,
                char ***ret_paths, berth_error **err)
{
        _cleanup_(store_closep) struct store s = STORE_INIT;
        if (dl_crypto_load(err) < 0 || store_open(opts->cache_dir, &s, err) < 0)
                return -1;
        _cleanup_close_ int gc_lock = store_gc_lock(&s, false, err);
        if (gc_lock < 0)
                return -1;
        struct layer *ls = xcalloc(n ? n : 1, sizeof(*ls));
        int rc = prepare(&s, opts, refs, ls, n, want_layer, err);
        /* First everything nobody else is working on; then wait for the rest. */
        if (rc == 0)
                rc = round_for(&s, opts, ls, n, false, err);
        while (rc == 0 && !all_done(ls, n))
                rc = round_for(&s, opts, ls, n, true, err);
        if (rc == 0)
                rc = record_owner(&s, opts, ls, n, err);
        if (rc == 0) {
                char **paths = finish(&s, opts, ls, n);
                if (ret_paths)
                        *ret_paths = paths;
                else
                        strv_free(paths);
        }
        layers_free(ls, n);
        return rc;
}

int images_pull(const struct images_opts *opts, const struct image_ref *refs, size_t n, char ***ret_layer_dirs,
                berth_error **err)
{
        return pull(opts, refs, n, true, ret_layer_dirs, err);
}

int images_fetch(const struct images_opts *opts, const struct image_ref *refs, size_t n, char ***ret_blobs,
                 berth_error **err)
{
        return pull(opts, refs, n, false, ret_blobs, err);
}
