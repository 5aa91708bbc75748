/* Build a positioned tree from libyaml events, refusing hostile input early:
 * depth, node count (aliases counted as expanded) and duplicate keys are
 * checked as events arrive, so a bomb stops at the first event past a bound. */
#include <yaml.h>

#include "spec-internal.h"

DEFINE_CLEANUP_FUNC(yaml_parser_t *, yaml_parser_delete)
DEFINE_CLEANUP_FUNC(yaml_event_t *, yaml_event_delete)

struct frame {
        struct ynode *node;
        char *anchor;
        struct ynode *pending_key; /* mapping: key whose value is being read */
};

struct anchor_slot {
        char *name;
        struct ynode *node;
};

struct builder {
        const char *file;
        const struct spec_limits *lim;
        struct ydoc *doc;
        struct frame *stack;
        size_t depth, cap;
        size_t nodes;
        struct anchor_slot *anchors; /* open addressing, power-of-two size */
        size_t n_anchors, cap_anchors;
        int documents;
        berth_error **err;
};

bool ynode_is_null(const struct ynode *n)
{
        if (!n)
                return true;
        if (n->kind != YNODE_SCALAR || !n->plain)
                return false;
        return n->len == 0 || streq(n->text, "~") || streq(n->text, "null") || streq(n->text, "Null") ||
               streq(n->text, "NULL");
}

char *spec_quote(const char *s, size_t len, size_t max)
{
        _cleanup_dynbuf_ dynbuf b;
        dynbuf_init(&b, SIZE_MAX, NULL);
        dynbuf_add(&b, "\"", 1, NULL);
        for (size_t i = 0; i < len && i < max; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c == '"' || c == '\\')
                        dynbuf_printf(&b, NULL, "\\%c", c);
                else if (c < 0x20 || c == 0x7f)
                        dynbuf_printf(&b, NULL, "\\x%02x", c);
                else
                        dynbuf_add(&b, &s[i], 1, NULL);
        }
        dynbuf_add(&b, len > max ? "\"..." : "\"", len > max ? 4 : 1, NULL);
        return dynbuf_take(&b, NULL);
}

char *spec_path_segment(const char *s, size_t len)
{
        _cleanup_free_ char *q = spec_quote(s, len, 64);
        size_t n = strlen(q);
        /* The quotes (and a "..." after a cut) are for messages, not paths. */
        size_t tail = endswith(q, "\"...") ? 4 : 1;
        return xstrndup(q + 1, n - 1 - tail);
}

/* The key path of the value being read, from the frames below `upto`. */
static char *builder_path(struct builder *b, size_t upto, const struct ynode *extra_key)
{
        _cleanup_dynbuf_ dynbuf p;
        dynbuf_init(&p, SIZE_MAX, NULL);
        for (size_t i = 0; i <= upto && i < b->depth; i++) {
                const struct ynode *key = NULL;
                if (i == upto)
                        key = extra_key;
                else if (b->stack[i].node->kind == YNODE_MAP)
                        key = b->stack[i].pending_key;
                else
                        dynbuf_printf(&p, NULL, "[%zu]", b->stack[i].node->n);
                if (key && key->kind == YNODE_SCALAR) {
                        if (p.len)
                                dynbuf_add(&p, ".", 1, NULL);
                        _cleanup_free_ char *seg = spec_path_segment(key->text, key->len);
                        dynbuf_add(&p, seg, strlen(seg), NULL);
                }
        }
        return dynbuf_take(&p, NULL);
}

static int builder_error(struct builder *b, int kind, yaml_mark_t mark, size_t upto, const struct ynode *key,
                         const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int builder_error(struct builder *b, int kind, yaml_mark_t mark, size_t upto, const struct ynode *key,
                         const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                abort();
        va_end(ap);
        _cleanup_free_ char *path = builder_path(b, upto, key);
        return berth_error_make(b->err, kind, 0, "%s:%zu:%zu: %s%s%s", b->file, mark.line + 1, mark.column + 1, path,
                                *path ? ": " : "", msg);
}

static struct ynode *doc_node(struct ydoc *d, enum ynode_kind kind, const char *file, int line, int col)
{
        struct ynode *n = xcalloc(1, sizeof(*n));
        n->kind = kind;
        n->file = file;
        n->line = line;
        n->col = col;
        n->weight = 1;
        if (d->n_all == d->cap_all) {
                d->cap_all = d->cap_all ? d->cap_all * 2 : 64;
                d->all = xrealloc(d->all, d->cap_all * sizeof(*d->all));
        }
        d->all[d->n_all++] = n;
        return n;
}

static struct ynode *node_new(struct builder *b, enum ynode_kind kind, yaml_mark_t mark)
{
        return doc_node(b->doc, kind, b->file, (int) mark.line + 1, (int) mark.column + 1);
}

struct ynode *ydoc_add_node(struct ydoc *doc, enum ynode_kind kind, const struct ynode *pos)
{
        return doc_node(doc, kind, pos->file, pos->line, pos->col);
}

static int count_nodes(struct builder *b, size_t weight, yaml_mark_t mark)
{
        b->nodes += weight;
        if (b->nodes > b->lim->max_nodes)
                return builder_error(b, BERTH_E_LIMIT, mark, b->depth, NULL,
                                     "document has more than the limit of %zu nodes (aliases count as expanded)",
                                     b->lim->max_nodes);
        return 0;
}

static struct anchor_slot *anchor_slot(struct anchor_slot *t, size_t cap, const char *name)
{
        for (size_t i = fnv1a64(FNV1A64_INIT, name, strlen(name)) & (cap - 1);; i = (i + 1) & (cap - 1))
                if (!t[i].name || streq(t[i].name, name))
                        return &t[i];
}

static void anchor_grow(struct builder *b)
{
        size_t cap = b->cap_anchors ? b->cap_anchors * 2 : 64;
        struct anchor_slot *t = xcalloc(cap, sizeof(*t));
        for (size_t i = 0; i < b->cap_anchors; i++)
                if (b->anchors[i].name)
                        *anchor_slot(t, cap, b->anchors[i].name) = b->anchors[i];
        free(b->anchors);
        b->anchors = t;
        b->cap_anchors = cap;
}

/* A later anchor of the same name replaces the earlier one, as YAML says. */
static void anchor_set(struct builder *b, char *name, struct ynode *n)
{
        if (!name)
                return;
        if (2 * (b->n_anchors + 1) > b->cap_anchors)
                anchor_grow(b);
        struct anchor_slot *s = anchor_slot(b->anchors, b->cap_anchors, name);
        if (s->name) {
                free(name);
        } else {
                s->name = name;
                b->n_anchors++;
        }
        s->node = n;
}

static struct ynode *anchor_get(struct builder *b, const char *name)
{
        if (!b->cap_anchors)
                return NULL;
        return anchor_slot(b->anchors, b->cap_anchors, name)->node;
}

static int attach(struct builder *b, struct ynode *n)
{
        yaml_mark_t mark = { .line = (size_t) n->line - 1, .column = (size_t) n->col - 1 };
        if (b->depth == 0) {
                b->doc->root = n;
                return 0;
        }
        struct frame *f = &b->stack[b->depth - 1];
        struct ynode *parent = f->node;
        parent->weight += n->weight;
        if (parent->kind == YNODE_MAP && !f->pending_key) {
                if (n->kind != YNODE_SCALAR)
                        return builder_error(b, BERTH_E_INVALID, mark, b->depth, NULL,
                                             "expected a plain key, got a %s as key",
                                             n->kind == YNODE_MAP ? "mapping" : "list");
                f->pending_key = n;
                return 0;
        }
        if (parent->n == parent->cap) {
                parent->cap = parent->cap ? parent->cap * 2 : 4;
                if (parent->kind == YNODE_MAP)
                        parent->pairs = xrealloc(parent->pairs, parent->cap * sizeof(*parent->pairs));
                else
                        parent->items = xrealloc(parent->items, parent->cap * sizeof(*parent->items));
        }
        if (parent->kind == YNODE_MAP) {
                parent->pairs[parent->n++] = (struct ypair){ f->pending_key, n };
                f->pending_key = NULL;
        } else {
                parent->items[parent->n++] = n;
        }
        return 0;
}

/* Only the core schema's tags are understood; anything else is refused
 * rather than silently read as text. */
static int check_tag(struct builder *b, const yaml_char_t *tag, yaml_mark_t mark, bool *ret_str)
{
        *ret_str = false;
        if (!tag || streq((const char *) tag, "!"))
                return 0;
        if (streq((const char *) tag, YAML_STR_TAG)) {
                *ret_str = true;
                return 0;
        }
        if (startswith((const char *) tag, "tag:yaml.org,2002:"))
                return 0;
        _cleanup_free_ char *q = spec_quote((const char *) tag, strlen((const char *) tag), 64);
        return builder_error(b, BERTH_E_INVALID, mark, b->depth, NULL, "unsupported YAML tag %s", q);
}

static char *anchor_dup(const yaml_char_t *a)
{
        return a ? xstrdup((const char *) a) : NULL;
}

static int on_scalar(struct builder *b, yaml_event_t *ev)
{
        bool is_str;
        if (check_tag(b, ev->data.scalar.tag, ev->start_mark, &is_str) < 0 || count_nodes(b, 1, ev->start_mark) < 0)
                return -1;
        struct ynode *n = node_new(b, YNODE_SCALAR, ev->start_mark);
        /* Not strndup: a "\0" escape puts a NUL inside; len keeps every byte. */
        n->len = ev->data.scalar.length;
        n->text = xmalloc(n->len + 1);
        memcpy(n->text, ev->data.scalar.value, n->len);
        n->text[n->len] = '\0';
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !is_str;
        anchor_set(b, anchor_dup(ev->data.scalar.anchor), n);
        return attach(b, n);
}

static int on_start(struct builder *b, yaml_event_t *ev, enum ynode_kind kind)
{
        bool is_str;
        const yaml_char_t *tag = kind == YNODE_MAP ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
        const yaml_char_t *anchor = kind == YNODE_MAP ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
        if (check_tag(b, tag, ev->start_mark, &is_str) < 0 || count_nodes(b, 1, ev->start_mark) < 0)
                return -1;
        if (b->depth >= b->lim->max_depth)
                return builder_error(b, BERTH_E_LIMIT, ev->start_mark, b->depth, NULL,
                                     "nesting deeper than the limit of %zu levels", b->lim->max_depth);
        if (b->depth == b->cap) {
                b->cap = b->cap ? b->cap * 2 : 16;
                b->stack = xrealloc(b->stack, b->cap * sizeof(*b->stack));
        }
        struct ynode *n = node_new(b, kind, ev->start_mark);
        b->stack[b->depth++] = (struct frame){ .node = n, .anchor = anchor_dup(anchor) };
        return 0;
}

static int cmp_pair_ptr(const void *x, const void *y)
{
        const struct ypair *a = *(const struct ypair *const *) x, *b = *(const struct ypair *const *) y;
        size_t n = a->key->len < b->key->len ? a->key->len : b->key->len;
        int c = memcmp(a->key->text, b->key->text, n);
        if (c)
                return c;
        if (a->key->len != b->key->len)
                return a->key->len < b->key->len ? -1 : 1;
        return a < b ? -1 : a > b;
}

/* Sort pointers to the pairs so duplicates are neighbours: O(n log n) even
 * for a hostile mapping with a hundred thousand keys. */
static const struct ypair *find_duplicate(const struct ynode *map, const struct ypair **ret_first)
{
        if (map->n < 2)
                return NULL;
        _cleanup_free_ const struct ypair **v = xcalloc(map->n, sizeof(*v));
        for (size_t i = 0; i < map->n; i++)
                v[i] = &map->pairs[i];
        qsort(v, map->n, sizeof(*v), cmp_pair_ptr);
        const struct ypair *dup = NULL;
        for (size_t i = 1; i < map->n; i++) {
                const struct ynode *a = v[i - 1]->key, *k = v[i]->key;
                if (a->len != k->len || memcmp(a->text, k->text, a->len) != 0)
                        continue;
                /* Report the duplicate that comes first in the document. */
                if (!dup || v[i] < dup) {
                        dup = v[i];
                        *ret_first = v[i - 1];
                }
        }
        return dup;
}

static int on_end(struct builder *b, yaml_event_t *ev)
{
        struct frame *f = &b->stack[b->depth - 1];
        struct ynode *n = f->node;
        const struct ypair *first = NULL;
        const struct ypair *dup = n->kind == YNODE_MAP ? find_duplicate(n, &first) : NULL;
        if (dup) {
                yaml_mark_t m = { .line = (size_t) dup->key->line - 1, .column = (size_t) dup->key->col - 1 };
                return builder_error(b, BERTH_E_INVALID, m, b->depth - 1, dup->key,
                                     "duplicate key (first at line %d, column %d)", first->key->line,
                                     first->key->col);
        }
        char *anchor = TAKE_PTR(f->anchor);
        b->depth--;
        anchor_set(b, anchor, n);
        return attach(b, n);
}

static int on_alias(struct builder *b, yaml_event_t *ev)
{
        const char *name = (const char *) ev->data.alias.anchor;
        struct ynode *n = anchor_get(b, name);
        if (!n) {
                _cleanup_free_ char *seg = spec_path_segment(name, strlen(name));
                return builder_error(b, BERTH_E_INVALID, ev->start_mark, b->depth, NULL,
                                     "alias *%s refers to no anchor defined before it", seg);
        }
        if (count_nodes(b, n->weight, ev->start_mark) < 0)
                return -1;
        return attach(b, n);
}

static int on_event(struct builder *b, yaml_event_t *ev)
{
        switch (ev->type) {
        case YAML_DOCUMENT_START_EVENT:
                if (b->documents++ > 0)
                        return builder_error(b, BERTH_E_INVALID, ev->start_mark, 0, NULL,
                                             "expected one YAML document, found a second one");
                return 0;
        case YAML_SCALAR_EVENT:
                return on_scalar(b, ev);
        case YAML_SEQUENCE_START_EVENT:
                return on_start(b, ev, YNODE_SEQ);
        case YAML_MAPPING_START_EVENT:
                return on_start(b, ev, YNODE_MAP);
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
                return on_end(b, ev);
        case YAML_ALIAS_EVENT:
                return on_alias(b, ev);
        default:
                return 0;
        }
}

static int yaml_syntax_error(struct builder *b, const yaml_parser_t *parser)
{
        yaml_mark_t m = parser->problem_mark;
        const char *problem = parser->problem ? parser->problem : "malformed document";
        if (parser->context)
                return berth_error_make(b->err, BERTH_E_INVALID, 0, "%s:%zu:%zu: invalid YAML: %s %s", b->file,
                                        m.line + 1, m.column + 1, parser->context, problem);
        return berth_error_make(b->err, BERTH_E_INVALID, 0, "%s:%zu:%zu: invalid YAML: %s", b->file, m.line + 1,
                                m.column + 1, problem);
}

static void builder_done(struct builder *b)
{
        for (size_t i = 0; i < b->depth; i++)
                free(b->stack[i].anchor);
        free(b->stack);
        for (size_t i = 0; i < b->cap_anchors; i++)
                free(b->anchors[i].name);
        free(b->anchors);
}

static int run_parser(struct builder *b, const char *buf, size_t len)
{
        yaml_parser_t storage;
        if (!yaml_parser_initialize(&storage))
                abort();
        _cleanup_(yaml_parser_deletep) yaml_parser_t *parser = &storage;
        yaml_parser_set_input_string(parser, (const unsigned char *) buf, len);
        for (;;) {
                yaml_event_t ev_storage;
                if (!yaml_parser_parse(parser, &ev_storage))
                        return yaml_syntax_error(b, parser);
                _cleanup_(yaml_event_deletep) yaml_event_t *event = &ev_storage;
                if (on_event(b, event) < 0)
                        return -1;
                if (event->type == YAML_STREAM_END_EVENT)
                        return 0;
        }
}

int ydoc_parse(struct ydoc *doc, const char *file, const char *buf, size_t len, const struct spec_limits *limits,
               berth_error **err)
{
        struct builder b = { .file = file, .lim = limits, .doc = doc, .err = err };
        *doc = (struct ydoc){};
        if (len > limits->max_file_size) {
                berth_error_make(err, BERTH_E_LIMIT, 0, "%s:1:1: spec file is larger than the limit of %zu bytes",
                                 file, limits->max_file_size);
                return -1;
        }
        int r = run_parser(&b, buf, len);
        builder_done(&b);
        if (r < 0)
                ydoc_free(doc);
        return r;
}

void ydoc_free(struct ydoc *doc)
{
        for (size_t i = 0; i < doc->n_all; i++) {
                free(doc->all[i]->text);
                free(doc->all[i]->items);
                free(doc->all[i]->pairs);
                free(doc->all[i]);
        }
        free(doc->all);
        *doc = (struct ydoc){};
}
