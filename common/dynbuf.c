#include "common.h"

#include <errno.h>

void dynbuf_init(dynbuf *b, size_t max, const char *what)
{
        *b = (dynbuf){ .max = max, .what = what ? what : "buffer" };
}

void dynbuf_free(dynbuf *b)
{
        free(b->buf);
        b->buf = NULL;
        b->len = b->cap = 0;
}

int dynbuf_add(dynbuf *b, const void *data, size_t len, berth_error **err)
{
        if (len > b->max || b->len > b->max - len)
                return berth_error_make(err, BERTH_E_LIMIT, 0, "%s is larger than the limit of %zu bytes",
                                        b->what, b->max);
        if (b->len + len + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 256;
                while (cap < b->len + len + 1)
                        cap *= 2;
                b->buf = xrealloc(b->buf, cap);
                b->cap = cap;
        }
        if (len)
                memcpy(b->buf + b->len, data, len);
        b->len += len;
        b->buf[b->len] = '\0';
        return 0;
}

int dynbuf_printf(dynbuf *b, berth_error **err, const char *fmt, ...)
{
        _cleanup_free_ char *s = NULL;
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0)
                abort();
        return dynbuf_add(b, s, (size_t) n, err);
}

char *dynbuf_take(dynbuf *b, size_t *ret_len)
{
        if (!b->buf)
                dynbuf_add(b, "", 0, NULL);
        if (ret_len)
                *ret_len = b->len;
        char *p = b->buf;
        b->buf = NULL;
        b->len = b->cap = 0;
        return p;
}
