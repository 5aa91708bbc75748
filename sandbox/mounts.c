/* Mounts made through file descriptors: every target inside the (untrusted)
 * root is opened beneath the root's fd, so a symlink planted in an image can
 * never redirect a mount onto the host. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "sandbox-private.h"

static int openat2_in_root(int rootfd, const char *path, int *ret_fd)
{
        struct open_how how = {
                .flags = O_PATH | O_CLOEXEC,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        int fd = (int) syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

static int create_component(int dirfd, const char *name, bool dir)
{
        if (dir)
                return mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST ? -errno : 0;
        int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return errno == EEXIST ? 0 : -errno;
        close(fd);
        return 0;
}

/* The fallback and the creating path: one component at a time, refusing
 * symlinks and "..". */
static int walk_beneath(int rootfd, const char *path, bool create, bool dir, int *ret_fd, berth_error **err)
{
        _cleanup_free_ char *copy = xstrdup(path);
        _cleanup_close_ int cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
        char *save = NULL;
        if (cur < 0)
                return berth_err(err, errno, "dup");
        for (char *comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
                bool last = !save || !*save || strspn(save, "/") == strlen(save);
                if (streq(comp, "."))
                        continue;
                if (streq(comp, ".."))
                        return berth_error_make(err, BERTH_E_INVALID, 0, "`%s`: `..` not allowed", path);
                int fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0 && errno == ENOENT && create) {
                        int r = create_component(cur, comp, last ? dir : true);
                        if (r < 0)
                                return berth_err(err, -r, "create `%s` in the root", path);
                        fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                }
                if (fd < 0)
                        return berth_error_make(err, errno == ENOENT ? BERTH_E_NOTFOUND : BERTH_E_FAILED, errno,
                                                "open `%s` in the root", path);
                struct stat st;
                if (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode)) {
                        close(fd);
                        return berth_err(err, ELOOP, "`%s` in the root goes through a symlink", path);
                }
                close(cur);
                cur = fd;
        }
        *ret_fd = TAKE_FD(cur);
        return 0;
}

int open_beneath(int rootfd, const char *path, bool create, bool dir, int *ret_fd, berth_error **err)
{
        while (*path == '/')
                path++;
        if (!*path) {
                int fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
                if (fd < 0)
                        return berth_err(err, errno, "dup");
                *ret_fd = fd;
                return 0;
        }
        int r = openat2_in_root(rootfd, path, ret_fd);
        if (r == 0)
                return 0;
        if (r != -ENOSYS && r != -ENOENT && r != -EPERM)
                return berth_err(err, -r, "open `%s` in the root", path);
        return walk_beneath(rootfd, path, create, dir, ret_fd, err);
}

int fs_new(const char *fstype, const char *const *opts, unsigned attrs, int *ret_fd, berth_error **err)
{
        _cleanup_close_ int fs = fsopen(fstype, FSOPEN_CLOEXEC);
        if (fs < 0)
                return berth_err(err, errno, "fsopen %s", fstype);
        for (size_t i = 0; opts && opts[i]; i += 2) {
                int r = opts[i + 1] ? fsconfig(fs, FSCONFIG_SET_STRING, opts[i], opts[i + 1], 0)
                                    : fsconfig(fs, FSCONFIG_SET_FLAG, opts[i], NULL, 0);
                if (r < 0)
                        return berth_err(err, errno, "%s option %s", fstype, opts[i]);
        }
        if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return berth_err(err, errno, "create %s", fstype);
        int m = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
        if (m < 0)
                return berth_err(err, errno, "fsmount %s", fstype);
        *ret_fd = m;
        return 0;
}

/* Attach a detached mount at target beneath rootfd. */
int mount_at(int mntfd, int rootfd, const char *target, bool dir, berth_error **err)
{
        _cleanup_close_ int t = -1;
        if (open_beneath(rootfd, target, true, dir, &t, err) < 0)
                return -1;
        if (move_mount(mntfd, "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return berth_err(err, errno, "mount on `%s`", target);
        return 0;
}
