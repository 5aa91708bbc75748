#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "private.h"

bool images_no_openat2;

int path_normalize(const char *name, char **ret, berth_error **err)
{
        size_t len = strlen(name);
        if (len >= PATH_MAX)
                return berth_error_make(err, BERTH_E_LIMIT, 0, "entry name of %zu bytes is longer than %d", len,
                                        PATH_MAX - 1);
        _cleanup_free_ char *out = xmalloc(len + 1);
        size_t o = 0;
        for (const char *p = name; *p;) {
                while (*p == '/')
                        p++;
                const char *end = strchrnul(p, '/');
                size_t n = (size_t) (end - p);
                if (n == 0 || (n == 1 && p[0] == '.')) {
                        p = end;
                        continue;
                }
                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return berth_err(err, 0, "entry `%s`: a `..` component would leave the layer", name);
                if (n > NAME_MAX)
                        return berth_error_make(err, BERTH_E_LIMIT, 0,
                                                "entry `%.64s...`: a name component of %zu bytes is longer than %d",
                                                name, n, NAME_MAX);
                if (o)
                        out[o++] = '/';
                memcpy(out + o, p, n);
                o += n;
                p = end;
        }
        out[o] = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}

void path_split(const char *path, char **ret_parent, const char **ret_base)
{
        const char *slash = strrchr(path, '/');
        if (!slash) {
                *ret_parent = xstrdup("");
                *ret_base = path;
                return;
        }
        *ret_parent = xstrndup(path, (size_t) (slash - path));
        *ret_base = slash + 1;
}

static int openat2_beneath(int rootfd, const char *path, int flags)
{
        struct open_how how = {
                .flags = (uint64_t) (flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };
        return (int) syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

static int describe_failure(int dirfd, const char *path, const char *comp, int e, berth_error **err)
{
        struct stat st;
        if ((e == ELOOP || e == ENOTDIR || e == EXDEV) && fstatat(dirfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISLNK(st.st_mode))
                return berth_err(err, 0, "goes through the symlink `%s`", comp);
        if (e == ENOTDIR || e == EEXIST)
                return berth_err(err, 0, "`%s` is not a folder", comp);
        return berth_err(err, e, "open `%s` in the layer", path);
}

/* One component at a time with O_NOFOLLOW: the portable way, and the only one
 * that can create missing folders on the way. */
static int walk_beneath(int rootfd, const char *path, int flags, bool create, berth_error **err)
{
        _cleanup_close_ int cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cur < 0)
                return berth_err(err, errno, "open the layer root");
        _cleanup_free_ char *copy = xstrdup(path);
        char *save = NULL;
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                bool last = save == NULL || *save == '\0';
                int fl = (last ? flags : O_PATH) | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
                int fd = openat(cur, c, fl);
                if (fd < 0 && errno == ENOENT && create) {
                        if (mkdirat(cur, c, 0755) < 0 && errno != EEXIST)
                                return berth_err(err, errno, "mkdir `%s` in the layer", path);
                        fd = openat(cur, c, fl);
                }
                if (fd < 0)
                        return describe_failure(cur, path, c, errno, err);
                close(cur);
                cur = fd;
        }
        if (!path[0] && flags != O_PATH) {
                int fd = openat(cur, ".", flags | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        return berth_err(err, errno, "open the layer root");
                return fd;
        }
        return TAKE_FD(cur);
}

int open_beneath_dir(int rootfd, const char *path, int flags, bool create, berth_error **err)
{
        if (!images_no_openat2) {
                int fd = openat2_beneath(rootfd, path[0] ? path : ".", flags);
                if (fd >= 0)
                        return fd;
                /* Anything unusual (missing folder, symlink, old kernel) takes the slow
                 * path, which creates folders and names the culprit. */
        }
        return walk_beneath(rootfd, path, flags, create, err);
}

bool is_whiteout_stat(const struct stat *st)
{
        return S_ISCHR(st->st_mode) && st->st_rdev == 0;
}
