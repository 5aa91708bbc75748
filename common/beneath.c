/* Paths inside an untrusted root: a layer being unpacked, an image's layers,
 * a sandbox's root. openat2(RESOLVE_IN_ROOT) where the kernel has it; else,
 * and wherever it fails, a walk one name at a time through folder fds that
 * resolves symlinks and ".." itself, so nothing outside the root is ever
 * reached. The same walk reads a stack of layers the way overlay shows them.
 * Rules in docs/SANDBOX.md ("Paths inside a root"). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>

#include "common.h"

/* As the kernel: more symlinks than this on one path is a loop. */
#define MAX_LINKS 40

static bool openat2_missing;

static int try_openat2(int rootfd, const char *path, int oflags, unsigned flags)
{
        if (__atomic_load_n(&openat2_missing, __ATOMIC_RELAXED))
                return -1;
        /* openat2() refuses O_PATH with any flag it would ignore. */
        struct open_how how = {
                .flags = (uint64_t) (oflags | O_CLOEXEC | (oflags & O_PATH ? 0 : O_NOCTTY)),
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        if (flags & BENEATH_NO_SYMLINKS)
                how.resolve |= RESOLVE_NO_SYMLINKS;
        if (flags & BENEATH_DIRECTORY)
                how.flags |= O_DIRECTORY;
        /* EAGAIN: a rename elsewhere raced the lookup; the kernel asks us to retry. */
        for (int tries = 0; tries < 4; tries++) {
                int fd = (int) syscall(SYS_openat2, rootfd, path[0] ? path : ".", &how, sizeof(how));
                if (fd >= 0)
                        return fd;
                if (errno == ENOSYS)
                        __atomic_store_n(&openat2_missing, true, __ATOMIC_RELAXED);
                if (errno != EAGAIN)
                        break;
        }
        return -1;
}

/* ---- the walk ------------------------------------------------------------ */

struct walk {
        const char *path;       /* as the caller gave it, for messages */
        int oflags;
        unsigned flags;
        bool stacked;           /* whiteouts and opaque folders count */
        const int *roots;       /* the layers' roots, topmost first */
        size_t n;
        int *cur;               /* the folder we are in: its fd in each layer that has it */
        size_t n_cur;
        char *where;            /* cur's path from the root, resolved: ".." pops it */
        char *rest;             /* what is left to resolve: rest + off */
        size_t off;
        const char *via_link;   /* the first symlink followed, if any (malloc'd in links) */
        char *links[MAX_LINKS];
        unsigned n_links;
};

/* What a name is in the current folder. */
struct found {
        struct stat st;
        int fd;                 /* O_PATH, not followed: the topmost entry */
        size_t layer;           /* index into cur of the layer it is in */
        int *dirs;              /* a folder: its fd in each layer that has it (fd is dirs[0]) */
        size_t n_dirs;
};

static void close_all(int *fds, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
}

static void found_done(struct found *f)
{
        if (f->dirs) {
                close_all(f->dirs, f->n_dirs);
                free(f->dirs);
        } else if (f->fd >= 0)
                close(f->fd);
        *f = (struct found) { .fd = -1 };
}

static void walk_done(struct walk *w)
{
        close_all(w->cur, w->n_cur);
        free(w->cur);
        free(w->where);
        free(w->rest);
        for (unsigned i = 0; i < w->n_links; i++)
                free(w->links[i]);
}

static int set_root(struct walk *w, berth_error **err)
{
        close_all(w->cur, w->n_cur);
        for (w->n_cur = 0; w->n_cur < w->n; w->n_cur++) {
                w->cur[w->n_cur] = fcntl(w->roots[w->n_cur], F_DUPFD_CLOEXEC, 3);
                if (w->cur[w->n_cur] < 0)
                        return berth_err(err, errno, "dup a root fd");
        }
        w->where[0] = '\0';
        return 0;
}

/* An opaque folder hides the folders below it (overlay with userxattr, as
 * berth mounts it). An O_PATH fd cannot read xattrs: open it for that. */
static int is_opaque(int dirfd, bool *ret, berth_error **err)
{
        _cleanup_close_ int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return berth_err(err, errno, "open a folder to read its xattrs");
        char v[2] = {};
        ssize_t n = fgetxattr(fd, OVERLAY_OPAQUE_XATTR, v, sizeof(v));
        if (n < 0 && errno != ENODATA && errno != ENOTSUP)
                return berth_err(err, errno, "read xattr %s", OVERLAY_OPAQUE_XATTR);
        *ret = n == 1 && v[0] == 'y';
        return 0;
}

/* Add a lower layer's folder to a merged one; 1 when the layers below are hidden. */
static int add_dir(struct walk *w, struct found *f, int fd, size_t layer, berth_error **err)
{
        f->dirs[f->n_dirs++] = fd;
        if (!w->stacked || layer + 1 == w->n_cur)
                return 1;
        bool opaque = false;
        if (is_opaque(fd, &opaque, err) < 0)
                return -1;
        return opaque ? 1 : 0;
}

/* The name in each layer, topmost first, as overlay merges them: the first
 * entry found wins; a whiteout hides what is below; folders merge down to a
 * layer where the name is no folder, or below an opaque one.
 * 0 (found), 1 (nothing there), -1. */
static int lookup(struct walk *w, const char *name, struct found *ret, berth_error **err)
{
        struct found f = { .fd = -1 };
        for (size_t i = 0; i < w->n_cur; i++) {
                int fd = openat(w->cur[i], name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                struct stat st;
                if (fd < 0 && errno == ENOENT)
                        continue;
                if (fd < 0 || fstat(fd, &st) < 0) {
                        int e = errno;
                        if (fd >= 0)
                                close(fd);
                        found_done(&f);
                        return berth_err(err, e, "open `%s%s%s`", w->where, w->where[0] ? "/" : "", name);
                }
                bool whiteout = w->stacked && is_whiteout_stat(&st);
                bool dir = S_ISDIR(st.st_mode);
                if (whiteout || (f.dirs && !dir)) {
                        close(fd);
                        break;
                }
                if (f.fd < 0) {
                        f = (struct found) { .st = st, .fd = fd, .layer = i };
                        if (!dir)
                                break;
                        f.dirs = xcalloc(w->n_cur, sizeof(int));
                }
                int r = add_dir(w, &f, fd, i, err);
                if (r < 0) {
                        found_done(&f);
                        return -1;
                }
                if (r > 0)
                        break;
        }
        if (f.fd < 0)
                return 1;
        *ret = f;
        return 0;
}

static char *joined(const char *dir, const char *name)
{
        return dir[0] ? xasprintf("%s/%s", dir, name) : xstrdup(name);
}

static void descend(struct walk *w, struct found *f, const char *name)
{
        close_all(w->cur, w->n_cur);
        free(w->cur);
        w->cur = xcalloc(w->n, sizeof(int));
        memcpy(w->cur, f->dirs, f->n_dirs * sizeof(int));
        w->n_cur = f->n_dirs;
        free(f->dirs);
        *f = (struct found) { .fd = -1 };
        char *p = joined(w->where, name);
        free(w->where);
        w->where = p;
}

/* "..": back up one folder by walking the resolved path again from the
 * root. Holding no fd of the parents costs a walk, only for "..", and keeps
 * a folder moved out from under us from leading outside. */
static int go_up(struct walk *w, berth_error **err)
{
        char *slash = strrchr(w->where, '/');
        _cleanup_free_ char *target = xstrndup(w->where, slash ? (size_t) (slash - w->where) : 0);
        if (set_root(w, err) < 0)
                return -1;
        char *save = NULL;
        for (char *c = strtok_r(target, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                struct found f;
                int r = lookup(w, c, &f, err);
                if (r < 0)
                        return -1;
                if (r > 0 || !S_ISDIR(f.st.st_mode)) {
                        if (r == 0)
                                found_done(&f);
                        return berth_err(err, EAGAIN, "`%s` changed while it was resolved", w->path);
                }
                descend(w, &f, c);
        }
        return 0;
}

static int make_missing(struct walk *w, const char *name, bool last, berth_error **err)
{
        _cleanup_free_ char *p = joined(w->where, name);
        if (w->via_link)
                return berth_err(err, ENOENT, "`%s` is missing, and berth makes nothing through the symlink `%s`",
                                 p, w->via_link);
        if (last && !(w->flags & BENEATH_DIRECTORY)) {
                int fd = openat(w->cur[0], name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (fd < 0 && errno != EEXIST)
                        return berth_err(err, errno, "create `%s`", p);
                if (fd >= 0)
                        close(fd);
        } else if (mkdirat(w->cur[0], name, 0755) < 0 && errno != EEXIST)
                return berth_err(err, errno, "mkdir `%s`", p);
        return 0;
}

/* Splice a symlink's target in front of what is left of the path. */
static int follow(struct walk *w, const struct found *f, const char *name, berth_error **err)
{
        _cleanup_free_ char *p = joined(w->where, name);
        if (w->flags & BENEATH_NO_SYMLINKS)
                return berth_err(err, ELOOP, "goes through the symlink `%s`", p);
        if (w->n_links == MAX_LINKS)
                return berth_err(err, ELOOP, "`%s`: more than %d symlinks", w->path, MAX_LINKS);
        char target[PATH_MAX];
        ssize_t n = readlinkat(f->fd, "", target, sizeof(target) - 1);
        if (n < 0)
                return berth_err(err, errno, "readlink `%s`", p);
        target[n] = '\0';
        if (!w->via_link)
                w->via_link = p;
        w->links[w->n_links++] = TAKE_PTR(p);
        char *next = xasprintf("%s/%s", target, w->rest + w->off);
        free(w->rest);
        w->rest = next;
        w->off = 0;
        return target[0] == '/' ? set_root(w, err) : 0;
}

/* Whether nothing but "/" and "." is left: the component before was the last. */
static bool is_last(const char *rest)
{
        for (const char *p = rest; *p;) {
                p += strspn(p, "/");
                size_t len = strcspn(p, "/");
                if (len && !(len == 1 && p[0] == '.'))
                        return false;
                p += len;
        }
        return true;
}

static const char *type_name(mode_t m)
{
        switch (m & S_IFMT) {
        case S_IFDIR: return "a folder";
        case S_IFLNK: return "a symlink";
        case S_IFIFO: return "a fifo";
        case S_IFSOCK: return "a socket";
        case S_IFCHR: return "a character device";
        case S_IFBLK: return "a block device";
        default: return "a special file";
        }
}

static int check_type(const struct walk *w, mode_t mode, berth_error **err)
{
        if ((w->flags & BENEATH_DIRECTORY) && !S_ISDIR(mode))
                return berth_err(err, ENOTDIR, "`%s` is not a folder", w->path);
        if ((w->flags & BENEATH_REGULAR) && !S_ISREG(mode))
                return berth_err(err, 0, "`%s` is %s, not a regular file", w->path, type_name(mode));
        return 0;
}

/* The entry the walk ended on (no folder: those are walked into), opened as
 * the caller asked: O_PATH is the fd the walk holds; anything else opens the
 * same name again, not following, and must find the same inode. */
static int open_found(struct walk *w, struct found *f, const char *name, int *ret_fd, berth_error **err)
{
        if (check_type(w, f->st.st_mode, err) < 0)
                return -1;
        if (w->oflags & O_PATH) {
                *ret_fd = TAKE_FD(f->fd);
                return 0;
        }
        _cleanup_close_ int fd = openat(w->cur[f->layer], name, w->oflags | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return berth_err(err, errno, "open `%s`", w->path);
        if (st.st_dev != f->st.st_dev || st.st_ino != f->st.st_ino)
                return berth_err(err, EAGAIN, "`%s` changed while it was opened", w->path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* The path ended on a folder: the root itself, or a name walked into. In
 * layers, that is the topmost layer's. */
static int open_cur(struct walk *w, int *ret_fd, berth_error **err)
{
        struct stat st;
        if (fstat(w->cur[0], &st) < 0)
                return berth_err(err, errno, "stat `%s`", w->path);
        if (check_type(w, st.st_mode, err) < 0)
                return -1;
        int fd = openat(w->cur[0], ".", (w->oflags & O_PATH ? O_PATH : w->oflags) | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return berth_err(err, errno, "open `%s`", w->path);
        *ret_fd = fd;
        return 0;
}

/* One component. 1: go on with what is left; 0: done, *ret_fd set; -1. */
static int step(struct walk *w, const char *name, int *ret_fd, berth_error **err)
{
        if (streq(name, "."))
                return 1;
        if (streq(name, ".."))
                return w->where[0] ? (go_up(w, err) < 0 ? -1 : 1) : 1;
        bool last = is_last(w->rest + w->off);
        struct found f = { .fd = -1 };
        for (int tries = 0;; tries++) {
                int r = lookup(w, name, &f, err);
                if (r < 0)
                        return -1;
                if (r == 0)
                        break;
                if (!(w->flags & BENEATH_CREATE) || tries > 0) {
                        _cleanup_free_ char *p = joined(w->where, name);
                        return berth_error_make(err, BERTH_E_NOTFOUND, ENOENT, "open `%s`", p);
                }
                if (make_missing(w, name, last, err) < 0)
                        return -1;
        }
        int r = 1;
        if (S_ISLNK(f.st.st_mode) && !(last && (w->oflags & O_NOFOLLOW)))
                r = follow(w, &f, name, err) < 0 ? -1 : 1;
        else if (S_ISDIR(f.st.st_mode))
                descend(w, &f, name);
        else if (!last) {
                _cleanup_free_ char *p = joined(w->where, name);
                r = berth_err(err, ENOTDIR, "`%s` is not a folder", p);
        } else
                r = open_found(w, &f, name, ret_fd, err) < 0 ? -1 : 0;
        found_done(&f);
        return r;
}

static int walk(struct walk *w, int *ret_fd, berth_error **err)
{
        w->cur = xcalloc(w->n, sizeof(int));
        w->where = xstrdup("");
        w->rest = xstrdup(w->path);
        if (set_root(w, err) < 0)
                return -1;
        int r = 1;
        while (r > 0) {
                const char *p = w->rest + w->off + strspn(w->rest + w->off, "/");
                if (!*p)
                        break;
                size_t len = strcspn(p, "/");
                _cleanup_free_ char *name = xstrndup(p, len);
                w->off = (size_t) (p + len - w->rest);
                r = step(w, name, ret_fd, err);
        }
        if (r > 0)
                r = open_cur(w, ret_fd, err);
        return r;
}

/* ---- the interface ------------------------------------------------------- */

static int walk_layers(const int *roots, size_t n, bool stacked, const char *path, int oflags, unsigned flags,
                       int *ret_fd, berth_error **err)
{
        struct walk w = { .path = path, .oflags = oflags, .flags = flags, .stacked = stacked, .roots = roots,
                          .n = n };
        int fd = -1;
        int r = walk(&w, &fd, err);
        walk_done(&w);
        if (r < 0)
                return -1;
        *ret_fd = fd;
        return 0;
}

/* A regular file, found without opening anything else: an O_PATH probe
 * first, then the same path again for reading, which must be the same inode. */
static int openat2_regular(int rootfd, const char *path, int oflags, unsigned flags)
{
        _cleanup_close_ int probe = try_openat2(rootfd, path, O_PATH | (oflags & O_NOFOLLOW), flags);
        struct stat a, b;
        if (probe < 0 || fstat(probe, &a) < 0 || !S_ISREG(a.st_mode))
                return -1;
        _cleanup_close_ int fd = try_openat2(rootfd, path, oflags | O_NONBLOCK, flags);
        if (fd < 0 || fstat(fd, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
                return -1;
        return TAKE_FD(fd);
}

/* A regular file never blocks: O_NONBLOCK only kept the open safe. */
static int opened(int fd, int oflags, unsigned flags, int *ret_fd)
{
        if (flags & BENEATH_REGULAR)
                (void) fcntl(fd, F_SETFL, oflags & ~O_NONBLOCK);
        *ret_fd = fd;
        return 0;
}

int beneath_open(int rootfd, const char *path, int oflags, unsigned flags, int *ret_fd, berth_error **err)
{
        /* A read must not block, or run a device's open: its type is checked first. */
        if (flags & BENEATH_REGULAR)
                oflags |= O_NONBLOCK;
        int fd = flags & BENEATH_REGULAR ? openat2_regular(rootfd, path, oflags, flags)
                                         : try_openat2(rootfd, path, oflags, flags);
        /* Whatever failed (a missing folder to make, a symlink to name, a FIFO,
         * an old kernel), the walk does it or says why. */
        if (fd < 0 && walk_layers(&rootfd, 1, false, path, oflags, flags, &fd, err) < 0)
                return -1;
        return opened(fd, oflags, flags, ret_fd);
}

int beneath_open_layers(const int *layers, size_t n, const char *path, int oflags, unsigned flags, int *ret_fd,
                        berth_error **err)
{
        if (n == 0 || (flags & BENEATH_CREATE))
                return berth_err(err, EINVAL, "open `%s` in layers", path);
        if (flags & BENEATH_REGULAR)
                oflags |= O_NONBLOCK;
        int fd = -1;
        if (walk_layers(layers, n, true, path, oflags, flags, &fd, err) < 0)
                return -1;
        return opened(fd, oflags, flags, ret_fd);
}

static int read_opened(int fd, const char *path, size_t max, char **ret_buf, size_t *ret_len, berth_error **err)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return berth_err(err, errno, "stat `%s`", path);
        if ((uint64_t) st.st_size > max)
                return berth_error_make(err, BERTH_E_LIMIT, 0, "`%s` is larger than the limit of %zu bytes", path,
                                        max);
        return read_fd_bounded(fd, max, path, ret_buf, ret_len, err);
}

int beneath_read(int rootfd, const char *path, size_t max, char **ret_buf, size_t *ret_len, berth_error **err)
{
        _cleanup_close_ int fd = -1;
        if (beneath_open(rootfd, path, O_RDONLY, BENEATH_REGULAR, &fd, err) < 0)
                return -1;
        return read_opened(fd, path, max, ret_buf, ret_len, err);
}

int beneath_read_layers(const int *layers, size_t n, const char *path, size_t max, char **ret_buf, size_t *ret_len,
                        berth_error **err)
{
        _cleanup_close_ int fd = -1;
        if (beneath_open_layers(layers, n, path, O_RDONLY, BENEATH_REGULAR, &fd, err) < 0)
                return -1;
        return read_opened(fd, path, max, ret_buf, ret_len, err);
}

bool is_whiteout_stat(const struct stat *st)
{
        return S_ISCHR(st->st_mode) && st->st_rdev == 0;
}
