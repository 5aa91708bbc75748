/* The command's user: numbers, or names from the image's own files. */
#include <errno.h>
#include <fcntl.h>

#include "sandbox-private.h"

#define MAX_ID_FILE (1u << 20)

static int parse_id(const char *s, size_t len, unsigned *ret)
{
        if (len == 0 || len > 10 || strspn(s, "0123456789") < len)
                return -1;
        unsigned long v = strtoul(s, NULL, 10);
        if (v > 0xfffffffeul)
                return -1;
        *ret = (unsigned) v;
        return 0;
}

/* The root's folders, topmost first, as overlay stacks them. */
static int open_layers(const struct sandbox_root *root, int **ret_fds, size_t *ret_n, berth_error **err)
{
        size_t n = root->dir ? 1 : (root->upperdir ? 1 : 0) + root->n_lowerdirs;
        _cleanup_free_ int *fds = xcalloc(n ? n : 1, sizeof(int));
        for (size_t i = 0; i < n; i++) {
                const char *dir = root->dir                    ? root->dir
                                  : root->upperdir && i == 0   ? root->upperdir
                                                               : root->lowerdirs[n - 1 - i];
                fds[i] = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (fds[i] < 0) {
                        int e = errno;
                        while (i-- > 0)
                                close(fds[i]);
                        return berth_err(err, e, "open `%s`", dir);
                }
        }
        *ret_fds = TAKE_PTR(fds);
        *ret_n = n;
        return 0;
}

/* /etc/<file> as the sandbox will see it, before berth's own mounts: inside
 * the root, through the layers' whiteouts, never blocking on what is there. */
static int read_image_file(const struct sandbox_root *root, const char *file, char **ret, berth_error **err)
{
        _cleanup_free_ int *fds = NULL;
        size_t n = 0;
        if (open_layers(root, &fds, &n, err) < 0)
                return -1;
        _cleanup_free_ char *path = xasprintf("/etc/%s", file);
        int r = root->dir ? beneath_read(fds[0], path, MAX_ID_FILE, ret, NULL, err)
                          : beneath_read_layers(fds, n, path, MAX_ID_FILE, ret, NULL, err);
        for (size_t i = 0; i < n; i++)
                close(fds[i]);
        return r;
}

/* The third (id) and fourth (gid) fields of the line for name. */
static int lookup(const char *text, const char *name, unsigned *ret_id, unsigned *ret_gid)
{
        size_t nl = strlen(name);
        for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                if (strncmp(line, name, nl) || line[nl] != ':')
                        continue;
                const char *f2 = strchr(line + nl + 1, ':');
                const char *f3 = f2 ? strchr(f2 + 1, ':') : NULL;
                if (!f3 || parse_id(f2 + 1, (size_t) (f3 - f2 - 1), ret_id) < 0)
                        return -1;
                if (ret_gid) {
                        const char *f4 = strchr(f3 + 1, ':');
                        if (!f4 || parse_id(f3 + 1, (size_t) (f4 - f3 - 1), ret_gid) < 0)
                                return -1;
                }
                return 0;
        }
        return -1;
}

static int resolve_part(const struct sandbox_root *root, const char *file, const char *s, size_t len,
                        unsigned *ret, unsigned *ret_gid, berth_error **err)
{
        if (parse_id(s, len, ret) == 0)
                return 1; /* a number: no gid of its own */
        _cleanup_free_ char *name = xstrndup(s, len), *text = NULL;
        _cleanup_error_ berth_error *e = NULL;
        const char *what = streq(file, "passwd") ? "user" : "group";
        if (read_image_file(root, file, &text, &e) < 0 && e->kind != BERTH_E_NOTFOUND) {
                berth_error_make(err, e->kind, e->errnum, "%s", e->msg);
                return berth_error_wrap(err, "%s `%s`", what, name);
        }
        if (!text || lookup(text, name, ret, ret_gid) < 0)
                return berth_error_make(err, BERTH_E_NOTFOUND, 0, "%s `%s`: not in the image's /etc/%s", what, name,
                                        file);
        return 0;
}

int user_resolve(const struct sandbox_root *root, const char *user, uid_t *ret_uid, gid_t *ret_gid,
                 berth_error **err)
{
        if (!user) {
                *ret_uid = 0;
                *ret_gid = 0;
                return 0;
        }
        const char *colon = strchr(user, ':');
        size_t ulen = colon ? (size_t) (colon - user) : strlen(user);
        unsigned u, g = 0, pg = 0;
        int r = resolve_part(root, "passwd", user, ulen, &u, &pg, err);
        if (r < 0)
                return -1;
        if (colon) {
                if (resolve_part(root, "group", colon + 1, strlen(colon + 1), &g, NULL, err) < 0)
                        return -1;
        } else
                g = r == 1 ? u : pg; /* a bare uid: the same number as gid */
        *ret_uid = u;
        *ret_gid = g;
        return 0;
}
