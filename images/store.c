/* The content-addressed cache. Final names appear only by rename(2) of a complete,
 * verified entry; everything else is a dot-name beside it that the next run,
 * holding the digest's lock, removes or resumes. */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "private.h"

static int open_sub(const char *root, const char *sub, int *ret, berth_error **err)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", root, sub);
        if (mkdir_p(p, 0700, err) < 0)
                return -1;
        int fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return berth_err(err, errno, "open `%s`", p);
        *ret = fd;
        return 0;
}

int store_open(const char *cache_dir, struct store *ret, berth_error **err)
{
        struct store s = STORE_INIT;
        if (cache_dir) {
                if (mkdir_p(cache_dir, 0700, err) < 0)
                        return -1;
                s.root = xstrdup(cache_dir);
        } else if (berth_cache_dir(&s.root, err) < 0) {
                return -1;
        }
        if (open_sub(s.root, "blobs/sha256", &s.blobs_fd, err) < 0 ||
            open_sub(s.root, "layers/sha256", &s.layers_fd, err) < 0 ||
            open_sub(s.root, "locks", &s.locks_fd, err) < 0 || open_sub(s.root, "refs", &s.refs_fd, err) < 0 ||
            open_sub(s.root, "locals", &s.locals_fd, err) < 0) {
                store_close(&s);
                return berth_error_wrap(err, "cache `%s`", cache_dir ? cache_dir : "");
        }
        *ret = s;
        return 0;
}

void store_close(struct store *s)
{
        free(s->root);
        s->root = NULL;
        closep(&s->blobs_fd);
        closep(&s->layers_fd);
        closep(&s->locks_fd);
        closep(&s->refs_fd);
        closep(&s->locals_fd);
        s->blobs_fd = s->layers_fd = s->locks_fd = s->refs_fd = s->locals_fd = -1;
}

int store_lock(struct store *s, const char *hex, bool block, berth_error **err)
{
        _cleanup_free_ char *name = xasprintf("%s.lock", hex);
        _cleanup_close_ int fd = openat(s->locks_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return berth_err(err, errno, "open lock `%s`", name);
        for (;;) {
                if (flock(fd, LOCK_EX | (block ? 0 : LOCK_NB)) == 0)
                        return TAKE_FD(fd);
                if (errno == EINTR)
                        continue;
                if (errno == EWOULDBLOCK && !block)
                        return -2;
                return berth_err(err, errno, "lock `%s`", name);
        }
}

bool store_has_layer(struct store *s, const char *hex)
{
        struct stat st;
        return fstatat(s->layers_fd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

bool store_has_blob(struct store *s, const char *hex)
{
        struct stat st;
        return fstatat(s->blobs_fd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

char *store_layer_path(struct store *s, const char *hex)
{
        return xasprintf("%s/layers/sha256/%s", s->root, hex);
}

void store_clean_stale(struct store *s, const char *hex)
{
        _cleanup_free_ char *prefix = xasprintf(".%s.tmp-", hex);
        _cleanup_closedir_ DIR *d = opendir_at(s->layers_fd, ".", 0);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d)))
                if (startswith(de->d_name, prefix)) {
                        _cleanup_error_ berth_error *e = NULL;
                        log_debug("cache: removing the leftover `%s`", de->d_name);
                        rm_rf_at(s->layers_fd, de->d_name, &e);
                }
}

int store_publish(int dirfd, const char *tmp, const char *name, berth_error **err)
{
        if (renameat(dirfd, tmp, dirfd, name) < 0)
                return berth_err(err, errno, "rename `%s` into place", tmp);
        if (fsync(dirfd) == 0)
                return 0;
        int e = errno;
        /* The rename may not survive a crash: take it back, so that nothing
         * is reported as published that the cache could lose. */
        if (renameat(dirfd, name, dirfd, tmp) < 0)
                log_debug("cache: cannot take `%s` back: %m", name);
        return berth_err(err, e, "sync the folder after renaming `%s` into place", tmp);
}

/* Unpack fd into a new temporary folder of layers/ (".<base>.tmp-…"), synced;
 * with ret_sha256, the file is hashed on the way. Returns the folder's name. */
static int unpack_to_tmp(struct store *s, int in, const char *base, const struct images_limits *limits,
                         char *ret_sha256, char **ret_tmp, berth_error **err)
{
        _cleanup_free_ char *tmp = tmp_name_for(base);
        /* tmp_name_for() gives ".<base>.tmp-XXXX": what store_clean_stale() and gc look for. */
        if (mkdirat(s->layers_fd, tmp, 0700) < 0)
                return berth_err(err, errno, "mkdir `%s`", tmp);
        _cleanup_close_ int root = openat(s->layers_fd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int rc = root < 0 ? berth_err(err, errno, "open `%s`", tmp) : unpack_fd(in, root, limits, ret_sha256, err);
        struct stat st;
        if (rc == 0 && fstat(root, &st) == 0 && (st.st_mode & 07777) == 0700)
                fchmod(root, 0755);
        /* One syncfs instead of an fsync per file: the rename must not reach the
         * disk before the files it publishes. */
        if (rc == 0 && syncfs(root) < 0)
                rc = berth_err(err, errno, "sync the layer");
        if (rc < 0) {
                _cleanup_error_ berth_error *e = NULL;
                rm_rf_at(s->layers_fd, tmp, &e);
                return -1;
        }
        *ret_tmp = TAKE_PTR(tmp);
        return 0;
}

int store_publish_layer(struct store *s, const char *tmp, const char *hex, berth_error **err)
{
        if (store_publish(s->layers_fd, tmp, hex, err) == 0)
                return 0;
        _cleanup_error_ berth_error *e = NULL;
        rm_rf_at(s->layers_fd, tmp, &e);
        return -1;
}

int store_unpack_blob(struct store *s, const char *hex, const struct images_limits *limits, berth_error **err)
{
        _cleanup_close_ int in = openat(s->blobs_fd, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (in < 0)
                return berth_err(err, errno, "open blob %s", hex);
        _cleanup_free_ char *tmp = NULL;
        if (unpack_to_tmp(s, in, hex, limits, NULL, &tmp, err) < 0)
                return -1;
        return store_publish_layer(s, tmp, hex, err);
}

static int open_local(const char *path, const struct images_limits *limits, berth_error **err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return berth_error_make(err, errno == ENOENT ? BERTH_E_NOTFOUND : BERTH_E_FAILED, errno, "open `%s`",
                                        path);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return berth_err(err, errno, "stat `%s`", path);
        if ((uint64_t) st.st_size > limits->max_download)
                return berth_error_make(err, BERTH_E_LIMIT, 0,
                                        "`%s`: larger than the limit of %" PRIu64 " bytes (BERTH_IMAGE_MAX_DOWNLOAD)",
                                        path, limits->max_download);
        return TAKE_FD(fd);
}

int store_unpack_local(struct store *s, const char *path, const char *want, const struct images_limits *limits,
                       char ret_sha256[static 65], char **ret_tmp, berth_error **err)
{
        _cleanup_close_ int in = open_local(path, limits, err);
        if (in < 0)
                return -1;
        char got[65];
        _cleanup_free_ char *tmp = NULL;
        if (unpack_to_tmp(s, in, want ? want : "local.blob", limits, got, &tmp, err) < 0)
                return -1;
        if (want && !streq(got, want)) {
                _cleanup_error_ berth_error *e = NULL;
                rm_rf_at(s->layers_fd, tmp, &e);
                return berth_error_make(err, BERTH_E_DIGEST, 0, "%s: sha256 mismatch: expected %s, got %s", path,
                                        want, got);
        }
        memcpy(ret_sha256, got, 65);
        *ret_tmp = TAKE_PTR(tmp);
        return 0;
}

void store_touch(struct store *s, const char *hex)
{
        _cleanup_free_ char *name = xasprintf("%s.lock", hex);
        _cleanup_close_ int fd = openat(s->locks_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0)
                futimens(fd, NULL);
}

void images_mark_used(const char *layer_dir)
{
        static const char mid[] = "/layers/sha256/";
        const char *hex = strrchr(layer_dir, '/');
        size_t root = hex ? (size_t) (hex - layer_dir) + 1 : 0;
        if (!hex || root < sizeof(mid) - 1 || strncmp(layer_dir + root - (sizeof(mid) - 1), mid, sizeof(mid) - 1))
                return;
        _cleanup_free_ char *lock = xasprintf("%.*s/locks/%s.lock", (int) (root - (sizeof(mid) - 1)), layer_dir,
                                              hex + 1);
        (void) utimensat(AT_FDCWD, lock, NULL, AT_SYMLINK_NOFOLLOW);
}

int store_gc_lock(struct store *s, bool exclusive, berth_error **err)
{
        _cleanup_close_ int fd = openat(s->locks_fd, "gc.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return berth_err(err, errno, "open lock `gc.lock`");
        while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0)
                if (errno != EINTR)
                        return berth_err(err, errno, "lock `gc.lock`");
        return TAKE_FD(fd);
}
