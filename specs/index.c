/* A spec repository's index.json: names -> versions -> digest, yanked flag,
 * publish time, plus a sequence number that grows with every change (the
 * rollback check). Parsed strictly and within bounds; written with sorted
 * keys and one entry per line, so a repository's history diffs well. */
#include <inttypes.h>
#include <ctype.h>

#include "spec-internal.h"


static int index_err(berth_error **err, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int index_err(berth_error **err, const char *what, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                abort();
        va_end(ap);
        return berth_error_make(err, BERTH_E_INVALID, 0, "%s: malformed index: %s", what, msg);
}

void spec_index_free(struct spec_index *idx)
{
        if (!idx)
                return;
        free(idx->entries);
        free(idx->text);
        strv_free(idx->owned);
        free(idx);
}

static char *own(struct spec_index *idx, char *str)
{
        idx->owned = strv_append(idx->owned, str);
        return str;
}

static int cmp_entry(const void *x, const void *y)
{
        const struct spec_index_entry *a = x, *b = y;
        int c = strcmp(a->name, b->name);
        return c ? c : spec_version_cmp(&a->v, &b->v);
}

/* ---- a scanner for index.json -------------------------------------------
 * A whole JSON parser (jansson) took most of the time of resolving a chain
 * against a large index: it builds a tree of every value. This reads the
 * JSON text once, strictly (RFC 8259 syntax, UTF-8, no duplicate keys where
 * berth reads them), straight into the entries. */

#define JSON_MAX_DEPTH 64

struct scan {
        const char *p, *end, *start; /* in idx->text, a copy the scanner may write NULs in */
        const char *what;
        berth_error **err;
        struct spec_index *idx;
};

static int scan_err(struct scan *s, const char *problem)
{
        if (*s->err)
                return -1;
        size_t line = 1;
        for (const char *q = s->start; q < s->p && q < s->end; q++)
                line += *q == '\n';
        return index_err(s->err, s->what, "line %zu: %s", line, problem);
}

/* The loops over the text keep the position in a local: through s, every
 * byte read might alias s->p and reload it. */
static void skip_ws(struct scan *s)
{
        const char *p = s->p, *end = s->end;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
                p++;
        s->p = p;
}

static int want(struct scan *s, char c)
{
        skip_ws(s);
        if (s->p >= s->end || *s->p != c) {
                char msg[40];
                snprintf(msg, sizeof(msg), "expected '%c'", c);
                return scan_err(s, msg);
        }
        s->p++;
        return 0;
}

static bool peek(struct scan *s, char c)
{
        skip_ws(s);
        return s->p < s->end && *s->p == c;
}

/* Well-formed UTF-8 (no overlong forms, surrogates or values past U+10FFFF). */
static bool utf8_ok(const unsigned char *p, size_t n)
{
        for (size_t i = 0; i < n;) {
                unsigned c = p[i];
                size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
                if (len == 0 || i + len > n)
                        return false;
                unsigned v = len == 1 ? c : c & (0x7f >> len);
                for (size_t k = 1; k < len; k++) {
                        if ((p[i + k] & 0xc0) != 0x80)
                                return false;
                        v = (v << 6) | (p[i + k] & 0x3f);
                }
                static const unsigned min[] = { 0, 0, 0x80, 0x800, 0x10000 };
                if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v < 0xe000))
                        return false;
                i += len;
        }
        return true;
}

static int hex4(struct scan *s, unsigned *ret)
{
        *ret = 0;
        for (int i = 0; i < 4; i++, s->p++) {
                if (s->p >= s->end || !isxdigit((unsigned char) *s->p))
                        return scan_err(s, "bad \\u escape");
                char c = *s->p;
                *ret = *ret * 16 + (unsigned) (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
        }
        return 0;
}

static void put_utf8(dynbuf *b, unsigned c)
{
        char u[4];
        size_t n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
        if (n == 1)
                u[0] = (char) c;
        for (size_t i = n; n > 1 && i-- > 1; c >>= 6)
                u[i] = (char) (0x80 | (c & 0x3f));
        if (n > 1)
                u[0] = (char) ((n == 2 ? 0xc0 : n == 3 ? 0xe0 : 0xf0) | c);
        dynbuf_add(b, u, n, NULL);
}

static int escape(struct scan *s, dynbuf *b)
{
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *at = s->p < s->end ? strchr(from, *s->p) : NULL;
        if (at && *at) {
                s->p++;
                dynbuf_add(b, &to[at - from], 1, NULL);
                return 0;
        }
        if (s->p >= s->end || *s->p != 'u')
                return scan_err(s, "bad escape in a string");
        s->p++;
        unsigned c, lo;
        if (hex4(s, &c) < 0)
                return -1;
        if (c >= 0xdc00 && c < 0xe000)
                return scan_err(s, "lone low surrogate in a string");
        if (c >= 0xd800 && c < 0xdc00) {
                if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
                        return scan_err(s, "lone high surrogate in a string");
                s->p += 2;
                if (hex4(s, &lo) < 0)
                        return -1;
                if (lo < 0xdc00 || lo >= 0xe000)
                        return scan_err(s, "bad surrogate pair in a string");
                c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
        }
        if (c == 0)
                return scan_err(s, "\\u0000 in a string");
        put_utf8(b, c);
        return 0;
}

/* A string as read: in place in the text when it has no escapes, else
 * decoded into owned. */
struct str {
        const char *p;
        size_t n;
        char *owned;
};

static void str_done(struct str *v)
{
        free(v->owned);
        *v = (struct str){};
}

static bool str_is(const struct str *v, const char *w)
{
        return v->n == strlen(w) && memcmp(v->p, w, v->n) == 0;
}

/* The string, NUL-terminated, for the index to keep: a plain one ends in
 * place, on its closing quote, which the scanner has passed. */
static char *keep(struct scan *s, struct str *v)
{
        if (v->owned)
                return own(s->idx, TAKE_PTR(v->owned));
        char *p = (char *) v->p;
        p[v->n] = '\0';
        return p;
}

/* The plain bytes up to the next quote, backslash or control character. */
static int scan_run(struct scan *s)
{
        const char *run = s->p, *p = s->p, *end = s->end;
        unsigned char high = 0;
        while (p < end && *p != '"' && *p != '\\' && (unsigned char) *p >= 0x20)
                high |= (unsigned char) *p++;
        s->p = p;
        bool ascii = high < 0x80;
        if (!ascii && !utf8_ok((const unsigned char *) run, (size_t) (s->p - run)))
                return scan_err(s, "a string is not valid UTF-8");
        if (s->p >= s->end)
                return scan_err(s, "unterminated string");
        if (*s->p != '"' && *s->p != '\\')
                return scan_err(s, "control character in a string");
        return 0;
}

static int scan_string(struct scan *s, struct str *ret)
{
        *ret = (struct str){};
        if (want(s, '"') < 0)
                return -1;
        const char *from = s->p;
        if (scan_run(s) < 0)
                return -1;
        if (*s->p == '"') {
                *ret = (struct str){ from, (size_t) (s->p++ - from), NULL };
                return 0;
        }
        _cleanup_dynbuf_ dynbuf b;
        dynbuf_init(&b, SIZE_MAX, NULL);
        dynbuf_add(&b, from, (size_t) (s->p - from), NULL);
        while (*s->p == '\\') {
                s->p++;
                if (escape(s, &b) < 0)
                        return -1;
                const char *run = s->p;
                if (scan_run(s) < 0)
                        return -1;
                dynbuf_add(&b, run, (size_t) (s->p - run), NULL);
        }
        s->p++;
        ret->n = b.len;
        ret->p = ret->owned = dynbuf_take(&b, NULL);
        return 0;
}

static bool word(struct scan *s, const char *w)
{
        size_t n = strlen(w);
        if ((size_t) (s->end - s->p) < n || memcmp(s->p, w, n) != 0)
                return false;
        s->p += n;
        return true;
}

/* A number as JSON writes it; *ret gets it when it is a whole number >= 0
 * of at most 19 digits, else *ret_whole is false. */
static int scan_number(struct scan *s, uint64_t *ret, bool *ret_whole)
{
        bool neg = s->p < s->end && *s->p == '-';
        s->p += neg;
        const char *digits = s->p;
        while (s->p < s->end && isdigit((unsigned char) *s->p))
                s->p++;
        size_t nd = (size_t) (s->p - digits);
        if (nd == 0 || (nd > 1 && *digits == '0'))
                return scan_err(s, "bad number");
        bool whole = !neg && nd <= 19;
        if (s->p < s->end && *s->p == '.') {
                whole = false;
                const char *f = ++s->p;
                while (s->p < s->end && isdigit((unsigned char) *s->p))
                        s->p++;
                if (s->p == f)
                        return scan_err(s, "bad number");
        }
        if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
                whole = false;
                s->p++;
                if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
                        s->p++;
                const char *e = s->p;
                while (s->p < s->end && isdigit((unsigned char) *s->p))
                        s->p++;
                if (s->p == e)
                        return scan_err(s, "bad number");
        }
        uint64_t n = 0;
        for (const char *d = digits; whole && d < digits + nd; d++)
                n = n * 10 + (uint64_t) (*d - '0'); /* 19 digits fit */
        *ret_whole = whole;
        *ret = whole ? n : 0;
        return 0;
}

enum jkind { J_OTHER, J_WHOLE, J_TRUE, J_FALSE };

static int skip_value(struct scan *s, int depth);

/* Iterate an object: 1 with the next key in *key, 0 at its end. */
static int next_key(struct scan *s, bool *first, struct str *key)
{
        str_done(key);
        if (*first && want(s, '{') < 0)
                return -1;
        if (peek(s, '}')) {
                s->p++;
                return 0;
        }
        if (!*first && want(s, ',') < 0)
                return -1;
        *first = false;
        if (scan_string(s, key) < 0 || want(s, ':') < 0)
                return -1;
        return 1;
}

static int skip_container(struct scan *s, int depth, char close)
{
        bool first = true;
        s->p++;
        for (;;) {
                if (peek(s, close)) {
                        s->p++;
                        return 0;
                }
                if (!first && want(s, ',') < 0)
                        return -1;
                first = false;
                struct str key;
                if (close == '}' && (scan_string(s, &key) < 0 || (str_done(&key), want(s, ':')) < 0))
                        return -1;
                if (skip_value(s, depth + 1) < 0)
                        return -1;
        }
}

/* Any value; what kind it was, for the few places that look at scalars. */
static int scan_value(struct scan *s, int depth, enum jkind *ret_kind, uint64_t *ret_n)
{
        bool whole = false;
        *ret_kind = J_OTHER;
        skip_ws(s);
        if (depth > JSON_MAX_DEPTH)
                return scan_err(s, "nested too deeply");
        if (s->p >= s->end)
                return scan_err(s, "unexpected end of input");
        switch (*s->p) {
        case '{':
        case '[':
                return skip_container(s, depth, *s->p == '{' ? '}' : ']');
        case '"': {
                struct str v;
                int r = scan_string(s, &v);
                str_done(&v);
                return r;
        }
        case 't':
                *ret_kind = J_TRUE;
                return word(s, "true") ? 0 : scan_err(s, "bad value");
        case 'f':
                *ret_kind = J_FALSE;
                return word(s, "false") ? 0 : scan_err(s, "bad value");
        case 'n':
                return word(s, "null") ? 0 : scan_err(s, "bad value");
        default:
                if (scan_number(s, ret_n, &whole) < 0)
                        return -1;
                *ret_kind = whole ? J_WHOLE : J_OTHER;
                return 0;
        }
}

static int skip_value(struct scan *s, int depth)
{
        enum jkind k;
        uint64_t n;
        return scan_value(s, depth, &k, &n);
}

static int duplicate(struct scan *s, const struct str *key)
{
        _cleanup_free_ char *m = xasprintf("duplicate key \"%.*s\"", (int) (key->n > 80 ? 80 : key->n), key->p);
        return scan_err(s, m);
}

/* The index of key in names, or -1; a second sighting (bit in *seen) is an error. */
static int known_key(struct scan *s, const struct str *key, const char *const *names, unsigned *seen, int *ret)
{
        *ret = -1;
        for (int i = 0; names[i]; i++)
                if (str_is(key, names[i])) {
                        if (*seen & (1u << i))
                                return duplicate(s, key);
                        *seen |= 1u << i;
                        *ret = i;
                }
        return 0;
}

struct raw_entry {
        struct str sha256, published;
        bool has_sha256, has_published, bad_yanked, yanked;
};

enum { F_SHA256, F_PUBLISHED, F_YANKED };

static int scan_entry_field(struct scan *s, struct raw_entry *e, int field)
{
        struct str *str = field == F_SHA256 ? &e->sha256 : field == F_PUBLISHED ? &e->published : NULL;
        if (str && peek(s, '"')) {
                *(field == F_SHA256 ? &e->has_sha256 : &e->has_published) = true;
                return scan_string(s, str);
        }
        enum jkind k;
        uint64_t n;
        if (scan_value(s, 0, &k, &n) < 0)
                return -1;
        if (field == F_YANKED) {
                e->yanked = k == J_TRUE;
                e->bad_yanked = k != J_TRUE && k != J_FALSE;
        }
        return 0;
}

static int scan_entry_fields(struct scan *s, struct raw_entry *e)
{
        static const char *const names[] = { "sha256", "published", "yanked", NULL };
        bool first = true;
        unsigned seen = 0;
        struct str key = {};
        int r, field;
        while ((r = next_key(s, &first, &key)) > 0)
                if (known_key(s, &key, names, &seen, &field) < 0 || scan_entry_field(s, e, field) < 0) {
                        r = -1;
                        break;
                }
        str_done(&key);
        return r;
}

static bool is_time(const struct str *v)
{
        for (size_t i = 0; i < v->n; i++)
                if (!((v->p[i] >= '0' && v->p[i] <= '9') || v->p[i] == '-' || v->p[i] == ':' || v->p[i] == 'T' ||
                      v->p[i] == 'Z'))
                        return false;
        return v->n <= 32;
}

static bool is_digest(const struct str *v)
{
        for (size_t i = 0; i < v->n; i++)
                if (!((v->p[i] >= '0' && v->p[i] <= '9') || (v->p[i] >= 'a' && v->p[i] <= 'f')))
                        return false;
        return v->n == 64;
}

static int make_entry(struct scan *s, const char *name, struct str *version, struct raw_entry *raw,
                      struct spec_index_entry *ret)
{
        size_t n = version->n;
        char *v = keep(s, version);
        struct spec_index_entry e = {};
        if (spec_version_parse(v, &e.v) < 0 || strlen(v) != n)
                return index_err(s->err, s->what, "%s: \"%.80s\" is not a semantic version", name, v);
        if (!raw->has_sha256 || !is_digest(&raw->sha256))
                return index_err(s->err, s->what, "%s@%s: sha256 must be 64 lowercase hex digits", name, v);
        if (raw->bad_yanked)
                return index_err(s->err, s->what, "%s@%s: yanked must be true or false", name, v);
        if (!raw->has_published || !is_time(&raw->published))
                return index_err(s->err, s->what, "%s@%s: published must be a time like 2026-01-31T12:00:00Z", name,
                                 v);
        memcpy(e.sha256, raw->sha256.p, 64);
        e.sha256[64] = '\0';
        e.yanked = raw->yanked;
        e.name = (char *) name;
        e.version = v;
        e.published = keep(s, &raw->published);
        *ret = e;
        return 0;
}

static void add_entry(struct spec_index *idx, size_t *cap, struct spec_index_entry e)
{
        if (idx->n == *cap) {
                *cap = *cap ? *cap * 2 : 64;
                idx->entries = xrealloc(idx->entries, *cap * sizeof(*idx->entries));
        }
        idx->entries[idx->n++] = e;
}

static int scan_version(struct scan *s, const char *name, struct str *version, struct spec_index *idx, size_t *cap)
{
        if (!peek(s, '{'))
                return index_err(s->err, s->what, "%s@%.*s: expected an object", name,
                                 (int) (version->n > 80 ? 80 : version->n), version->p);
        struct raw_entry raw = {};
        struct spec_index_entry e;
        int r = scan_entry_fields(s, &raw);
        if (r == 0)
                r = make_entry(s, name, version, &raw, &e);
        str_done(&raw.sha256);
        str_done(&raw.published);
        if (r == 0)
                add_entry(idx, cap, e);
        return r;
}

static int scan_versions(struct scan *s, const char *name, struct spec_index *idx, size_t *cap)
{
        if (!peek(s, '{'))
                return index_err(s->err, s->what, "%s: expected an object of versions", name);
        bool first = true;
        struct str version = {};
        int r;
        while ((r = next_key(s, &first, &version)) > 0)
                if (scan_version(s, name, &version, idx, cap) < 0) {
                        r = -1;
                        break;
                }
        str_done(&version);
        return r;
}

static int scan_name(struct scan *s, struct str *key, char ***seen, struct spec_index *idx, size_t *cap)
{
        size_t n = key->n;
        char *name = keep(s, key);
        if (!spec_valid_name(name) || strlen(name) != n)
                return index_err(s->err, s->what, "\"%.80s\" is not a spec name", name);
        for (char **k = *seen; k && *k; k++)
                if (streq(*k, name))
                        return duplicate(s, key);
        *seen = strv_append(*seen, xstrdup(name));
        return scan_versions(s, name, idx, cap);
}

static int scan_specs(struct scan *s, struct spec_index *idx)
{
        if (!peek(s, '{'))
                return index_err(s->err, s->what, "\"specs\" must be an object");
        bool first = true;
        size_t cap = 0;
        _cleanup_strv_ char **seen = NULL;
        struct str key = {};
        int r;
        while ((r = next_key(s, &first, &key)) > 0)
                if (scan_name(s, &key, &seen, idx, &cap) < 0) {
                        r = -1;
                        break;
                }
        str_done(&key);
        return r;
}

enum { T_FORMAT, T_SEQUENCE, T_SPECS };

/* One top-level key's value: berth_index, sequence, specs, or another, skipped. */
static int scan_top(struct scan *s, int field, struct spec_index *idx, bool *format_ok, bool *seq_ok)
{
        if (field == T_SPECS)
                return scan_specs(s, idx);
        enum jkind k;
        uint64_t n = 0;
        if (scan_value(s, 0, &k, &n) < 0)
                return -1;
        if (field == T_FORMAT)
                *format_ok = k == J_WHOLE && n == 1;
        if (field == T_SEQUENCE) {
                *seq_ok = k == J_WHOLE && n <= INT64_MAX;
                idx->sequence = n;
        }
        return 0;
}

static int scan_index(struct scan *s, struct spec_index *idx)
{
        static const char *const names[] = { "berth_index", "sequence", "specs", NULL };
        bool first = true, format_ok = false, seq_ok = false;
        unsigned seen = 0;
        struct str key = {};
        int r, field;
        if (!peek(s, '{'))
                return s->p >= s->end ? scan_err(s, "no JSON value")
                                      : index_err(s->err, s->what, "expected an object with \"berth_index\": 1");
        while ((r = next_key(s, &first, &key)) > 0)
                if (known_key(s, &key, names, &seen, &field) < 0 || scan_top(s, field, idx, &format_ok, &seq_ok) < 0) {
                        r = -1;
                        break;
                }
        str_done(&key);
        if (r < 0)
                return -1;
        skip_ws(s);
        if (s->p != s->end)
                return scan_err(s, "text after the index");
        if (!format_ok)
                return index_err(s->err, s->what, "expected an object with \"berth_index\": 1");
        if (!seq_ok)
                return index_err(s->err, s->what, "\"sequence\" must be a whole number");
        if (!(seen & (1u << T_SPECS)))
                return index_err(s->err, s->what, "\"specs\" must be an object");
        return 0;
}

static int sort_entries(const char *what, struct spec_index *idx, berth_error **err)
{
        if (idx->n > 1) /* an empty index has no array to give qsort */
                qsort(idx->entries, idx->n, sizeof(*idx->entries), cmp_entry);
        for (size_t i = 1; i < idx->n; i++)
                if (cmp_entry(&idx->entries[i - 1], &idx->entries[i]) == 0)
                        return streq(idx->entries[i - 1].version, idx->entries[i].version)
                                       ? index_err(err, what, "%s: version %s is listed twice", idx->entries[i].name,
                                                   idx->entries[i].version)
                                       : index_err(err, what, "%s: versions %s and %s differ only in build metadata",
                                         idx->entries[i].name, idx->entries[i - 1].version, idx->entries[i].version);
        return 0;
}

int spec_index_parse_owned(char *text, size_t len, const char *what, struct spec_index **ret, berth_error **err)
{
        struct spec_index *idx = xcalloc(1, sizeof(*idx));
        idx->text = text;
        if (len > SPEC_INDEX_MAX) {
                spec_index_free(idx);
                return berth_error_make(err, BERTH_E_LIMIT, 0, "%s: index larger than the limit of %zu bytes", what,
                                        (size_t) SPEC_INDEX_MAX);
        }
        struct scan s = { text, text + len, text, what, err, idx };
        if (scan_index(&s, idx) < 0 || sort_entries(what, idx, err) < 0) {
                spec_index_free(idx);
                return -1;
        }
        *ret = idx;
        return 0;
}

int spec_index_parse(const char *buf, size_t len, const char *what, struct spec_index **ret, berth_error **err)
{
        if (len > SPEC_INDEX_MAX)
                return berth_error_make(err, BERTH_E_LIMIT, 0, "%s: index larger than the limit of %zu bytes", what,
                                        (size_t) SPEC_INDEX_MAX);
        char *text = xmalloc(len + 1);
        memcpy(text, buf, len); /* not strndup: a NUL in the text is for the scanner to refuse */
        text[len] = '\0';
        return spec_index_parse_owned(text, len, what, ret, err);
}

struct spec_index *spec_index_new(void)
{
        return xcalloc(1, sizeof(struct spec_index));
}

char *spec_index_dump(const struct spec_index *idx)
{
        _cleanup_dynbuf_ dynbuf b;
        dynbuf_init(&b, SIZE_MAX, NULL);
        dynbuf_printf(&b, NULL, "{\n  \"berth_index\": 1,\n  \"sequence\": %" PRIu64 ",\n  \"specs\": {", idx->sequence);
        for (size_t i = 0; i < idx->n; i++) {
                const struct spec_index_entry *e = &idx->entries[i];
                bool first_of_name = i == 0 || !streq(idx->entries[i - 1].name, e->name);
                bool last_of_name = i + 1 == idx->n || !streq(idx->entries[i + 1].name, e->name);
                if (first_of_name)
                        dynbuf_printf(&b, NULL, "%s\n    \"%s\": {", i ? "," : "", e->name);
                /* Names, versions, digests and times are plain ASCII without quotes. */
                dynbuf_printf(&b, NULL,
                              "\n      \"%s\": {\"published\": \"%s\", \"sha256\": \"%s\", \"yanked\": %s}%s",
                              e->version, e->published, e->sha256, e->yanked ? "true" : "false",
                              last_of_name ? "\n    }" : ",");
        }
        dynbuf_printf(&b, NULL, "%s}\n}\n", idx->n ? "\n  " : "");
        return dynbuf_take(&b, NULL);
}

const struct spec_index_entry *spec_index_find(const struct spec_index *idx, const char *name,
                                               const struct spec_version *v)
{
        for (size_t i = 0; i < idx->n; i++)
                if (streq(idx->entries[i].name, name) && spec_version_cmp(&idx->entries[i].v, v) == 0)
                        return &idx->entries[i];
        return NULL;
}

void spec_index_add(struct spec_index *idx, const char *name, const char *version, const char *sha256,
                    const char *published)
{
        idx->entries = xrealloc(idx->entries, (idx->n + 1) * sizeof(*idx->entries));
        struct spec_index_entry *e = &idx->entries[idx->n++];
        *e = (struct spec_index_entry){ .name = own(idx, xstrdup(name)), .version = own(idx, xstrdup(version)),
                                        .published = own(idx, xstrdup(published)) };
        if (spec_version_parse(version, &e->v) < 0)
                abort(); /* callers pass a checked version */
        memcpy(e->sha256, sha256, 65);
        qsort(idx->entries, idx->n, sizeof(*idx->entries), cmp_entry);
}

/* "2.1.0" or "=2.1.0": an exact pin, which may take a yanked version. */
static bool exact_pin(const char *range, struct spec_version *ret)
{
        return spec_version_parse(range[0] == '=' ? range + 1 : range, ret) == 0;
}

/* Up to two versions on either side of where the range starts. */
static char *nearest_versions(const struct spec_index *idx, size_t first, size_t end, const struct spec_range *r)
{
        struct spec_version floor;
        spec_range_floor(r, &floor);
        size_t at = first;
        while (at < end && spec_version_cmp(&idx->entries[at].v, &floor) < 0)
                at++;
        _cleanup_dynbuf_ dynbuf b;
        dynbuf_init(&b, SIZE_MAX, NULL);
        size_t lo = at >= first + 2 ? at - 2 : first, hi = at + 2 < end ? at + 2 : end;
        for (size_t i = lo; i < hi; i++)
                dynbuf_printf(&b, NULL, "%s%s%s", b.len ? ", " : "", idx->entries[i].version,
                              idx->entries[i].yanked ? " (yanked)" : "");
        return dynbuf_take(&b, NULL);
}

int spec_index_select(const struct spec_index *idx, const char *name, const char *range, const char *what,
                      const struct spec_index_entry **ret, char **ret_warning, berth_error **err)
{
        size_t first = 0, end;
        while (first < idx->n && strcmp(idx->entries[first].name, name) < 0)
                first++;
        for (end = first; end < idx->n && streq(idx->entries[end].name, name);)
                end++;
        if (first == end)
                return berth_error_make(err, BERTH_E_NOTFOUND, 0, "%s: no spec named %s", what, name);
        struct spec_version pin;
        if (exact_pin(range, &pin)) {
                for (size_t i = first; i < end; i++)
                        if (spec_version_cmp(&idx->entries[i].v, &pin) == 0) {
                                if (idx->entries[i].yanked && ret_warning)
                                        *ret_warning = xasprintf("%s@%s is yanked in %s; pinned exactly, so it is "
                                                                 "used", name, idx->entries[i].version, what);
                                *ret = &idx->entries[i];
                                return 0;
                        }
        }
        _cleanup_free_ char *problem = NULL;
        _cleanup_range_ struct spec_range *r = NULL;
        if (spec_range_parse(range, &r, &problem) < 0)
                return berth_error_make(err, BERTH_E_INVALID, 0, "%s@%s: %s", name, range, problem);
        for (size_t i = end; i-- > first;)
                if (!idx->entries[i].yanked && spec_range_matches(r, &idx->entries[i].v)) {
                        *ret = &idx->entries[i];
                        return 0;
                }
        _cleanup_free_ char *near = nearest_versions(idx, first, end, r);
        return berth_error_make(err, BERTH_E_NOTFOUND, 0, "%s: no version of %s matches \"%s\" (nearest: %s)", what,
                                name, range, near);
}
