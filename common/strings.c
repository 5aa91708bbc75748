#include "common.h"

void *xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        if (!p)
                abort();
        return p;
}

void *xcalloc(size_t n, size_t size)
{
        void *p = calloc(n ? n : 1, size ? size : 1);
        if (!p)
                abort();
        return p;
}

void *xrealloc(void *p, size_t n)
{
        p = realloc(p, n ? n : 1);
        if (!p)
                abort();
        return p;
}

char *xstrdup(const char *s)
{
        char *p = strdup(s);
        if (!p)
                abort();
        return p;
}

char *xstrndup(const char *s, size_t n)
{
        char *p = strndup(s, n);
        if (!p)
                abort();
        return p;
}

char *xasprintf(const char *fmt, ...)
{
        char *s;
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0)
                abort();
        return s;
}

const char *startswith(const char *s, const char *prefix)
{
        size_t n = strlen(prefix);
        return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

bool endswith(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

void strv_free(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

size_t strv_length(char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

size_t string_distance(const char *a, const char *b, size_t cap)
{
        size_t la = strlen(a), lb = strlen(b);
        if ((la > lb ? la - lb : lb - la) > cap)
                return cap + 1;
        if (la > 64 || lb > 64)
                return cap + 1;
        size_t row[65];
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t prev = row[0], best = i;
                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t cur = row[j];
                        size_t sub = prev + (a[i - 1] != b[j - 1]);
                        size_t v = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
                        row[j] = sub < v ? sub : v;
                        prev = cur;
                        if (row[j] < best)
                                best = row[j];
                }
                if (best > cap)
                        return cap + 1;
        }
        return row[lb] > cap ? cap + 1 : row[lb];
}

const char *closest_match(const char *word, const char *const *candidates)
{
        size_t len = strlen(word);
        size_t cap = len <= 3 ? 1 : len <= 6 ? 2 : 3;
        const char *best = NULL;
        size_t best_d = cap + 1;
        for (const char *const *c = candidates; *c; c++) {
                size_t d = string_distance(word, *c, cap);
                if (d < best_d) {
                        best_d = d;
                        best = *c;
                }
        }
        return best;
}

bool is_hex_string(const char *s, size_t len)
{
        if (strlen(s) != len)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

void hex_encode(const unsigned char *in, size_t len, char *out)
{
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < len; i++) {
                out[2 * i] = digits[in[i] >> 4];
                out[2 * i + 1] = digits[in[i] & 15];
        }
        out[2 * len] = '\0';
}

char **strv_append(char **v, char *s)
{
        size_t n = strv_length(v);
        v = xrealloc(v, (n + 2) * sizeof(char *));
        v[n] = s;
        v[n + 1] = NULL;
        return v;
}

uint64_t fnv1a64(uint64_t h, const void *data, size_t len)
{
        const unsigned char *p = data;
        for (size_t i = 0; i < len; i++)
                h = (h ^ p[i]) * 0x100000001b3ull;
        return h;
}
