/* Spec repositories: reading an index and its spec files (a folder, or an
 * http(s) URL through spec_io.fetch), checking signatures and rollback, and
 * publishing and yanking in a folder under a lock. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "spec-internal.h"

#define SIG_MAX 1024
/* A reader that sees the index and its signature from two different
 * publishes reads both again. */
#define SIGNED_READ_TRIES 5

void spec_repos_free(struct spec_repo *r, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(r[i].url);
                free(r[i].key_pem);
        }
        free(r);
}

static bool is_http(const char *url)
{
        return startswith(url, "http://") || startswith(url, "https://");
}

static int repo_read(const struct spec_io *io, const char *url, const char *rel, size_t max, const char *what,
                     char **ret_buf, size_t *ret_len, berth_error **err)
{
        if (is_http(url)) {
                if (!io || !io->fetch)
                        return berth_err(err, 0, "%s: no way to fetch an http repository here", url);
                _cleanup_free_ char *full = xasprintf("%s%s%s", url, endswith(url, "/") ? "" : "/", rel);
                return io->fetch(full, max, ret_buf, ret_len, err);
        }
        _cleanup_free_ char *full = xasprintf("%s/%s", url, rel);
        return read_file_bounded(AT_FDCWD, full, max, what, ret_buf, ret_len, err);
}

static int need(const struct spec_io *io, const void *fn, const char *what, berth_error **err)
{
        if (!io || !fn)
                return berth_err(err, 0, "%s is not available here", what);
        return 0;
}

/* ---- rollback: the highest sequence seen, per repository ---------------- */

static char *seen_path(const struct spec_io *io, const char *state_dir, const char *url, berth_error **err)
{
        char hex[65];
        if (io->sha256(url, strlen(url), hex, err) < 0)
                return NULL;
        return xasprintf("%s/spec-repos/%s", state_dir, hex);
}

static int check_rollback(const struct spec_io *io, const char *state_dir, const struct spec_repo *repo,
                          uint64_t seq, berth_error **err)
{
        _cleanup_free_ char *path = seen_path(io, state_dir, repo->url, err);
        if (!path)
                return -1;
        _cleanup_free_ char *buf = NULL;
        _cleanup_error_ berth_error *rerr = NULL;
        uint64_t seen = 0;
        if (read_file_bounded(AT_FDCWD, path, 64, "sequence record", &buf, NULL, &rerr) == 0)
                seen = strtoull(buf, NULL, 10);
        else if (rerr->kind != BERTH_E_NOTFOUND)
                return berth_error_make(err, rerr->kind, rerr->errnum, "%s: %s", repo->url, rerr->msg);
        if (seq < seen)
                return berth_error_make(err, BERTH_E_DIGEST, 0,
                                        "%s: index sequence %" PRIu64 " is older than %" PRIu64
                                        " seen before: refusing a rolled-back index",
                                        repo->url, seq, seen);
        if (seq == seen)
                return 0;
        _cleanup_free_ char *dir = xasprintf("%s/spec-repos", state_dir);
        _cleanup_free_ char *text = xasprintf("%" PRIu64 "\n", seq);
        if (mkdir_p(dir, 0700, err) < 0 || write_file_atomic(AT_FDCWD, path, text, strlen(text), 0600, err) < 0)
                return berth_error_wrap(err, "record the index sequence of %s", repo->url);
        return 0;
}

/* ---- reading ------------------------------------------------------------ */

static int verify_index(const struct spec_io *io, const struct spec_repo *repo, const char *buf, size_t len,
                        berth_error **err)
{
        _cleanup_free_ char *sig = NULL;
        _cleanup_error_ berth_error *e = NULL;
        if (need(io, io ? (const void *) io->verify : NULL, "signature checking", err) < 0)
                return -1;
        if (repo_read(io, repo->url, "index.json.sig", SIG_MAX, "index signature", &sig, NULL, &e) < 0) {
                if (e->kind == BERTH_E_NOTFOUND)
                        return berth_error_make(err, BERTH_E_DIGEST, 0,
                                                "%s: the index is not signed, but repos: gives a key for it",
                                                repo->url);
                *err = *err ? *err : TAKE_PTR(e);
                return -1;
        }
        sig[strcspn(sig, "\r\n")] = '\0';
        if (io->verify(repo->key_pem, buf, len, sig, err) < 0)
                return berth_error_wrap(err, "%s: index.json", repo->url);
        return 0;
}

static int read_index_text(const struct spec_io *io, const struct spec_repo *repo, char **ret_buf, size_t *ret_len,
                           berth_error **err)
{
        _cleanup_error_ berth_error *e = NULL;
        if (repo_read(io, repo->url, "index.json", SPEC_INDEX_MAX, "index", ret_buf, ret_len, &e) == 0)
                return 0;
        if (e->kind == BERTH_E_NOTFOUND)
                return berth_error_make(err, BERTH_E_NOTFOUND, 0, "%s: no index.json (not a spec repository)",
                                        repo->url);
        if (e->kind == BERTH_E_LIMIT)
                return berth_error_make(err, BERTH_E_LIMIT, 0, "%s: index larger than the limit of %zu bytes",
                                        repo->url, (size_t) SPEC_INDEX_MAX);
        *err = *err ? *err : TAKE_PTR(e);
        return -1;
}

static int read_signed_index(const struct spec_io *io, const struct spec_repo *repo, char **ret_buf,
                             size_t *ret_len, berth_error **err)
{
        for (int i = 0;; i++) {
                _cleanup_free_ char *buf = NULL, *again = NULL;
                size_t len, len2;
                _cleanup_error_ berth_error *e = NULL;
                if (read_index_text(io, repo, &buf, &len, err) < 0)
                        return -1;
                if (verify_index(io, repo, buf, len, &e) == 0) {
                        *ret_buf = TAKE_PTR(buf);
                        *ret_len = len;
                        return 0;
                }
                /* The same index twice: the signature is wrong, not in flight. */
                bool changed = read_index_text(io, repo, &again, &len2, NULL) == 0 &&
                               (len2 != len || memcmp(again, buf, len) != 0);
                if (!changed || i + 1 == SIGNED_READ_TRIES) {
                        *err = *err ? *err : TAKE_PTR(e);
                        return -1;
                }
        }
}

int spec_repo_index(const struct spec_io *io, const struct spec_repo *repo, const char *state_dir,
                    struct spec_index **ret, berth_error **err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = repo->key_pem ? read_signed_index(io, repo, &buf, &len, err) : read_index_text(io, repo, &buf, &len, err);
        if (r < 0)
                return -1;
        _cleanup_index_ struct spec_index *idx = NULL;
        if (spec_index_parse_owned(TAKE_PTR(buf), len, repo->url, &idx, err) < 0)
                return -1;
        if (repo->key_pem && state_dir && check_rollback(io, state_dir, repo, idx->sequence, err) < 0)
                return -1;
        *ret = TAKE_PTR(idx);
        return 0;
}

int spec_repo_spec(const struct spec_io *io, const struct spec_repo *repo, const struct spec_index_entry *e,
                   char **ret_buf, size_t *ret_len, berth_error **err)
{
        if (need(io, io ? (const void *) io->sha256 : NULL, "sha256", err) < 0)
                return -1;
        _cleanup_free_ char *rel = xasprintf("specs/%s.yaml", e->sha256), *buf = NULL;
        size_t len;
        _cleanup_error_ berth_error *rerr = NULL;
        if (repo_read(io, repo->url, rel, SPEC_FILE_MAX, "spec file", &buf, &len, &rerr) < 0) {
                if (rerr->kind == BERTH_E_NOTFOUND)
                        return berth_error_make(err, BERTH_E_NOTFOUND, 0,
                                                "%s: the index lists %s@%s but %s is missing", repo->url, e->name,
                                                e->version, rel);
                berth_error_wrap(&rerr, "%s: %s@%s", repo->url, e->name, e->version);
                *err = *err ? *err : TAKE_PTR(rerr);
                return -1;
        }
        char hex[65];
        if (io->sha256(buf, len, hex, err) < 0)
                return -1;
        if (!streq(hex, e->sha256))
                return berth_error_make(err, BERTH_E_DIGEST, 0,
                                        "%s: %s: sha256 mismatch for %s@%s: the index says %s, the file has %s",
                                        repo->url, rel, e->name, e->version, e->sha256, hex);
        *ret_buf = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

/* ---- publishing and yanking into a folder ------------------------------- */

struct folder {
        int dirfd;
        int lockfd;
        const char *dir;
        bool signed_index;
        struct spec_index *idx;
};

static void folder_close(struct folder *f)
{
        spec_index_free(f->idx);
        if (f->lockfd >= 0)
                close(f->lockfd);
        if (f->dirfd >= 0)
                close(f->dirfd);
}

/* Open (creating) the folder, take its lock, and read the current index. */
static int folder_open(const char *dir, struct folder *f, berth_error **err)
{
        *f = (struct folder){ .dirfd = -1, .lockfd = -1, .dir = dir };
        if (mkdir_p(dir, 0755, err) < 0)
                return -1;
        f->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (f->dirfd < 0)
                return berth_err(err, errno, "open `%s`", dir);
        if (mkdirat(f->dirfd, "specs", 0755) < 0 && errno != EEXIST)
                return berth_err(err, errno, "create `%s/specs`", dir);
        f->lockfd = openat(f->dirfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (f->lockfd < 0)
                return berth_err(err, errno, "open `%s/.lock`", dir);
        if (flock(f->lockfd, LOCK_EX) < 0)
                return berth_err(err, errno, "lock `%s/.lock`", dir);
        f->signed_index = faccessat(f->dirfd, "index.json.sig", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
        _cleanup_free_ char *buf = NULL;
        size_t len;
        _cleanup_error_ berth_error *e = NULL;
        if (read_file_bounded(f->dirfd, "index.json", SPEC_INDEX_MAX, "index", &buf, &len, &e) < 0) {
                if (e->kind != BERTH_E_NOTFOUND) {
                        berth_error_wrap(&e, "%s", dir);
                        *err = *err ? *err : TAKE_PTR(e);
                        return -1;
                }
                f->idx = spec_index_new();
                return 0;
        }
        return spec_index_parse(buf, len, dir, &f->idx, err);
}

/* The signature first: a reader that sees the new signature beside the old
 * index reads both again (read_signed_index). */
static int folder_commit(const struct spec_io *io, struct folder *f, const char *key_path, berth_error **err)
{
        if (f->signed_index && !key_path)
                return berth_error_make(err, BERTH_E_USAGE, 0, "%s: the index is signed: give --key", f->dir);
        f->idx->sequence++;
        _cleanup_free_ char *text = spec_index_dump(f->idx);
        if (key_path) {
                _cleanup_free_ char *sig = NULL;
                if (need(io, io ? (const void *) io->sign : NULL, "signing", err) < 0 ||
                    io->sign(key_path, text, strlen(text), &sig, err) < 0)
                        return -1;
                _cleanup_free_ char *line = xasprintf("%s\n", sig);
                if (write_file_atomic(f->dirfd, "index.json.sig", line, strlen(line), 0644, err) < 0)
                        return berth_error_wrap(err, "%s", f->dir);
        }
        if (write_file_atomic(f->dirfd, "index.json", text, strlen(text), 0644, err) < 0)
                return berth_error_wrap(err, "%s", f->dir);
        return 0;
}

static void utc_now(char out[32])
{
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        time_t t = sde && *sde ? (time_t) strtoll(sde, NULL, 10) : time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int spec_repo_publish(const struct spec_io *io, const char *dir, const struct spec *s, const char *buf, size_t len,
                      const char *key_path, berth_error **err)
{
        if (!s->version)
                return berth_error_make(err, BERTH_E_INVALID, 0, "%s:1:1: version: required to publish", s->path);
        if (is_http(dir))
                return berth_error_make(err, BERTH_E_USAGE, 0, "%s: publish writes to a folder, not a URL", dir);
        char hex[65], now[32];
        /* Hash before taking the lock: the static front stops here for libcrypto. */
        if (need(io, io ? (const void *) io->sha256 : NULL, "sha256", err) < 0 || io->sha256(buf, len, hex, err) < 0)
                return -1;
        struct spec_version v;
        if (spec_version_parse(s->version, &v) < 0)
                abort(); /* the parser checked it */
        _cleanup_(folder_close) struct folder f;
        if (folder_open(dir, &f, err) < 0)
                return -1;
        const struct spec_index_entry *old = spec_index_find(f.idx, s->name, &v);
        if (old)
                return berth_error_make(err, BERTH_E_FAILED, 0,
                                        "%s@%s is already published in %s (versions are immutable; publish a new "
                                        "version)", s->name, old->version, dir);
        _cleanup_free_ char *rel = xasprintf("specs/%s.yaml", hex);
        if (write_file_atomic(f.dirfd, rel, buf, len, 0644, err) < 0)
                return berth_error_wrap(err, "%s", dir);
        utc_now(now);
        spec_index_add(f.idx, s->name, s->version, hex, now);
        return folder_commit(io, &f, key_path, err);
}

int spec_repo_yank(const struct spec_io *io, const char *dir, const char *name, const char *version,
                   const char *key_path, berth_error **err)
{
        struct spec_version v;
        if (spec_version_parse(version, &v) < 0)
                return berth_error_make(err, BERTH_E_USAGE, 0, "\"%s\" is not a semantic version like 1.4.0", version);
        if (access(dir, F_OK) < 0)
                return berth_err(err, errno, "%s", dir);
        _cleanup_(folder_close) struct folder f;
        if (folder_open(dir, &f, err) < 0)
                return -1;
        struct spec_index_entry *e = (struct spec_index_entry *) spec_index_find(f.idx, name, &v);
        if (!e)
                return berth_error_make(err, BERTH_E_NOTFOUND, 0, "%s: no %s@%s to yank", dir, name, version);
        if (e->yanked)
                return 0;
        e->yanked = true;
        return folder_commit(io, &f, key_path, err);
}
