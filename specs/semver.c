/* Semantic versions (semver 2.0) and ranges as npm and cargo write them:
 * 1.2.3, ^1.2, ~1.2.3, 1.x, >=1.2 <2, 1.2 - 1.4, *, and || between sets.
 * A range is desugared into comparator sets, as node-semver does; a
 * prerelease matches only a set that names a prerelease of the same
 * major.minor.patch. */
#include <errno.h>

#include "spec-internal.h"

/* Numbers are kept below 2^62 so that "the next major" never overflows. */
#define VERSION_NUMBER_MAX (1ULL << 62)
#define RANGE_MAX_LEN 256
#define RANGE_MAX_COMPARATORS 32

enum cmp_op { OP_EQ, OP_LT, OP_LE, OP_GT, OP_GE };

struct comparator {
        enum cmp_op op;
        struct spec_version v;
        bool synthetic;         /* an upper bound made from a partial: names no prerelease */
};

struct cset {
        struct comparator c[RANGE_MAX_COMPARATORS];
        size_t n;
        bool never;             /* a comparator that matches nothing (<0.0.0) */
};

struct spec_range {
        struct cset *sets;
        size_t n;
};

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

static bool is_ident_char(char c)
{
        return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* A numeric part: digits, no leading zero, below VERSION_NUMBER_MAX. */
static const char *parse_number(const char *s, uint64_t *ret)
{
        if (!is_digit(*s) || (s[0] == '0' && is_digit(s[1])))
                return NULL;
        uint64_t v = 0;
        for (; is_digit(*s); s++) {
                v = v * 10 + (uint64_t) (*s - '0');
                if (v >= VERSION_NUMBER_MAX)
                        return NULL;
        }
        *ret = v;
        return s;
}

/* Dot-separated identifiers; numeric ones without leading zeros in a
 * prerelease (semver 2.0 item 9), anything in build metadata. */
static const char *parse_identifiers(const char *s, bool prerelease)
{
        for (;;) {
                const char *start = s;
                bool digits = true;
                for (; is_ident_char(*s); s++)
                        digits = digits && is_digit(*s);
                if (s == start || (prerelease && digits && start[0] == '0' && s - start > 1))
                        return NULL;
                if (*s != '.')
                        return s;
                s++;
        }
}

/* major.minor.patch[-pre][+build] at s; returns the end, or NULL. */
static const char *parse_full(const char *s, struct spec_version *ret)
{
        struct spec_version v = {};
        uint64_t *parts[] = { &v.major, &v.minor, &v.patch };
        for (size_t i = 0; i < 3; i++) {
                if (i && *s++ != '.')
                        return NULL;
                if (!(s = parse_number(s, parts[i])))
                        return NULL;
        }
        if (*s == '-') {
                const char *end = parse_identifiers(s + 1, true);
                if (!end)
                        return NULL;
                if ((size_t) (end - s - 1) >= sizeof(v.pre))
                        return NULL;
                memcpy(v.pre, s + 1, (size_t) (end - s - 1));
                s = end;
        }
        if (*s == '+' && !(s = parse_identifiers(s + 1, false)))
                return NULL;
        *ret = v;
        return s;
}

int spec_version_parse(const char *s, struct spec_version *ret)
{
        struct spec_version v;
        const char *end = parse_full(s, &v);
        if (!end || *end)
                return -1;
        *ret = v;
        return 0;
}

bool spec_valid_semver(const char *s)
{
        struct spec_version v;
        return spec_version_parse(s, &v) == 0;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
        return a < b ? -1 : a > b;
}

/* Precedence of two prerelease identifiers (semver 2.0 item 11). */
static int cmp_ident(const char *a, size_t na, const char *b, size_t nb)
{
        bool da = strspn(a, "0123456789") >= na, db = strspn(b, "0123456789") >= nb;
        if (da && db) {
                if (na != nb)
                        return na < nb ? -1 : 1;
                int c = memcmp(a, b, na);
                return c < 0 ? -1 : c > 0;
        }
        if (da != db)
                return da ? -1 : 1;
        int c = memcmp(a, b, na < nb ? na : nb);
        if (c)
                return c < 0 ? -1 : 1;
        return cmp_u64(na, nb);
}

static int cmp_pre(const char *a, const char *b)
{
        if (!*a || !*b)
                return *a ? -1 : *b ? 1 : 0; /* a release is above its prereleases */
        for (;;) {
                size_t na = strcspn(a, "."), nb = strcspn(b, ".");
                int c = cmp_ident(a, na, b, nb);
                if (c)
                        return c;
                a += na;
                b += nb;
                if (!*a || !*b)
                        return *a ? 1 : *b ? -1 : 0; /* more identifiers rank higher */
                a++;
                b++;
        }
}

int spec_version_cmp(const struct spec_version *a, const struct spec_version *b)
{
        int c = cmp_u64(a->major, b->major);
        if (!c)
                c = cmp_u64(a->minor, b->minor);
        if (!c)
                c = cmp_u64(a->patch, b->patch);
        return c ? c : cmp_pre(a->pre, b->pre);
}

/* ---- ranges ------------------------------------------------------------ */

/* A partial version: 1, 1.2, 1.2.x, *, 1.2.3-beta. n = numbers given. */
struct partial {
        struct spec_version v;
        int n;
};

static bool is_wild(char c)
{
        return c == 'x' || c == 'X' || c == '*';
}

static const char *parse_partial(const char *s, struct partial *ret)
{
        struct partial p = {};
        uint64_t *parts[] = { &p.v.major, &p.v.minor, &p.v.patch };
        for (int i = 0; i < 3; i++) {
                if (i && (*s != '.' || (!is_digit(s[1]) && !is_wild(s[1]))))
                        break;
                if (i)
                        s++;
                if (is_wild(*s)) {
                        s++;
                        /* Anything after a wildcard part is a wildcard too: 1.x.x, 1.*.3 is refused. */
                        while (*s == '.' && is_wild(s[1]))
                                s += 2;
                        break;
                }
                if (!(s = parse_number(s, parts[i])))
                        return NULL;
                p.n = i + 1;
        }
        if (p.n == 3 && (*s == '-' || *s == '+')) {
                struct spec_version full;
                char text[sizeof(full.pre) + 16];
                size_t n = strcspn(s, " \t,|");
                if (n >= sizeof(full.pre) + 8)
                        return NULL;
                snprintf(text, sizeof(text), "0.0.0%.*s", (int) n, s);
                const char *end = parse_full(text, &full);
                if (!end || *end)
                        return NULL;
                memcpy(p.v.pre, full.pre, sizeof(p.v.pre));
                s += strcspn(s, " \t,|");
        }
        if (*s && !strchr(" \t,|", *s))
                return NULL;
        *ret = p;
        return s;
}

static int add(struct cset *set, enum cmp_op op, struct spec_version v, bool synthetic)
{
        if (set->n == RANGE_MAX_COMPARATORS)
                return -1;
        set->c[set->n++] = (struct comparator){ op, v, synthetic };
        return 0;
}

static struct spec_version ver(uint64_t major, uint64_t minor, uint64_t patch)
{
        return (struct spec_version){ .major = major, .minor = minor, .patch = patch };
}

/* The first version above every one that starts with the given parts:
 * 1 -> 2.0.0-0, 1.2 -> 1.3.0-0. "-0" is the lowest prerelease, so no
 * prerelease of the next version slips in. */
static struct spec_version next_after(const struct partial *p, int parts)
{
        struct spec_version v = parts == 1 ? ver(p->v.major + 1, 0, 0) : ver(p->v.major, p->v.minor + 1, 0);
        strcpy(v.pre, "0");
        return v;
}

static struct spec_version floor_of(const struct partial *p)
{
        struct spec_version v = ver(p->v.major, p->n > 1 ? p->v.minor : 0, p->n > 2 ? p->v.patch : 0);
        if (p->n == 3)
                memcpy(v.pre, p->v.pre, sizeof(v.pre));
        return v;
}

/* 1.2 = >=1.2.0 <1.3.0-0; 1.2.3 = exactly 1.2.3; * = anything. */
static int add_x_range(struct cset *set, const struct partial *p)
{
        if (p->n == 0)
                return 0;
        if (p->n == 3)
                return add(set, OP_EQ, p->v, false);
        if (add(set, OP_GE, floor_of(p), false) < 0)
                return -1;
        return add(set, OP_LT, next_after(p, p->n), true);
}

/* ^1.2.3 := >=1.2.3 <2.0.0-0; ^0.2.3 := <0.3.0-0; ^0.0.3 := <0.0.4-0. */
static int add_caret(struct cset *set, const struct partial *p)
{
        if (add(set, OP_GE, floor_of(p), false) < 0)
                return -1;
        if (p->v.major > 0 || p->n == 1)
                return add(set, OP_LT, next_after(p, 1), true);
        if (p->v.minor > 0 || p->n == 2)
                return add(set, OP_LT, next_after(p, 2), true);
        struct spec_version up = ver(0, 0, p->v.patch + 1);
        strcpy(up.pre, "0");
        return add(set, OP_LT, up, true);
}

/* ~1.2.3 := >=1.2.3 <1.3.0-0; ~1 := >=1.0.0 <2.0.0-0. */
static int add_tilde(struct cset *set, const struct partial *p)
{
        if (add(set, OP_GE, floor_of(p), false) < 0)
                return -1;
        return add(set, OP_LT, next_after(p, p->n == 1 ? 1 : 2), true);
}

static int add_primitive(struct cset *set, enum cmp_op op, const struct partial *p)
{
        if (p->n == 3)
                return add(set, op, p->v, false);
        switch (op) {
        case OP_EQ:
                return add_x_range(set, p);
        case OP_GE:
                return p->n ? add(set, OP_GE, floor_of(p), false) : 0;
        case OP_GT: /* >1.2 := >=1.3.0; >* matches nothing */
                if (!p->n)
                        set->never = true;
                return p->n ? add(set, OP_GE, next_after(p, p->n), true) : 0;
        case OP_LT: { /* <1.2 := <1.2.0-0; <* matches nothing */
                if (!p->n)
                        set->never = true;
                struct spec_version v = floor_of(p);
                strcpy(v.pre, "0");
                return p->n ? add(set, OP_LT, v, true) : 0;
        }
        case OP_LE: /* <=1.2 := <1.3.0-0 */
                return p->n ? add(set, OP_LT, next_after(p, p->n), true) : 0;
        }
        return -1;
}

static const char *skip_space(const char *s)
{
        while (*s == ' ' || *s == '\t')
                s++;
        return s;
}

static const char *parse_op(const char *s, enum cmp_op *op, char *kind)
{
        *kind = 0;
        if (*s == '^' || *s == '~') {
                *kind = *s;
                return skip_space(s + 1 + (s[0] == '~' && s[1] == '>'));
        }
        static const struct { const char *t; enum cmp_op op; } ops[] = {
                { ">=", OP_GE }, { "<=", OP_LE }, { ">", OP_GT }, { "<", OP_LT }, { "=", OP_EQ },
        };
        for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
                if (startswith(s, ops[i].t)) {
                        *op = ops[i].op;
                        *kind = 'o';
                        return skip_space(s + strlen(ops[i].t));
                }
        return s;
}

/* "A - B": >=A and <=B, B partial as in <=. */
static const char *parse_hyphen(const char *s, const struct partial *lo, struct cset *set)
{
        struct partial hi;
        s = parse_partial(skip_space(s), &hi);
        if (!s || (lo->n && add(set, OP_GE, floor_of(lo), false) < 0) || add_primitive(set, OP_LE, &hi) < 0)
                return NULL;
        return s;
}

/* One comparator set: simple ranges joined by spaces or commas. */
static const char *parse_set(const char *s, struct cset *set, char **ret_problem)
{
        s = skip_space(s);
        if (!*s || *s == '|') {
                *ret_problem = xstrdup("empty range (write * for any version)");
                return NULL;
        }
        while (*s && *s != '|') {
                enum cmp_op op = OP_EQ;
                char kind;
                const char *start = s;
                struct partial p;
                s = parse_op(s, &op, &kind);
                s = parse_partial(s, &p);
                if (!s) {
                        *ret_problem = xasprintf("cannot read \"%.*s\" as a version or a comparator like >=1.2",
                                                 (int) strcspn(start, " \t,|"), start);
                        return NULL;
                }
                if ((kind == '^' || kind == '~') && p.n == 0) {
                        *ret_problem = xasprintf("%c needs a version, like %c1.2", kind, kind);
                        return NULL;
                }
                const char *after = skip_space(s);
                int r;
                if (!kind && after[0] == '-' && (after[1] == ' ' || after[1] == '\t'))
                        r = (s = parse_hyphen(after + 1, &p, set)) ? 0 : -1;
                else if (kind == '^')
                        r = add_caret(set, &p);
                else if (kind == '~')
                        r = add_tilde(set, &p);
                else
                        r = kind ? add_primitive(set, op, &p) : add_x_range(set, &p);
                if (r < 0) {
                        *ret_problem = xasprintf("more than %d comparators, or a bad hyphen range",
                                                 RANGE_MAX_COMPARATORS);
                        return NULL;
                }
                s = skip_space(s);
                if (*s == ',')
                        s = skip_space(s + 1);
        }
        return s;
}

int spec_range_parse(const char *text, struct spec_range **ret, char **ret_problem)
{
        if (strlen(text) > RANGE_MAX_LEN) {
                *ret_problem = xasprintf("range longer than the limit of %d bytes", RANGE_MAX_LEN);
                return -1;
        }
        struct spec_range *r = xcalloc(1, sizeof(*r));
        const char *s = text;
        for (;;) {
                r->sets = xrealloc(r->sets, (r->n + 1) * sizeof(*r->sets));
                memset(&r->sets[r->n], 0, sizeof(*r->sets));
                s = parse_set(s, &r->sets[r->n++], ret_problem);
                if (!s) {
                        spec_range_free(r);
                        return -1;
                }
                if (!*s)
                        break;
                if (s[0] != '|' || s[1] != '|') {
                        spec_range_free(r);
                        *ret_problem = xstrdup("expected || between ranges");
                        return -1;
                }
                s += 2;
        }
        *ret = r;
        return 0;
}

void spec_range_free(struct spec_range *r)
{
        if (!r)
                return;
        free(r->sets);
        free(r);
}

bool spec_valid_range(const char *s)
{
        _cleanup_free_ char *problem = NULL;
        struct spec_range *r = NULL;
        if (spec_range_parse(s, &r, &problem) < 0)
                return false;
        spec_range_free(r);
        return true;
}

static bool comparator_test(const struct comparator *c, const struct spec_version *v)
{
        int d = spec_version_cmp(v, &c->v);
        switch (c->op) {
        case OP_EQ: return d == 0;
        case OP_LT: return d < 0;
        case OP_LE: return d <= 0;
        case OP_GT: return d > 0;
        case OP_GE: return d >= 0;
        }
        return false;
}

static bool same_release(const struct spec_version *a, const struct spec_version *b)
{
        return a->major == b->major && a->minor == b->minor && a->patch == b->patch;
}

static bool set_matches(const struct cset *set, const struct spec_version *v)
{
        if (set->never)
                return false;
        for (size_t i = 0; i < set->n; i++)
                if (!comparator_test(&set->c[i], v))
                        return false;
        if (!v->pre[0])
                return true;
        /* A prerelease only where the range asked for one of this release. */
        for (size_t i = 0; i < set->n; i++)
                if (!set->c[i].synthetic && set->c[i].v.pre[0] && same_release(&set->c[i].v, v))
                        return true;
        return false;
}

bool spec_range_matches(const struct spec_range *r, const struct spec_version *v)
{
        for (size_t i = 0; i < r->n; i++)
                if (set_matches(&r->sets[i], v))
                        return true;
        return false;
}

void spec_range_floor(const struct spec_range *r, struct spec_version *ret)
{
        *ret = ver(0, 0, 0);
        if (!r->n)
                return;
        const struct cset *set = &r->sets[0];
        for (size_t i = 0; i < set->n; i++)
                if (set->c[i].op == OP_GE || set->c[i].op == OP_EQ || set->c[i].op == OP_GT)
                        *ret = set->c[i].v;
}
