/* Stacking without overlay: the root is a merged copy of the layers.
 *
 * images_stack_copy() hardlinks files where it can, and a hardlinked file is
 * the cache's own inode: a write, chmod or truncate inside the sandbox would
 * change the layer for every environment. So every file that shares its
 * inode is then replaced by a copy of its own (a reflink where the
 * filesystem can, else copy_file_range), before anything runs in it. The
 * result is a writable root that never writes through to the cache. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "envs-private.h"
#include "images/images.h"

#define MAX_DEPTH 256
#define TMP_NAME ".berth-copy-tmp"

static int copy_bytes(int in, int out)
{
        if (ioctl(out, FICLONE, in) == 0)
                return 0;
        for (;;) {
                ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
                if (n == 0)
                        return 0;
                if (n < 0)
                        break;
        }
        if (errno != EXDEV && errno != ENOSYS && errno != EOPNOTSUPP && errno != EINVAL)
                return -1;
        char buf[65536];
        for (;;) {
                ssize_t n = read(in, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return (int) n;
                if (write_all(out, buf, (size_t) n) < 0)
                        return -1;
        }
}

static void copy_user_xattrs(int in, int out)
{
        char names[4096], value[4096];
        ssize_t n = flistxattr(in, names, sizeof(names));
        for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t) strlen(names + off) + 1) {
                ssize_t v = startswith(names + off, "user.") ? fgetxattr(in, names + off, value, sizeof(value)) : -1;
                if (v >= 0)
                        (void) fsetxattr(out, names + off, value, (size_t) v, 0);
        }
}

/* Replace dfd/name (a hardlink) by a copy with the same mode, times and
 * user xattrs. */
static int unshare_file(int dfd, const char *name, const struct stat *st, berth_error **err)
{
        _cleanup_close_ int in = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (in < 0)
                return berth_err(err, errno, "open `%s`", name);
        (void) unlinkat(dfd, TMP_NAME, 0);
        _cleanup_close_ int out = openat(dfd, TMP_NAME, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0)
                return berth_err(err, errno, "create a copy of `%s`", name);
        if (copy_bytes(in, out) < 0)
                return berth_err(err, errno, "copy `%s`", name);
        copy_user_xattrs(in, out);
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        if (fchmod(out, st->st_mode & 07777) < 0 || futimens(out, ts) < 0)
                return berth_err(err, errno, "`%s`: set mode and time", name);
        if (renameat(dfd, TMP_NAME, dfd, name) < 0)
                return berth_err(err, errno, "replace `%s`", name);
        return 0;
}

static int unshare_dir(int dfd, unsigned depth, berth_error **err);

static int unshare_entry(int dfd, const char *name, unsigned depth, berth_error **err)
{
        struct stat st;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return berth_err(err, errno, "stat `%s`", name);
        if (S_ISREG(st.st_mode))
                return st.st_nlink > 1 ? unshare_file(dfd, name, &st, err) : 0;
        if (!S_ISDIR(st.st_mode))
                return 0;
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return berth_err(err, errno, "open `%s`", name);
        /* A read-only folder must take the temporary copy; its mode comes back after. */
        (void) fchmod(fd, (st.st_mode & 07777) | 0700);
        int r = unshare_dir(fd, depth + 1, err);
        struct timespec ts[2] = { st.st_atim, st.st_mtim };
        if (r == 0 && (fchmod(fd, st.st_mode & 07777) < 0 || futimens(fd, ts) < 0))
                r = berth_err(err, errno, "`%s`: set mode and time", name);
        close(fd);
        return r < 0 ? berth_error_wrap(err, "%s", name) : 0;
}

static int unshare_dir(int fd, unsigned depth, berth_error **err)
{
        if (depth > MAX_DEPTH)
                return berth_error_make(err, BERTH_E_LIMIT, 0, "folders nested deeper than %d", MAX_DEPTH);
        int dup = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        _cleanup_closedir_ DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
        if (!d) {
                if (dup >= 0)
                        close(dup);
                return berth_err(err, errno, "read a folder");
        }
        struct dirent *de;
        while ((errno = 0, de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, "..") || streq(de->d_name, TMP_NAME))
                        continue;
                if (unshare_entry(dirfd(d), de->d_name, depth, err) < 0)
                        return -1;
        }
        if (errno)
                return berth_err(err, errno, "read a folder");
        return 0;
}

/* Merge the layers into dest (must not exist) and give every file an inode
 * of its own. */
static int build_copy(char *const *layers, size_t n, const char *dest, berth_error **err)
{
        if (images_stack_copy(layers, n, dest, err) < 0)
                return -1;
        _cleanup_close_ int fd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return berth_err(err, errno, "open `%s`", dest);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return berth_err(err, errno, "stat `%s`", dest);
        (void) fchmod(fd, (st.st_mode & 07777) | 0700);
        if (unshare_dir(fd, 0, err) < 0)
                return berth_error_wrap(err, "`%s`", dest);
        if (fchmod(fd, st.st_mode & 07777) < 0)
                return berth_err(err, errno, "chmod `%s`", dest);
        return 0;
}

/* Which layers, as they are now: a folder replaced (re-pulled, a local folder
 * made anew) gives a new key. */
static uint64_t layers_key(char *const *layers, size_t n)
{
        uint64_t h = 0xcbf29ce484222325ull;
        for (size_t i = 0; i < n; i++) {
                struct stat st = {};
                (void) stat(layers[i], &st);
                _cleanup_free_ char *s = xasprintf("%s\n%llu:%llu:%lld.%ld\n", layers[i],
                                                   (unsigned long long) st.st_dev, (unsigned long long) st.st_ino,
                                                   (long long) st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
                for (const char *p = s; *p; p++)
                        h = (h ^ (unsigned char) *p) * 0x100000001b3ull;
        }
        return h;
}

/* Old copies (other layer lists) and builds a crash left behind. */
static void remove_stale(int dfd, const char *keep)
{
        _cleanup_closedir_ DIR *d = NULL;
        int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || !(d = fdopendir(fd))) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        struct dirent *de;
        while ((de = readdir(d)))
                if ((startswith(de->d_name, "copy-") || startswith(de->d_name, ".copy-")) && !streq(de->d_name, keep)) {
                        _cleanup_error_ berth_error *e = NULL;
                        if (rm_rf_at(dfd, de->d_name, &e) < 0)
                                log_debug("remove an old root copy: %s", e->msg);
                }
}

static int build_kept(char *const *layers, size_t n, const char *dir, const char *name, berth_error **err)
{
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return berth_err(err, errno, "open `%s`", dir);
        remove_stale(dfd, name);
        _cleanup_free_ char *tmp = xasprintf("%s/.%s.tmp", dir, name), *final = xasprintf("%s/%s", dir, name);
        if (build_copy(layers, n, tmp, err) < 0)
                return -1;
        /* A kept root is published only once it is on disk. */
        if (syncfs(dfd) < 0)
                return berth_err(err, errno, "syncfs `%s`", dir);
        if (rename(tmp, final) < 0)
                return berth_err(err, errno, "rename `%s`", tmp);
        if (fsync(dfd) < 0)
                return berth_err(err, errno, "fsync `%s`", dir);
        return 0;
}

int envs_copy_root(char *const *layers, size_t n, const char *dir, bool throwaway, char **ret, berth_error **err)
{
        if (throwaway) {
                char *dest = xasprintf("%s/root", dir);
                if (build_copy(layers, n, dest, err) < 0) {
                        free(dest);
                        return berth_error_wrap(err, "copy of the layers");
                }
                *ret = dest;
                return 0;
        }
        char name[32];
        snprintf(name, sizeof(name), "copy-%016llx", (unsigned long long) layers_key(layers, n));
        if (mkdir_p(dir, 0700, err) < 0)
                return -1;
        /* Concurrent runs of one environment build its copy once. */
        _cleanup_free_ char *lock = xasprintf("%s/copy.lock", dir), *root = xasprintf("%s/%s", dir, name);
        _cleanup_close_ int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lfd < 0 || flock(lfd, LOCK_EX) < 0)
                return berth_err(err, errno, "lock `%s`", lock);
        struct stat st;
        if (stat(root, &st) < 0 && build_kept(layers, n, dir, name, err) < 0)
                return berth_error_wrap(err, "copy of the layers");
        *ret = TAKE_PTR(root);
        return 0;
}
