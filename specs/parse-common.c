/* The schema walker's building blocks: positioned errors, known-key
 * mappings, scalars with ${VAR} expansion, and the simple field types. */
#include "parse-internal.h"

static int perr_atv(struct pctx *p, int kind, const char *file, int line, int col, const char *path, const char *fmt,
                    va_list ap) __attribute__((format(printf, 7, 0)));
static int perr_atv(struct pctx *p, int kind, const char *file, int line, int col, const char *path, const char *fmt,
                    va_list ap)
{
        _cleanup_free_ char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
                abort();
        return berth_error_make(p->err, kind, 0, "%s:%d:%d: %s%s%s", file ? file : p->file, line, col, path ? path : "",
                                path && *path ? ": " : "", msg);
}

int perr_at(struct pctx *p, int kind, const char *file, int line, int col, const char *path, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        perr_atv(p, kind, file, line, col, path, fmt, ap);
        va_end(ap);
        return -1;
}

int perr(struct pctx *p, const struct ynode *n, const char *path, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        perr_atv(p, BERTH_E_INVALID, n ? n->file : NULL, n ? n->line : 1, n ? n->col : 1, path, fmt, ap);
        va_end(ap);
        return -1;
}

int perr_expected(struct pctx *p, const struct ynode *n, const char *path, const char *what, const char *text)
{
        if (text) {
                _cleanup_free_ char *q = spec_quote(text, strlen(text), 80);
                return perr(p, n, path, "expected %s, got %s", what, q);
        }
        if (ynode_is_null(n))
                return perr(p, n, path, "expected %s, got nothing", what);
        if (n->kind == YNODE_MAP)
                return perr(p, n, path, "expected %s, got a mapping", what);
        if (n->kind == YNODE_SEQ)
                return perr(p, n, path, "expected %s, got a list", what);
        _cleanup_free_ char *q = spec_quote(n->text, n->len, 80);
        return perr(p, n, path, "expected %s, got %s", what, q);
}

char *path_key(const char *path, const struct ynode *key)
{
        _cleanup_free_ char *bare = spec_path_segment(key->text, key->len);
        return *path ? xasprintf("%s.%s", path, bare) : TAKE_PTR(bare);
}

char *path_index(const char *path, size_t i)
{
        return xasprintf("%s[%zu]", path, i);
}

static const struct field *find_field(const struct field *fields, const char *key, size_t len, size_t *ret_i)
{
        for (size_t i = 0; fields[i].key; i++)
                if (strlen(fields[i].key) == len && memcmp(fields[i].key, key, len) == 0) {
                        *ret_i = i;
                        return &fields[i];
                }
        return NULL;
}

static int unknown_key(struct pctx *p, const struct ynode *key, const char *path, const struct field *fields)
{
        const char *names[MAX_FIELDS + 1];
        size_t n = 0;
        for (; fields[n].key; n++)
                names[n] = fields[n].key;
        names[n] = NULL;
        _cleanup_free_ char *kpath = path_key(path, key);
        const char *hint = strlen(key->text) == key->len ? closest_match(key->text, names) : NULL;
        if (hint)
                return perr(p, key, kpath, "unknown key; did you mean \"%s\"?", hint);
        _cleanup_dynbuf_ dynbuf list;
        dynbuf_init(&list, SIZE_MAX, NULL);
        for (size_t i = 0; i < n; i++)
                dynbuf_printf(&list, NULL, "%s%s", i ? ", " : "", names[i]);
        return perr(p, key, kpath, "unknown key; expected one of %s", list.buf);
}

int walk_map(struct pctx *p, const struct ynode *n, const char *path, const struct field *fields, void *obj,
             const struct ynode **ret_seen)
{
        const struct ynode *seen[MAX_FIELDS] = {};
        if (n->kind != YNODE_MAP)
                return perr_expected(p, n, path, "a mapping", NULL);
        for (size_t i = 0; i < n->n; i++) {
                const struct ypair *kv = &n->pairs[i];
                size_t fi;
                const struct field *f = find_field(fields, kv->key->text, kv->key->len, &fi);
                if (!f)
                        return unknown_key(p, kv->key, path, fields);
                _cleanup_free_ char *kpath = path_key(path, kv->key);
                if (f->fn(p, kv->value, kpath, obj, f) < 0)
                        return -1;
                seen[fi] = kv->value;
        }
        for (size_t i = 0; fields[i].key; i++)
                if (fields[i].required && !seen[i]) {
                        _cleanup_free_ char *kpath = *path ? xasprintf("%s.%s", path, fields[i].key)
                                                           : xstrdup(fields[i].key);
                        return perr(p, n, kpath, "required key is missing");
                }
        if (ret_seen)
                memcpy(ret_seen, seen, sizeof(seen));
        return 0;
}

int check_seq(struct pctx *p, const struct ynode *n, const char *path, const char *what, size_t max)
{
        if (n->kind != YNODE_SEQ)
                return perr_expected(p, n, path, what, NULL);
        if (n->n > max)
                return perr_at(p, BERTH_E_LIMIT, n->file, n->line, n->col, path, "more than the limit of %zu entries", max);
        return 0;
}

int scalar_text(struct pctx *p, const struct ynode *n, const char *path, const char *what, char **ret)
{
        if (n->kind != YNODE_SCALAR || ynode_is_null(n))
                return perr_expected(p, n, path, what, NULL);
        _cleanup_free_ char *problem = NULL;
        char *text;
        size_t len;
        int r = spec_expand(n->text, n->len, p->expand_left, &text, &len, &problem);
        if (r == -2)
                return perr_at(p, BERTH_E_LIMIT, n->file, n->line, n->col, path,
                               "values after ${VAR} expansion are larger than the limit of %zu bytes in total",
                               (size_t) SPEC_MAX_EXPANDED);
        if (r < 0)
                return perr(p, n, path, "%s", problem);
        p->expand_left -= len;
        if (strlen(text) != len) {
                free(text);
                return perr(p, n, path, "expected %s, got text with a NUL byte", what);
        }
        *ret = text;
        return 0;
}

int h_string(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        char *t;
        if (scalar_text(p, v, path, "a string", &t) < 0)
                return -1;
        free(*AT(obj, f, char *));
        *AT(obj, f, char *) = t;
        return 0;
}

int h_name(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "a name matching [a-z0-9][a-z0-9-]{0,62}";
        _cleanup_free_ char *t = NULL;
        if (scalar_text(p, v, path, what, &t) < 0)
                return -1;
        if (!spec_valid_name(t))
                return perr_expected(p, v, path, what, t);
        free(*AT(obj, f, char *));
        *AT(obj, f, char *) = TAKE_PTR(t);
        return 0;
}

int h_target(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "an absolute path without ..";
        _cleanup_free_ char *t = NULL;
        if (scalar_text(p, v, path, what, &t) < 0)
                return -1;
        if (!spec_valid_target(t))
                return perr_expected(p, v, path, what, t);
        free(*AT(obj, f, char *));
        *AT(obj, f, char *) = spec_path_join("/", t);
        return 0;
}

int h_user(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "a user like 1000, 1000:1000 or postgres";
        _cleanup_free_ char *t = NULL;
        if (scalar_text(p, v, path, what, &t) < 0)
                return -1;
        if (!spec_valid_user(t))
                return perr_expected(p, v, path, what, t);
        free(*AT(obj, f, char *));
        *AT(obj, f, char *) = TAKE_PTR(t);
        return 0;
}

int h_bool(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "true or false";
        _cleanup_free_ char *t = NULL;
        if (scalar_text(p, v, path, what, &t) < 0)
                return -1;
        if (streq(t, "true") || streq(t, "True") || streq(t, "TRUE"))
                *AT(obj, f, bool) = true;
        else if (streq(t, "false") || streq(t, "False") || streq(t, "FALSE"))
                *AT(obj, f, bool) = false;
        else
                return perr_expected(p, v, path, what, t);
        return 0;
}

int h_size(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "a size like 512MiB (units B K KiB M MiB G GiB)";
        _cleanup_free_ char *t = NULL;
        uint64_t bytes;
        if (scalar_text(p, v, path, what, &t) < 0)
                return -1;
        if (spec_parse_size(t, &bytes) < 0 || bytes == 0)
                return perr_expected(p, v, path, what, t);
        *AT(obj, f, uint64_t) = bytes;
        return 0;
}

int h_duration(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "a duration like 10s (units ms s m h)";
        _cleanup_free_ char *t = NULL;
        uint64_t ms;
        if (scalar_text(p, v, path, what, &t) < 0)
                return -1;
        if (spec_parse_duration(t, &ms) < 0)
                return perr_expected(p, v, path, what, t);
        *AT(obj, f, uint64_t) = ms;
        return 0;
}

int h_argv(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "a command as a list of strings like [python3, -m, worker]";
        if (check_seq(p, v, path, what, MAX_ARGV) < 0)
                return -1;
        if (v->n == 0)
                return perr(p, v, path, "expected %s, got an empty list", what);
        _cleanup_strv_ char **argv = xcalloc(v->n + 1, sizeof(char *));
        for (size_t i = 0; i < v->n; i++) {
                _cleanup_free_ char *ipath = path_index(path, i);
                if (scalar_text(p, v->items[i], ipath, "a string", &argv[i]) < 0)
                        return -1;
        }
        strv_free(*AT(obj, f, char **));
        *AT(obj, f, char **) = TAKE_PTR(argv);
        return 0;
}
