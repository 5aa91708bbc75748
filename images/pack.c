/* images_pack(): a reproducible .tar.zst of a folder. Entries in byte order,
 * owners 0:0 without names, every mtime SOURCE_DATE_EPOCH (0 if unset), pax
 * headers only where ustar cannot hold a value, names in UTF-8 whatever the
 * caller's locale. Layer whiteouts are written back as OCI `.wh.` entries;
 * device nodes are skipped and counted. */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "private.h"

#define MAX_DEPTH 256

struct inode_seen {
        dev_t dev;
        ino_t ino;
        char *path;
};

struct packer {
        struct archive *a;
        int out_fd;
        sha256_ctx sha;
        time_t epoch;
        struct inode_seen *seen;
        size_t n_seen;
        struct images_pack_result *res;
        berth_error **err;
};

static la_ssize_t on_write(struct archive *a, void *userdata, const void *buf, size_t len)
{
        struct packer *p = userdata;
        if (write_all(p->out_fd, buf, len) < 0) {
                sym_archive_set_error(a, errno, "write: %s", strerror(errno));
                return -1;
        }
        sha256_update(&p->sha, buf, len);
        return (la_ssize_t) len;
}

static int cmp_names(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static char **sorted_names(int fd, berth_error **err)
{
        _cleanup_closedir_ DIR *d = opendir_at(fd, ".", 0);
        if (!d) {
                berth_err(err, errno, "read folder");
                return NULL;
        }
        size_t n = 0, cap = 16;
        char **v = xcalloc(cap, sizeof(char *));
        struct dirent *de;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (n + 1 >= cap)
                        v = xrealloc(v, (cap *= 2) * sizeof(char *));
                v[n++] = xstrdup(de->d_name);
                v[n] = NULL;
        }
        qsort(v, n, sizeof(char *), cmp_names);
        return v;
}

static int write_header(struct packer *p, const char *path, const struct stat *st, mode_t type, const char *link,
                        bool hard)
{
        _cleanup_archive_entry_ struct archive_entry *e = sym_archive_entry_new();
        sym_archive_entry_set_pathname(e, path);
        sym_archive_entry_set_filetype(e, type);
        sym_archive_entry_set_perm(e, st ? st->st_mode & 07777 : 0644);
        sym_archive_entry_set_uid(e, 0);
        sym_archive_entry_set_gid(e, 0);
        sym_archive_entry_set_mtime(e, p->epoch, 0);
        if (type == AE_IFREG && st && !hard)
                sym_archive_entry_set_size(e, st->st_size);
        else
                sym_archive_entry_set_size(e, 0);
        if (link && hard)
                sym_archive_entry_set_hardlink(e, link);
        else if (link)
                sym_archive_entry_set_symlink(e, link);
        int rc = sym_archive_write_header(p->a, e);
        /* The one warning the pax writer gives: a name that is not UTF-8, which it
         * then writes as bytes with hdrcharset=BINARY. */
        if (rc == ARCHIVE_WARN)
                p->res->binary_names++;
        else if (rc != ARCHIVE_OK)
                return berth_err(p->err, 0, "`%s`: %s", path, sym_archive_error_string(p->a));
        return 0;
}

static int write_data(struct packer *p, int dirfd, const char *name, const char *path)
{
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return berth_err(p->err, errno, "open `%s`", path);
        static char buf[1 << 16];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return berth_err(p->err, errno, "read `%s`", path);
                if (n == 0)
                        return 0;
                if (sym_archive_write_data(p->a, buf, (size_t) n) < 0)
                        return berth_err(p->err, 0, "`%s`: %s", path, sym_archive_error_string(p->a));
        }
}

static const char *seen_before(struct packer *p, const struct stat *st, const char *path)
{
        for (size_t i = 0; i < p->n_seen; i++)
                if (p->seen[i].dev == st->st_dev && p->seen[i].ino == st->st_ino)
                        return p->seen[i].path;
        p->seen = xrealloc(p->seen, (p->n_seen + 1) * sizeof(*p->seen));
        p->seen[p->n_seen++] = (struct inode_seen) { st->st_dev, st->st_ino, xstrdup(path) };
        return NULL;
}

static int pack_dir(struct packer *p, int fd, const char *prefix, int depth);

static int pack_entry(struct packer *p, int dirfd, const char *name, const char *path, int depth)
{
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return berth_err(p->err, errno, "stat `%s`", path);
        if (is_whiteout_stat(&st)) {
                _cleanup_free_ char *wh = xasprintf("%.*s.wh.%s", (int) (strlen(path) - strlen(name)), path, name);
                return write_header(p, wh, NULL, AE_IFREG, NULL, false);
        }
        if (S_ISDIR(st.st_mode)) {
                _cleanup_free_ char *dpath = xasprintf("%s/", path);
                _cleanup_close_ int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0)
                        return berth_err(p->err, errno, "open `%s`", path);
                if (write_header(p, dpath, &st, AE_IFDIR, NULL, false) < 0)
                        return -1;
                return pack_dir(p, sub, dpath, depth + 1);
        }
        if (S_ISLNK(st.st_mode)) {
                char target[PATH_MAX];
                ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
                if (n < 0)
                        return berth_err(p->err, errno, "readlink `%s`", path);
                target[n] = '\0';
                return write_header(p, path, &st, AE_IFLNK, target, false);
        }
        if (S_ISFIFO(st.st_mode))
                return write_header(p, path, &st, AE_IFIFO, NULL, false);
        /* The sandbox brings its own /dev, and unpacking skips devices anyway. */
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
                p->res->devices_skipped++;
                return 0;
        }
        if (!S_ISREG(st.st_mode))
                return berth_err(p->err, 0, "`%s`: cannot pack a socket", path);
        const char *first = st.st_nlink > 1 ? seen_before(p, &st, path) : NULL;
        if (first)
                return write_header(p, path, &st, AE_IFREG, first, true);
        if (write_header(p, path, &st, AE_IFREG, NULL, false) < 0)
                return -1;
        return write_data(p, dirfd, name, path);
}

static int pack_dir(struct packer *p, int fd, const char *prefix, int depth)
{
        if (depth > MAX_DEPTH)
                return berth_error_make(p->err, BERTH_E_LIMIT, 0, "folders nested deeper than %d", MAX_DEPTH);
        char v;
        if (fgetxattr(fd, OVERLAY_OPAQUE_XATTR, &v, 1) == 1 && v == 'y') {
                _cleanup_free_ char *opq = xasprintf("%s.wh..wh..opq", prefix);
                if (write_header(p, opq, NULL, AE_IFREG, NULL, false) < 0)
                        return -1;
        }
        _cleanup_strv_ char **names = sorted_names(fd, p->err);
        if (!names)
                return -1;
        for (size_t i = 0; names[i]; i++) {
                _cleanup_free_ char *path = xasprintf("%s%s", prefix, names[i]);
                if (pack_entry(p, fd, names[i], path, depth) < 0)
                        return -1;
        }
        return 0;
}

static int source_date_epoch(time_t *ret, berth_error **err)
{
        const char *s = getenv("SOURCE_DATE_EPOCH");
        *ret = 0;
        if (!s || !*s)
                return 0;
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || *end || v < 0)
                return berth_error_make(err, BERTH_E_USAGE, 0, "SOURCE_DATE_EPOCH: expected seconds, got \"%s\"", s);
        *ret = (time_t) v;
        return 0;
}

static int pack_into(struct packer *p, int dirfd)
{
        sym_archive_write_set_format_pax_restricted(p->a);
        /* Needs the UTF-8 locale in force: libarchive converts from the current one. */
        if (sym_archive_write_set_options(p->a, "hdrcharset=UTF-8") != ARCHIVE_OK)
                return berth_err(p->err, 0, "%s", sym_archive_error_string(p->a));
        sym_archive_write_add_filter_zstd(p->a);
        sym_archive_write_set_bytes_in_last_block(p->a, 1);
        if (sym_archive_write_open2(p->a, p, NULL, on_write, NULL, NULL) != ARCHIVE_OK)
                return berth_err(p->err, 0, "%s", sym_archive_error_string(p->a));
        if (pack_dir(p, dirfd, "", 0) < 0)
                return -1;
        if (sym_archive_write_close(p->a) != ARCHIVE_OK)
                return berth_err(p->err, 0, "%s", sym_archive_error_string(p->a));
        return 0;
}

/* libarchive converts names from the locale's charset to the header's UTF-8.
 * berth may run in "C" or any locale: pin this thread to C.UTF-8 (built into
 * glibc) so a name's bytes go through unchanged when they are UTF-8, and as
 * bytes with hdrcharset=BINARY when they are not, wherever pack runs. */
static int pack_in_utf8(struct packer *p, int dirfd)
{
        locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t) 0);
        if (utf8 == (locale_t) 0)
                return berth_err(p->err, errno, "load the C.UTF-8 locale");
        locale_t old = uselocale(utf8);
        p->a = sym_archive_write_new();
        int rc = pack_into(p, dirfd);
        sym_archive_write_free(p->a);
        p->a = NULL;
        uselocale(old);
        freelocale(utf8);
        return rc;
}

/* The folder the archive goes into: made when missing, as `mkdir -p` would. */
static int make_out_folder(const char *out_path, berth_error **err)
{
        _cleanup_free_ char *dir = xstrdup(out_path);
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return 0;
        *slash = '\0';
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
                return 0;
        _cleanup_error_ berth_error *e = NULL;
        if (mkdir_p(dir, 0755, &e) < 0)
                return berth_err(err, e->errnum, "create the output folder `%s`", dir);
        return 0;
}

int images_pack(const char *dir, const char *out_path, struct images_pack_result *ret, berth_error **err)
{
        struct images_pack_result res = {};
        struct packer p = { .err = err, .out_fd = -1, .res = &res };
        if (dl_archive_load(err) < 0 || dl_crypto_load(err) < 0)
                return -1;
        if (source_date_epoch(&p.epoch, err) < 0)
                return -1;
        _cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return berth_err(err, errno, "open `%s`", dir);
        if (make_out_folder(out_path, err) < 0)
                return -1;
        _cleanup_free_ char *tmp = tmp_name_for(out_path);
        _cleanup_close_ int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (out < 0)
                return berth_err(err, errno, "create `%s`", out_path);
        p.out_fd = out;
        sha256_init(&p.sha);
        int rc = pack_in_utf8(&p, dirfd);
        for (size_t i = 0; i < p.n_seen; i++)
                free(p.seen[i].path);
        free(p.seen);
        if (rc == 0 && (fsync(out) < 0 || rename(tmp, out_path) < 0))
                rc = berth_err(err, errno, "write `%s`", out_path);
        if (rc < 0) {
                sha256_done(&p.sha);
                unlink(tmp);
                return berth_error_wrap(err, "pack `%s`", dir);
        }
        sha256_final_hex(&p.sha, res.sha256);
        *ret = res;
        return 0;
}
