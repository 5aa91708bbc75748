/* Warnings as data: libraries add them, cli/ shows them. */
#include "common.h"

static void warn_add(berth_warnings *w, const char *file, int line, int col, const char *key, const char *fmt,
                     va_list ap)
{
        if (!w)
                return;
        w->v = xrealloc(w->v, (w->n + 1) * sizeof(*w->v));
        berth_warning *x = &w->v[w->n++];
        *x = (berth_warning) { .file = file ? xstrdup(file) : NULL, .line = line, .col = col,
                               .key = key ? xstrdup(key) : NULL };
        if (vasprintf(&x->msg, fmt, ap) < 0)
                abort();
        if (w->added)
                w->added(x, w->userdata);
}

void berth_warn(berth_warnings *w, const char *key, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        warn_add(w, NULL, 0, 0, key, fmt, ap);
        va_end(ap);
}

void berth_warn_at(berth_warnings *w, const char *file, int line, int col, const char *key, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        warn_add(w, file, line, col, key, fmt, ap);
        va_end(ap);
}

void berth_warnings_move(berth_warnings *to, berth_warnings *from)
{
        for (size_t i = 0; i < from->n; i++) {
                berth_warning *x = &from->v[i];
                berth_warn_at(to, x->file, x->line, x->col, x->key, "%s", x->msg);
        }
        berth_warnings_clear(from);
}

void berth_warnings_clear(berth_warnings *w)
{
        for (size_t i = 0; i < w->n; i++) {
                free(w->v[i].key);
                free(w->v[i].file);
                free(w->v[i].msg);
        }
        free(w->v);
        w->v = NULL;
        w->n = 0;
}

char *berth_warning_text(const berth_warning *x)
{
        const char *key = x->key ? x->key : "", *sep = x->key ? ": " : "";
        if (x->file && x->line > 0)
                return xasprintf("%s:%d:%d: warning: %s%s%s", x->file, x->line, x->col, key, sep, x->msg);
        return xasprintf("berth: warning: %s%s%s", key, sep, x->msg);
}
