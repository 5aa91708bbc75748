/* The fallback without overlay: merge layer folders into one real folder.
 * Everything in dest is opened through fds with O_NOFOLLOW, and removals go
 * through rm_rf_at() on a folder fd inside dest, so whiteouts cannot reach out.
 * Files of a layer are read through beneath_open(): regular files only. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "private.h"

#define MAX_DEPTH 256

static int copy_data(int in, int out)
{
        if (ioctl(out, FICLONE, in) == 0)
                return 0;
        for (;;) {
                ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
                if (n == 0)
                        return 0;
                if (n > 0)
                        continue;
                if (errno != EXDEV && errno != ENOSYS && errno != EOPNOTSUPP && errno != EINVAL)
                        return -1;
                break;
        }
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

/* The layer's own user.* xattrs, never overlay's markers: in a merged folder
 * they would mean something else. Best effort, like cp -a. */
static void copy_xattrs(int in, int out)
{
        char names[4096], value[4096];
        ssize_t n = flistxattr(in, names, sizeof(names));
        for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t) strlen(names + off) + 1) {
                const char *name = names + off;
                if (!startswith(name, "user.") || startswith(name, "user.overlay."))
                        continue;
                ssize_t v = fgetxattr(in, name, value, sizeof(value));
                if (v >= 0)
                        (void) fsetxattr(out, name, value, (size_t) v, 0);
        }
}

static int copy_file(int sfd, int dfd, const char *name, const struct stat *st, const struct images_stack_opts *o,
                     berth_error **err)
{
        if (o->link && linkat(sfd, name, dfd, name, 0) == 0)
                return 0;
        /* A layer folder given by path may change under us: what is opened
         * must still be a regular file, and a FIFO put there must not block. */
        _cleanup_close_ int in = -1;
        if (beneath_open(sfd, name, O_RDONLY, BENEATH_NO_SYMLINKS | BENEATH_REGULAR, &in, err) < 0)
                return -1;
        _cleanup_close_ int out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0)
                return berth_err(err, errno, "create `%s`", name);
        if (copy_data(in, out) < 0)
                return berth_err(err, errno, "copy `%s`", name);
        /* Before the xattrs and the mode: a chown drops file capabilities
         * and the set-id bits. */
        if (o->owned && fchown(out, o->uid, o->gid) < 0)
                return berth_err(err, errno, "chown `%s`", name);
        copy_xattrs(in, out);
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        if (fchmod(out, st->st_mode & 07777) < 0 || futimens(out, ts) < 0)
                return berth_err(err, errno, "`%s`: set mode and time", name);
        return 0;
}

static int copy_special(int sfd, int dfd, const char *name, const struct stat *st, const struct images_stack_opts *o,
                        berth_error **err)
{
        if (S_ISLNK(st->st_mode)) {
                char target[PATH_MAX];
                ssize_t n = readlinkat(sfd, name, target, sizeof(target) - 1);
                if (n < 0)
                        return berth_err(err, errno, "readlink `%s`", name);
                target[n] = '\0';
                if (symlinkat(target, dfd, name) < 0)
                        return berth_err(err, errno, "symlink `%s`", name);
        } else if (S_ISFIFO(st->st_mode)) {
                if (mknodat(dfd, name, S_IFIFO | (st->st_mode & 0777), 0) < 0)
                        return berth_err(err, errno, "mkfifo `%s`", name);
        } else {
                return 0; /* the unpacker never leaves other special files */
        }
        if (o->owned && fchownat(dfd, name, o->uid, o->gid, AT_SYMLINK_NOFOLLOW) < 0)
                return berth_err(err, errno, "chown `%s`", name);
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW);
        return 0;
}

static bool is_opaque(int fd)
{
        char v[2] = {};
        ssize_t n = fgetxattr(fd, OVERLAY_OPAQUE_XATTR, v, sizeof(v));
        return n == 1 && v[0] == 'y';
}

static int clear_dir(int dfd, berth_error **err)
{
        _cleanup_closedir_ DIR *d = opendir_at(dfd, ".", 0);
        if (!d)
                return berth_err(err, errno, "open a folder to clear");
        struct dirent *de;
        while ((errno = 0, de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..") && rm_rf_at(dfd, de->d_name, err) < 0)
                        return -1;
        return 0;
}

static int merge_dir(int sfd, int dfd, int depth, const struct images_stack_opts *o, berth_error **err);

static int merge_subdir(int sfd, int dfd, const char *name, const struct stat *st, int depth,
                        const struct images_stack_opts *o, berth_error **err)
{
        struct stat dst;
        if (fstatat(dfd, name, &dst, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(dst.st_mode) &&
            rm_rf_at(dfd, name, err) < 0)
                return -1;
        if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
                return berth_err(err, errno, "mkdir `%s`", name);
        _cleanup_close_ int s = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_close_ int d = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (s < 0 || d < 0)
                return berth_err(err, errno, "open `%s`", name);
        fchmod(d, 0700); /* a read-only lower folder must still take this layer's entries */
        if (o->owned && fchown(d, o->uid, o->gid) < 0)
                return berth_err(err, errno, "chown `%s`", name);
        copy_xattrs(s, d);
        if (merge_dir(s, d, depth + 1, o, err) < 0)
                return berth_error_wrap(err, "%s", name);
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        if (fchmod(d, st->st_mode & 07777) < 0 || futimens(d, ts) < 0)
                return berth_err(err, errno, "`%s`: set mode and time", name);
        return 0;
}

static int merge_entry(int sfd, int dfd, const char *name, int depth, const struct images_stack_opts *o,
                       berth_error **err)
{
        struct stat st;
        if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return berth_err(err, errno, "stat `%s`", name);
        if (S_ISDIR(st.st_mode))
                return merge_subdir(sfd, dfd, name, &st, depth, o, err);
        /* A whiteout hides what lower layers put there; dfd is inside dest. */
        if (rm_rf_at(dfd, name, err) < 0)
                return -1;
        if (is_whiteout_stat(&st))
                return 0;
        if (S_ISREG(st.st_mode))
                return copy_file(sfd, dfd, name, &st, o, err);
        return copy_special(sfd, dfd, name, &st, o, err);
}

static int merge_dir(int sfd, int dfd, int depth, const struct images_stack_opts *o, berth_error **err)
{
        if (depth > MAX_DEPTH)
                return berth_error_make(err, BERTH_E_LIMIT, 0, "folders nested deeper than %d", MAX_DEPTH);
        if (is_opaque(sfd) && clear_dir(dfd, err) < 0)
                return -1;
        _cleanup_closedir_ DIR *d = opendir_at(sfd, ".", 0);
        if (!d)
                return berth_err(err, errno, "read a layer folder");
        struct dirent *de;
        while ((errno = 0, de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (merge_entry(sfd, dfd, de->d_name, depth, o, err) < 0)
                        return -1;
        }
        if (errno)
                return berth_err(err, errno, "read a layer folder");
        return 0;
}

int images_stack_copy(char *const *layer_dirs, size_t n, const char *dest_dir, const struct images_stack_opts *o,
                      berth_error **err)
{
        if (mkdir(dest_dir, 0700) < 0)
                return berth_err(err, errno, "mkdir `%s`", dest_dir);
        _cleanup_close_ int dfd = open(dest_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return berth_err(err, errno, "open `%s`", dest_dir);
        if (o->owned && fchown(dfd, o->uid, o->gid) < 0)
                return berth_err(err, errno, "chown `%s`", dest_dir);
        for (size_t i = 0; i < n; i++) {
                _cleanup_close_ int sfd = open(layer_dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (sfd < 0)
                        return berth_err(err, errno, "open layer `%s`", layer_dirs[i]);
                if (merge_dir(sfd, dfd, 0, o, err) < 0)
                        return berth_error_wrap(err, "stack layer `%s`", layer_dirs[i]);
                struct stat st;
                if (fstat(sfd, &st) == 0)
                        fchmod(dfd, st.st_mode & 07777);
        }
        return 0;
}
