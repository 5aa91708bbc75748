#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

int write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

int read_fd_bounded(int fd, size_t max, const char *what, char **ret_buf, size_t *ret_len, berth_error **err)
{
        _cleanup_dynbuf_ dynbuf b;
        dynbuf_init(&b, max, what);
        char chunk[65536];
        for (;;) {
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return berth_err(err, errno, "read %s", what);
                }
                if (n == 0)
                        break;
                if (dynbuf_add(&b, chunk, (size_t) n, err) < 0)
                        return -1;
        }
        *ret_buf = dynbuf_take(&b, ret_len);
        return 0;
}

int read_file_bounded(int dirfd, const char *path, size_t max, const char *what, char **ret_buf, size_t *ret_len,
                      berth_error **err)
{
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return berth_error_make(err, errno == ENOENT ? BERTH_E_NOTFOUND : BERTH_E_FAILED, errno,
                                        "open `%s`", path);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return berth_err(err, errno, "stat `%s`", path);
        if (S_ISDIR(st.st_mode))
                return berth_err(err, EISDIR, "read `%s`", path);
        /* Refuse early rather than reading a huge regular file up to the bound. */
        if (S_ISREG(st.st_mode) && (uint64_t) st.st_size > max)
                return berth_error_make(err, BERTH_E_LIMIT, 0, "`%s`: %s is larger than the limit of %zu bytes",
                                        path, what, max);
        if (read_fd_bounded(fd, max, what, ret_buf, ret_len, err) < 0)
                return berth_error_wrap(err, "`%s`", path);
        return 0;
}

char *tmp_name_for(const char *name)
{
        unsigned char rnd[6];
        char hex[13];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd)) {
                /* Uniqueness only matters within one folder and one moment. */
                uint64_t v = (uint64_t) getpid() ^ (uint64_t) (uintptr_t) name ^ (uint64_t) time(NULL);
                memcpy(rnd, &v, sizeof(rnd));
        }
        hex_encode(rnd, sizeof(rnd), hex);
        const char *slash = strrchr(name, '/');
        if (!slash)
                return xasprintf(".%s.tmp-%s", name, hex);
        return xasprintf("%.*s/.%s.tmp-%s", (int) (slash - name), name, slash + 1, hex);
}

int fsync_dirfd_of(int dirfd, const char *path)
{
        _cleanup_free_ char *copy = xstrdup(path);
        const char *dir = strchr(path, '/') ? dirname(copy) : ".";
        _cleanup_close_ int fd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        return fsync(fd);
}

int write_file_atomic(int dirfd, const char *path, const void *data, size_t len, mode_t mode, berth_error **err)
{
        _cleanup_free_ char *tmp = tmp_name_for(path);
        _cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return berth_err(err, errno, "create `%s`", tmp);
        if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
                int e = errno;
                unlinkat(dirfd, tmp, 0);
                return berth_err(err, e, "write `%s`", path);
        }
        if (fchmod(fd, mode) < 0 || renameat(dirfd, tmp, dirfd, path) < 0) {
                int e = errno;
                unlinkat(dirfd, tmp, 0);
                return berth_err(err, e, "rename into `%s`", path);
        }
        if (fsync_dirfd_of(dirfd, path) < 0)
                return berth_err(err, errno, "fsync the folder of `%s`", path);
        return 0;
}

int mkdir_p(const char *path, mode_t mode, berth_error **err)
{
        _cleanup_free_ char *p = xstrdup(path);
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return berth_err(err, errno, "mkdir `%s`", p);
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return berth_err(err, errno, "mkdir `%s`", p);
        struct stat st;
        if (stat(p, &st) < 0)
                return berth_err(err, errno, "stat `%s`", p);
        if (!S_ISDIR(st.st_mode))
                return berth_err(err, ENOTDIR, "mkdir `%s`", p);
        return 0;
}

DIR *opendir_at(int dirfd, const char *path, int flags)
{
        int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | flags);
        if (fd < 0)
                return NULL;
        DIR *d = fdopendir(fd);
        if (!d) {
                int e = errno;
                close(fd);
                errno = e;
        }
        return d;
}

/* Deep enough for any real tree; a bound keeps a hostile one from exhausting fds. */
#define RM_RF_MAX_DEPTH 512

static int rm_rf_depth(int dirfd, const char *name, unsigned depth, berth_error **err);

static int rm_rf_children(int fd, unsigned depth, berth_error **err)
{
        _cleanup_closedir_ DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return berth_err(err, errno, "fdopendir");
        }
        struct dirent *de;
        while ((errno = 0, de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (rm_rf_depth(dirfd(d), de->d_name, depth + 1, err) < 0)
                        return -1;
        }
        if (errno)
                return berth_err(err, errno, "readdir");
        return 0;
}

static int rm_rf_depth(int dirfd, const char *name, unsigned depth, berth_error **err)
{
        if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
                return 0;
        if (errno != EISDIR && errno != EPERM)
                return berth_err(err, errno, "remove `%s`", name);
        if (depth > RM_RF_MAX_DEPTH)
                return berth_error_make(err, BERTH_E_LIMIT, 0, "remove `%s`: nested deeper than %d folders", name,
                                        RM_RF_MAX_DEPTH);
        /* Read-only layer folders and the mode-0 folders overlay leaves in its
         * work dir must be opened without CAP_DAC_OVERRIDE: give them back to
         * their owner first. unlink said this is a folder, not a symlink. */
        (void) fchmodat(dirfd, name, 0700, AT_SYMLINK_NOFOLLOW);
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT)
                        return 0;
                return berth_err(err, errno, "open `%s`", name);
        }
        if (rm_rf_children(fd, depth, err) < 0)
                return berth_error_wrap(err, "`%s`", name);
        if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return berth_err(err, errno, "rmdir `%s`", name);
        return 0;
}

int rm_rf_at(int dirfd, const char *name, berth_error **err)
{
        return rm_rf_depth(dirfd, name, 0, err);
}
