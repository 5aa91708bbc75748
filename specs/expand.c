/* ${VAR}, ${VAR:-default} and $$ in scalar values. A lone `$` is kept as
 * written, so values like "price: $5" need no escaping. */
#include "spec-internal.h"

static bool is_var_start(char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_var_char(char c)
{
        return is_var_start(c) || (c >= '0' && c <= '9');
}

/* Parse "${NAME}" or "${NAME:-default}" at in[0]; returns bytes consumed or 0. */
static size_t parse_ref(const char *in, size_t len, const char **ret_name, size_t *ret_name_len,
                        const char **ret_def, size_t *ret_def_len)
{
        size_t i = 2;
        if (i >= len || !is_var_start(in[i]))
                return 0;
        while (i < len && is_var_char(in[i]))
                i++;
        *ret_name = in + 2;
        *ret_name_len = i - 2;
        *ret_def = NULL;
        *ret_def_len = 0;
        if (i + 1 < len && in[i] == ':' && in[i + 1] == '-') {
                size_t start = i + 2;
                const char *end = memchr(in + start, '}', len - start);
                if (!end)
                        return 0;
                *ret_def = in + start;
                *ret_def_len = (size_t) (end - (in + start));
                return (size_t) (end - in) + 1;
        }
        return i < len && in[i] == '}' ? i + 1 : 0;
}

static int expand_ref(dynbuf *out, const char *in, size_t len, size_t *ret_used, char **ret_problem)
{
        const char *name, *def;
        size_t name_len, def_len;
        size_t used = parse_ref(in, len, &name, &name_len, &def, &def_len);
        if (!used) {
                _cleanup_free_ char *q = spec_quote(in, len, 32);
                *ret_problem = xasprintf("expected ${NAME} or ${NAME:-default} after `$`, got %s", q);
                return -1;
        }
        _cleanup_free_ char *var = xstrndup(name, name_len);
        const char *val = getenv(var);
        if (def && (!val || !*val)) {
                val = NULL;
                if (dynbuf_add(out, def, def_len, NULL) < 0)
                        goto too_big;
        } else if (!val) {
                *ret_problem = xasprintf("environment variable %s is not set (write ${%s:-} to allow it unset)",
                                         var, var);
                return -1;
        }
        if (val && dynbuf_add(out, val, strlen(val), NULL) < 0)
                goto too_big;
        *ret_used = used;
        return 0;
too_big:
        return -2;
}

int spec_expand(const char *in, size_t len, size_t max, char **ret, size_t *ret_len, char **ret_problem)
{
        _cleanup_dynbuf_ dynbuf out;
        dynbuf_init(&out, max, NULL);
        size_t i = 0;
        while (i < len) {
                const char *d = memchr(in + i, '$', len - i);
                size_t plain = d ? (size_t) (d - (in + i)) : len - i;
                if (dynbuf_add(&out, in + i, plain, NULL) < 0)
                        goto too_big;
                i += plain;
                if (i >= len)
                        break;
                if (i + 1 < len && in[i + 1] == '$') {
                        if (dynbuf_add(&out, "$", 1, NULL) < 0)
                                goto too_big;
                        i += 2;
                } else if (i + 1 < len && in[i + 1] == '{') {
                        size_t used;
                        int r = expand_ref(&out, in + i, len - i, &used, ret_problem);
                        if (r < 0)
                                return r;
                        i += used;
                } else {
                        if (dynbuf_add(&out, "$", 1, NULL) < 0)
                                goto too_big;
                        i++;
                }
        }
        *ret = dynbuf_take(&out, ret_len);
        return 0;
too_big:
        return -2;
}
