/* Mounts made through file descriptors: every target inside the (untrusted)
 * root is opened with beneath_open() on the root's fd, so a symlink planted in
 * an image can never redirect a mount onto the host. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "sandbox-private.h"

int open_beneath(int rootfd, const char *path, bool create, bool dir, int *ret_fd, berth_error **err)
{
        unsigned flags = (create ? BENEATH_CREATE : 0) | (dir ? BENEATH_DIRECTORY : 0);
        return beneath_open(rootfd, path, O_PATH, flags, ret_fd, err);
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
