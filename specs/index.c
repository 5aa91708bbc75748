/* A spec repository's index.json: names -> versions -> digest, yanked flag,
 * publish time, plus a sequence number that grows with every change (the
 * rollback check). Parsed strictly and within bounds; written with sorted
 * keys and one entry per line, so a repository's history diffs well. */
#include <inttypes.h>
#include <jansson.h>

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

static void entry_done(struct spec_index_entry *e)
{
        free(e->name);
        free(e->version);
        free(e->published);
}

void spec_index_free(struct spec_index *idx)
{
        if (!idx)
                return;
        for (size_t i = 0; i < idx->n; i++)
                entry_done(&idx->entries[i]);
        free(idx->entries);
        free(idx);
}

static int cmp_entry(const void *x, const void *y)
{
        const struct spec_index_entry *a = x, *b = y;
        int c = strcmp(a->name, b->name);
        return c ? c : spec_version_cmp(&a->v, &b->v);
}

static int parse_entry(const char *what, const char *name, const char *version, json_t *o,
                       struct spec_index_entry *ret, berth_error **err)
{
        struct spec_index_entry e = {};
        if (!json_is_object(o))
                return index_err(err, what, "%s@%s: expected an object", name, version);
        if (spec_version_parse(version, &e.v) < 0)
                return index_err(err, what, "%s: \"%.80s\" is not a semantic version", name, version);
        const char *sha = json_string_value(json_object_get(o, "sha256"));
        json_t *yanked = json_object_get(o, "yanked");
        const char *published = json_string_value(json_object_get(o, "published"));
        if (!sha || strlen(sha) != 64 || !is_hex_string(sha, 64) || strpbrk(sha, "ABCDEF"))
                return index_err(err, what, "%s@%s: sha256 must be 64 lowercase hex digits", name, version);
        if (yanked && !json_is_boolean(yanked))
                return index_err(err, what, "%s@%s: yanked must be true or false", name, version);
        if (!published || strlen(published) > 32 || strspn(published, "0123456789-:TZ") != strlen(published))
                return index_err(err, what, "%s@%s: published must be a time like 2026-01-31T12:00:00Z", name,
                                 version);
        memcpy(e.sha256, sha, 65);
        e.yanked = json_is_true(yanked);
        e.name = xstrdup(name);
        e.version = xstrdup(version);
        e.published = xstrdup(published);
        *ret = e;
        return 0;
}

static int parse_specs(const char *what, json_t *specs, struct spec_index *idx, berth_error **err)
{
        const char *name;
        json_t *versions;
        json_object_foreach(specs, name, versions) {
                if (!spec_valid_name(name))
                        return index_err(err, what, "\"%.80s\" is not a spec name", name);
                if (!json_is_object(versions))
                        return index_err(err, what, "%s: expected an object of versions", name);
                const char *version;
                json_t *o;
                json_object_foreach(versions, version, o) {
                        idx->entries = xrealloc(idx->entries, (idx->n + 1) * sizeof(*idx->entries));
                        if (parse_entry(what, name, version, o, &idx->entries[idx->n], err) < 0)
                                return -1;
                        idx->n++;
                }
        }
        qsort(idx->entries, idx->n, sizeof(*idx->entries), cmp_entry);
        for (size_t i = 1; i < idx->n; i++)
                if (cmp_entry(&idx->entries[i - 1], &idx->entries[i]) == 0)
                        return index_err(err, what, "%s: versions %s and %s differ only in build metadata",
                                         idx->entries[i].name, idx->entries[i - 1].version, idx->entries[i].version);
        return 0;
}

int spec_index_parse(const char *buf, size_t len, const char *what, struct spec_index **ret, berth_error **err)
{
        if (len > SPEC_INDEX_MAX)
                return berth_error_make(err, BERTH_E_LIMIT, 0, "%s: index larger than the limit of %zu bytes", what,
                                        (size_t) SPEC_INDEX_MAX);
        json_error_t jerr;
        _cleanup_(json_decrefp) json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return index_err(err, what, "line %d: %s", jerr.line, jerr.text);
        json_t *format = json_object_get(root, "berth_index"), *seq = json_object_get(root, "sequence");
        json_t *specs = json_object_get(root, "specs");
        if (!json_is_object(root) || !json_is_integer(format) || json_integer_value(format) != 1)
                return index_err(err, what, "expected an object with \"berth_index\": 1");
        if (!json_is_integer(seq) || json_integer_value(seq) < 0)
                return index_err(err, what, "\"sequence\" must be a whole number");
        if (!json_is_object(specs))
                return index_err(err, what, "\"specs\" must be an object");
        struct spec_index *idx = xcalloc(1, sizeof(*idx));
        idx->sequence = (uint64_t) json_integer_value(seq);
        if (parse_specs(what, specs, idx, err) < 0) {
                spec_index_free(idx);
                return -1;
        }
        *ret = idx;
        return 0;
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
        *e = (struct spec_index_entry){ .name = xstrdup(name), .version = xstrdup(version),
                                        .published = xstrdup(published) };
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
