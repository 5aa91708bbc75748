/* Removing a run folder the sandbox wrote. overlay leaves folders with mode
 * 0 in its work dir (work/work, work/work/incompat), which common's rm_rf_at
 * cannot open without CAP_DAC_OVERRIDE: give each folder back its owner's
 * rights before going in. Never follows symlinks (only what unlink calls a
 * folder is chmod-ed, without following). Runs after the sandbox is gone. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "envs-private.h"

#define MAX_DEPTH 256

static int remove_in(int parent, const char *name, int depth)
{
        if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
                return 0;
        if (errno != EISDIR)
                return -1;
        if (depth > MAX_DEPTH) {
                errno = ELOOP;
                return -1;
        }
        (void) fchmodat(parent, name, 0700, AT_SYMLINK_NOFOLLOW);
        int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -1;
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -1;
        }
        struct dirent *e;
        int r = 0;
        while ((e = readdir(d)))
                if (!streq(e->d_name, ".") && !streq(e->d_name, "..") && remove_in(dirfd(d), e->d_name, depth + 1) < 0)
                        r = -1;
        closedir(d);
        if (r == 0 && unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                r = -1;
        return r;
}

int envs_remove_tree(const char *path, berth_error **err)
{
        if (remove_in(AT_FDCWD, path, 0) < 0)
                return berth_err(err, errno, "remove `%s`", path);
        return 0;
}
