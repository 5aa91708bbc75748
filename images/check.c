/* `berth verify`: read a cached layer folder back against the archive it was
 * unpacked from. Each regular file's size and sha256, each symlink's target
 * and each folder must still be what the verified blob says. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "private.h"
#include "sign.h"

#define CHECK_MAX_DIFFS 16

/* The sha256 of what read_fn yields, until it returns 0 (end) or less (error). */
static int digest_of(ssize_t (*read_fn)(void *src, void *buf, size_t n), void *src, char out[65])
{
        sha256_ctx c;
        sha256_init(&c);
        char buf[65536];
        ssize_t n;
        while ((n = read_fn(src, buf, sizeof(buf))) > 0)
                sha256_update(&c, buf, (size_t) n);
        if (n < 0) {
                sha256_done(&c);
                return -1;
        }
        sha256_final_hex(&c, out);
        return 0;
}

static ssize_t read_fd(void *src, void *buf, size_t n)
{
        return read(*(int *) src, buf, n);
}

static ssize_t read_entry(void *src, void *buf, size_t n)
{
        return sym_archive_read_data(src, buf, n);
}

static int file_digest(int fd, char out[65])
{
        return digest_of(read_fd, &fd, out);
}

static int entry_digest(struct archive *a, char out[65])
{
        return digest_of(read_entry, a, out);
}

static char *check_entry(struct archive *a, struct archive_entry *e, int layer_fd, const char *rel)
{
        const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
        if (startswith(base, ".wh.") || sym_archive_entry_hardlink(e) || !*rel)
                return NULL; /* whiteouts and hardlinks are written otherwise */
        struct stat st;
        if (fstatat(layer_fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return xasprintf("%s: missing", rel);
        unsigned type = sym_archive_entry_filetype(e);
        if (type == AE_IFDIR)
                return S_ISDIR(st.st_mode) ? NULL : xasprintf("%s: no longer a folder", rel);
        if (type == AE_IFLNK) {
                char target[4096];
                ssize_t n = S_ISLNK(st.st_mode) ? readlinkat(layer_fd, rel, target, sizeof(target) - 1) : -1;
                if (n < 0)
                        return xasprintf("%s: no longer a symlink", rel);
                target[n] = 0;
                return streq(target, sym_archive_entry_symlink(e)) ? NULL : xasprintf("%s: symlink changed", rel);
        }
        if (type != AE_IFREG)
                return NULL;
        if (!S_ISREG(st.st_mode) || (uint64_t) st.st_size != (uint64_t) sym_archive_entry_size(e))
                return xasprintf("%s: size %lld, archive %lld", rel, (long long) st.st_size,
                                 (long long) sym_archive_entry_size(e));
        char want[65], got[65];
        _cleanup_close_ int fd = openat(layer_fd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || file_digest(fd, got) < 0 || entry_digest(a, want) < 0)
                return xasprintf("%s: unreadable", rel);
        return streq(want, got) ? NULL : xasprintf("%s: content differs from the archive", rel);
}

static int walk(struct archive *a, int layer_fd, char ***diffs, size_t *n, berth_error **err)
{
        struct archive_entry *e;
        int r;
        while ((r = sym_archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
                _cleanup_free_ char *rel = NULL;
                if (path_normalize(sym_archive_entry_pathname(e), &rel, err) < 0)
                        return -1;
                char *d = check_entry(a, e, layer_fd, rel);
                if (d && (*n)++ < CHECK_MAX_DIFFS)
                        *diffs = strv_append(*diffs, d);
                else
                        free(d);
        }
        if (r != ARCHIVE_EOF)
                return berth_err(err, 0, "read the archive: %s", sym_archive_error_string(a));
        return 0;
}

/* A local archive is read in place by pull, which keeps no blob of it: it is
 * read again where the spec names it. */
static int open_archive(const struct store *s, const char *sha256, const char *url, berth_error **err)
{
        int fd = openat(s->blobs_fd, sha256, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_free_ char *path = NULL;
        if (fd >= 0 || !url || image_local_path(url, &path, err) <= 0)
                return fd;
        return open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
}

int images_layer_check(const char *cache_dir, const char *sha256, const char *url, char ***ret_diffs,
                       berth_error **err)
{
        if (dl_archive_load(err) < 0 || dl_crypto_load(err) < 0)
                return -1;
        _cleanup_(store_closep) struct store s = STORE_INIT;
        if (store_open(cache_dir, &s, err) < 0)
                return -1;
        _cleanup_close_ int blob = open_archive(&s, sha256, url, err);
        if (*err)
                return -1;
        _cleanup_close_ int layer = openat(s.layers_fd, sha256, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (layer < 0)
                return berth_error_make(err, BERTH_E_NOTFOUND, errno, "layer %.12s is not in the cache (run berth pull)",
                                        sha256);
        if (blob < 0)
                return berth_error_make(err, BERTH_E_NOTFOUND, errno, "the archive of layer %.12s is gone from the cache",
                                        sha256);
        char hex[65];
        if (file_digest(blob, hex) < 0 || lseek(blob, 0, SEEK_SET) < 0)
                return berth_err(err, errno, "read blob %.12s", sha256);
        char **diffs = NULL;
        size_t n = 0;
        if (!streq(hex, sha256))
                diffs = strv_append(diffs, xasprintf("archive: sha256 %.12s…", hex));
        _cleanup_archive_read_ struct archive *a = sym_archive_read_new();
        sym_archive_read_support_filter_gzip(a);
        sym_archive_read_support_filter_zstd(a);
        sym_archive_read_support_filter_xz(a);
        sym_archive_read_support_filter_bzip2(a);
        sym_archive_read_support_format_tar(a);
        if (sym_archive_read_open_fd(a, blob, 65536) != ARCHIVE_OK || walk(a, layer, &diffs, &n, err) < 0) {
                strv_free(diffs);
                return *err ? -1 : berth_err(err, 0, "open blob %.12s: %s", sha256, sym_archive_error_string(a));
        }
        if (n > CHECK_MAX_DIFFS)
                diffs = strv_append(diffs, xasprintf("and %zu more", n - CHECK_MAX_DIFFS));
        *ret_diffs = diffs;
        return 0;
}
