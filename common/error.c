#include "common.h"

#include <errno.h>

int berth_error_makev(berth_error **err, int kind, int errnum, const char *fmt, va_list ap)
{
        if (!err || *err)
                return -1;
        berth_error *e = xcalloc(1, sizeof(*e));
        e->kind = kind;
        e->errnum = errnum;
        if (vasprintf(&e->msg, fmt, ap) < 0)
                abort();
        *err = e;
        return -1;
}

int berth_error_make(berth_error **err, int kind, int errnum, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        berth_error_makev(err, kind, errnum, fmt, ap);
        va_end(ap);
        return -1;
}

int berth_error_wrap(berth_error **err, const char *fmt, ...)
{
        if (!err || !*err)
                return -1;
        _cleanup_free_ char *ctx = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&ctx, fmt, ap) < 0)
                abort();
        va_end(ap);
        char *msg = xasprintf("%s: %s", ctx, (*err)->msg);
        free((*err)->msg);
        (*err)->msg = msg;
        return -1;
}

int berth_error_move(berth_error **err, berth_error **from)
{
        if (err && !*err)
                *err = TAKE_PTR(*from);
        berth_error_freep(from);
        return -1;
}

char *berth_error_text(const berth_error *e)
{
        if (!e)
                return xstrdup("unknown error");
        if (e->errnum > 0)
                return xasprintf("%s: %s", e->msg, strerror(e->errnum));
        return xstrdup(e->msg);
}

void berth_error_free(berth_error *e)
{
        if (!e)
                return;
        free(e->msg);
        free(e);
}
