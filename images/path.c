/* Archive member names: normalised into paths relative to the layer. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>

#include "private.h"

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
