/* extends: resolving a chain of base specs from repositories, merging the
 * YAML trees (maps key by key, lists replace, null removes), and the final
 * fields a base protects. The merged tree keeps every node's own file and
 * position, so the schema walk reports errors in the file that holds them. */
#include <errno.h>
#include <fcntl.h>

#include "parse-internal.h"

#define MAX_REPOS 16
#define KEY_FILE_MAX (16u << 10)

/* ---- repos: and final: ------------------------------------------------- */

static int repo_key(struct pctx *p, const struct ynode *v, const char *path, char **ret)
{
        _cleanup_free_ char *t = NULL;
        if (scalar_text(p, v, path, "an Ed25519 public key in PEM, or a path to one", &t) < 0)
                return -1;
        if (startswith(t, "-----BEGIN ")) {
                *ret = TAKE_PTR(t);
                return 0;
        }
        _cleanup_free_ char *abs = spec_path_join(p->base_dir, t);
        _cleanup_error_ berth_error *e = NULL;
        size_t len;
        if (read_file_bounded(AT_FDCWD, abs, KEY_FILE_MAX, "key file", ret, &len, &e) < 0) {
                _cleanup_free_ char *why = berth_error_text(e);
                return perr(p, v, path, "%s", why);
        }
        return 0;
}

static int repo_url(struct pctx *p, const struct ynode *v, const char *path, char **ret)
{
        _cleanup_free_ char *t = NULL;
        if (scalar_text(p, v, path, "an http(s) URL or a folder", &t) < 0)
                return -1;
        if (!*t || (strstr(t, "://") && !startswith(t, "http://") && !startswith(t, "https://")))
                return perr_expected(p, v, path, "an http(s) URL or a folder", t);
        *ret = strstr(t, "://") ? TAKE_PTR(t) : spec_path_join(p->base_dir, t);
        return 0;
}

static int parse_repo(struct pctx *p, const struct ynode *n, const char *path, struct spec_repo *r)
{
        if (n->kind != YNODE_MAP)
                return perr_expected(p, n, path, "a mapping like {url: https://specs.example.com/, key: ops.pub}",
                                     NULL);
        for (size_t i = 0; i < n->n; i++) {
                const struct ypair *kv = &n->pairs[i];
                _cleanup_free_ char *kpath = path_key(path, kv->key);
                int rc;
                if (streq(kv->key->text, "url"))
                        rc = repo_url(p, kv->value, kpath, &r->url);
                else if (streq(kv->key->text, "key"))
                        rc = repo_key(p, kv->value, kpath, &r->key_pem);
                else
                        rc = perr(p, kv->key, kpath, "unknown key; expected one of url, key");
                if (rc < 0)
                        return -1;
        }
        if (!r->url) {
                _cleanup_free_ char *kpath = xasprintf("%s.url", path);
                return perr(p, n, kpath, "required key is missing");
        }
        return 0;
}

int h_repos(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        struct spec *s = obj;
        if (check_seq(p, v, path, "a list of repositories like [{url: ..., key: ...}]", MAX_REPOS) < 0)
                return -1;
        struct spec_repo *r = xcalloc(v->n + 1, sizeof(*r));
        for (size_t i = 0; i < v->n; i++) {
                _cleanup_free_ char *ipath = path_index(path, i);
                if (parse_repo(p, v->items[i], ipath, &r[i]) < 0) {
                        spec_repos_free(r, v->n);
                        return -1;
                }
        }
        spec_repos_free(s->repos, s->n_repos);
        s->repos = r;
        s->n_repos = v->n;
        return 0;
}

static bool valid_key_path(const char *s)
{
        if (!*s || *s == '.' || endswith(s, "."))
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || strchr("_-", *s) ||
                      (*s == '.' && s[1] != '.')))
                        return false;
        return true;
}

int h_final(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f)
{
        static const char what[] = "a key path like image, security or resources.memory";
        struct spec *s = obj;
        if (check_seq(p, v, path, "a list of key paths like [image, security, resources.memory]", MAX_FIELDS * 8) < 0)
                return -1;
        _cleanup_strv_ char **final = xcalloc(v->n + 1, sizeof(char *));
        for (size_t i = 0; i < v->n; i++) {
                _cleanup_free_ char *ipath = path_index(path, i);
                if (scalar_text(p, v->items[i], ipath, what, &final[i]) < 0)
                        return -1;
                if (!valid_key_path(final[i]))
                        return perr_expected(p, v->items[i], ipath, what, final[i]);
        }
        strv_free(s->final);
        s->final = TAKE_PTR(final);
        return 0;
}

/* ---- the chain ----------------------------------------------------------- */

struct level {
        struct ydoc doc;
        const char *label;      /* "name@version", owned by the spec's sources */
        char **final;           /* this base's final: paths */
};

struct chain {
        struct pctx *p;
        const struct spec_resolver *r;
        struct level levels[SPEC_MAX_CHAIN + 1]; /* the spec and its bases */
        size_t n;
        struct spec_repo *repos;        /* configured, then each level's repos: as met */
        size_t n_repos;
        struct spec_index **indexes;    /* one per repos[] entry, read once */
        struct ydoc arena;              /* merged maps */
};

static void chain_done(struct chain *c)
{
        for (size_t i = 0; i < c->n; i++) {
                ydoc_free(&c->levels[i].doc);
                strv_free(c->levels[i].final);
        }
        for (size_t i = 0; i < c->n_repos; i++)
                spec_index_free(c->indexes[i]);
        free(c->indexes);
        spec_repos_free(c->repos, c->n_repos);
        ydoc_free(&c->arena);
}

static const struct ypair *map_pair(const struct ynode *map, const char *key)
{
        if (!map || map->kind != YNODE_MAP)
                return NULL;
        for (size_t i = 0; i < map->n; i++)
                if (strlen(key) == map->pairs[i].key->len && streq(map->pairs[i].key->text, key))
                        return &map->pairs[i];
        return NULL;
}

static void add_repo(struct chain *c, const char *url, const char *key)
{
        for (size_t i = 0; i < c->n_repos; i++)
                if (streq(c->repos[i].url, url)) {
                        /* A key from repos: applies to the same place given with --repo. */
                        if (key && !c->repos[i].key_pem)
                                c->repos[i].key_pem = xstrdup(key);
                        return;
                }
        c->repos = xrealloc(c->repos, (c->n_repos + 1) * sizeof(*c->repos));
        c->indexes = xrealloc(c->indexes, (c->n_repos + 1) * sizeof(*c->indexes));
        c->repos[c->n_repos] = (struct spec_repo){ xstrdup(url), key ? xstrdup(key) : NULL };
        c->indexes[c->n_repos++] = NULL;
}

/* A level's repos: and final:, read with the spec's own handlers. */
static int read_level_keys(struct chain *c, const struct ynode *root, struct level *lv)
{
        struct spec tmp = {};
        const struct ypair *kv = map_pair(root, "repos");
        const struct ypair *fin = map_pair(root, "final");
        int r = 0;
        if (kv && h_repos(c->p, kv->value, "repos", &tmp, NULL) < 0)
                r = -1;
        if (r == 0 && fin && h_final(c->p, fin->value, "final", &tmp, NULL) < 0)
                r = -1;
        for (size_t i = 0; r == 0 && i < tmp.n_repos; i++)
                add_repo(c, tmp.repos[i].url, tmp.repos[i].key_pem);
        spec_repos_free(tmp.repos, tmp.n_repos);
        lv->final = tmp.final;
        return r;
}

static int index_of(struct chain *c, size_t i, berth_error **err)
{
        if (c->indexes[i])
                return 0;
        _cleanup_free_ char *state = NULL;
        if (c->repos[i].key_pem && berth_state_dir(&state, err) < 0)
                return -1;
        return spec_repo_index(c->r->io, &c->repos[i], state, &c->indexes[i], err);
}

/* The first repository, in order, with a version of name in range. */
static int select_base(struct chain *c, const char *name, const char *range, size_t *ret_repo,
                       const struct spec_index_entry **ret, berth_error **err)
{
        _cleanup_error_ berth_error *first_miss = NULL;
        if (c->n_repos == 0)
                return berth_error_make(err, BERTH_E_NOTFOUND, 0,
                                        "no spec repository is configured (--repo, BERTH_SPEC_REPOS or repos:)");
        for (size_t i = 0; i < c->n_repos; i++) {
                _cleanup_error_ berth_error *e = NULL;
                char *warning = NULL;
                if (index_of(c, i, &e) == 0 &&
                    spec_index_select(c->indexes[i], name, range, c->repos[i].url, ret, &warning, &e) == 0) {
                        if (warning)
                                berth_warn(&c->p->s->warnings, "extends", "%s", warning);
                        free(warning);
                        *ret_repo = i;
                        return 0;
                }
                if (e->kind != BERTH_E_NOTFOUND) {
                        *err = *err ? *err : TAKE_PTR(e);
                        return -1;
                }
                /* The nearest versions are worth most from a repository that has the name. */
                if (!first_miss || (strstr(e->msg, "no version of") && !strstr(first_miss->msg, "no version of"))) {
                        berth_error_free(first_miss);
                        first_miss = TAKE_PTR(e);
                }
        }
        *err = *err ? *err : TAKE_PTR(first_miss);
        return -1;
}

static int chain_error(struct chain *c, const struct ynode *at, berth_error **e)
{
        int kind = (*e)->kind;
        _cleanup_free_ char *text = berth_error_text(*e);
        berth_error_freep(e);
        /* A repository's trouble is not the spec's: exit 1, not 2. */
        if (kind == BERTH_E_INVALID || kind == BERTH_E_LIMIT)
                kind = BERTH_E_FAILED;
        return perr_at(c->p, kind, at->file, at->line, at->col, "extends",
                       "%s", text);
}

static char *cycle_text(struct chain *c, const char *name)
{
        _cleanup_dynbuf_ dynbuf b;
        dynbuf_init(&b, SIZE_MAX, NULL);
        const struct ypair *own = map_pair(c->levels[0].doc.root, "name");
        dynbuf_printf(&b, NULL, "%s", own && own->value->kind == YNODE_SCALAR ? own->value->text : c->p->s->path);
        for (size_t i = 1; i < c->n; i++)
                dynbuf_printf(&b, NULL, " -> %s", c->levels[i].label);
        dynbuf_printf(&b, NULL, " -> %s", name);
        return dynbuf_take(&b, NULL);
}

static bool in_chain(struct chain *c, const char *name)
{
        for (size_t i = 0; i < c->n; i++) {
                const struct ypair *own = map_pair(c->levels[i].doc.root, "name");
                if (own && own->value->kind == YNODE_SCALAR && streq(own->value->text, name))
                        return true;
        }
        return false;
}

static void record_base(struct spec *s, const char *name, const char *version, const char *repo, const char *sha)
{
        s->bases = xrealloc(s->bases, (s->n_bases + 1) * sizeof(*s->bases));
        struct spec_base *b = &s->bases[s->n_bases++];
        *b = (struct spec_base){ xstrdup(name), xstrdup(version), xstrdup(repo) };
        memcpy(b->sha256, sha, 65);
}

/* ---- the cache of spec files, for offline use with a lock ---------------- */

static char *cached_spec_path(const char *sha256)
{
        _cleanup_free_ char *cache = NULL;
        if (berth_cache_dir(&cache, NULL) < 0)
                return NULL;
        return xasprintf("%s/specs/%s.yaml", cache, sha256);
}

/* Written only after the digest matched, like a blob; a failure to write
 * costs a fetch next time, nothing else. */
static void cache_spec(const char *sha256, const char *buf, size_t len)
{
        _cleanup_free_ char *path = cached_spec_path(sha256);
        if (!path || access(path, F_OK) == 0)
                return;
        _cleanup_free_ char *dir = xstrndup(path, (size_t) (strrchr(path, '/') - path));
        _cleanup_error_ berth_error *e = NULL;
        if (mkdir_p(dir, 0700, &e) < 0 || write_file_atomic(AT_FDCWD, path, buf, len, 0600, &e) < 0)
                log_debug("cache %s: %s", path, e->msg);
}

/* The pinned base, if the lock has one at this depth that still fits. */
static const struct spec_base *pinned(struct chain *c, const char *name, const char *range)
{
        const struct spec_lock *l = c->r->lock;
        size_t depth = c->n - 1;
        if (!l || depth >= l->n_bases || !streq(l->bases[depth].name, name))
                return NULL;
        struct spec_version v;
        _cleanup_free_ char *problem = NULL;
        _cleanup_range_ struct spec_range *r = NULL;
        if (spec_version_parse(l->bases[depth].version, &v) < 0 || spec_range_parse(range, &r, &problem) < 0)
                return NULL;
        const char *exact = range[0] == '=' ? range + 1 : range;
        struct spec_version pin;
        bool fits = spec_range_matches(r, &v) || (spec_version_parse(exact, &pin) == 0 && spec_version_cmp(&pin, &v) == 0);
        return fits ? &l->bases[depth] : NULL;
}

/* A pinned base from the cache, else from its repository by digest. */
static int load_pinned(struct chain *c, const struct spec_base *b, char **ret_buf, size_t *ret_len,
                       berth_error **err)
{
        _cleanup_free_ char *path = cached_spec_path(b->sha256);
        if (path && read_file_bounded(AT_FDCWD, path, SPEC_FILE_MAX, "cached spec", ret_buf, ret_len, NULL) == 0)
                return 0;
        struct spec_repo repo = { .url = b->repo };
        struct spec_index_entry e = { .name = b->name, .version = b->version };
        memcpy(e.sha256, b->sha256, 65);
        if (spec_repo_spec(c->r->io, &repo, &e, ret_buf, ret_len, err) < 0)
                return -1;
        cache_spec(b->sha256, *ret_buf, *ret_len);
        return 0;
}

static int fetch_base(struct chain *c, const char *name, const char *range, struct spec_base *ret, char **ret_buf,
                      size_t *ret_len, berth_error **err)
{
        const struct spec_base *pin = pinned(c, name, range);
        if (pin) {
                *ret = *pin;
                return load_pinned(c, pin, ret_buf, ret_len, err);
        }
        if (c->r->lock && c->r->locked)
                return berth_error_make(err, BERTH_E_FAILED, 0, "berth.lock does not pin a version of %s that fits "
                                                                "\"%s\" (run berth lock)", name, range);
        const struct spec_index_entry *entry = NULL;
        size_t ri = 0;
        char probe[65];
        if (select_base(c, name, range, &ri, &entry, err) < 0)
                return -1;
        /* The cache holds only files whose digest matched: one there needs
         * no hashing (nor libcrypto loaded for it). */
        _cleanup_free_ char *cached = cached_spec_path(entry->sha256);
        if (!cached || read_file_bounded(AT_FDCWD, cached, SPEC_FILE_MAX, "cached spec", ret_buf, ret_len, NULL) < 0) {
                /* Where hashing cannot be done (the static berth), stop before fetching. */
                if (!c->r->io || !c->r->io->sha256 || c->r->io->sha256("", 0, probe, err) < 0)
                        return berth_error_make(err, BERTH_E_FAILED, 0, "sha256 is not available here");
                if (spec_repo_spec(c->r->io, &c->repos[ri], entry, ret_buf, ret_len, err) < 0)
                        return -1;
                cache_spec(entry->sha256, *ret_buf, *ret_len);
        }
        *ret = (struct spec_base){ entry->name, entry->version, c->repos[ri].url };
        memcpy(ret->sha256, entry->sha256, 65);
        return 0;
}

/* Fetch and parse the base the last level's extends: names. */
static int load_base(struct chain *c, const struct ynode *ext, const char *name, const char *range)
{
        struct pctx *p = c->p;
        _cleanup_error_ berth_error *e = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t len;
        struct spec_base b = {};
        if (fetch_base(c, name, range, &b, &buf, &len, &e) < 0)
                return chain_error(c, ext, &e);
        char *label = xasprintf("%s@%s", name, b.version);
        p->s->sources = strv_append(p->s->sources, label);
        record_base(p->s, name, b.version, b.repo, b.sha256);
        struct spec_limits lim;
        spec_limits_default(&lim);
        struct level *lv = &c->levels[c->n];
        if (ydoc_parse(&lv->doc, label, buf, len, &lim, p->err) < 0)
                return -1;
        c->n++;
        if (!lv->doc.root || lv->doc.root->kind != YNODE_MAP)
                return perr_expected(p, lv->doc.root, NULL, "a mapping of spec keys (berth, name, image, ...)", NULL);
        lv->label = label;
        return read_level_keys(c, lv->doc.root, lv);
}

/* "name@range" from an extends: node; false if there is none. */
static int extends_of(struct chain *c, const struct ynode *root, const struct ynode **ret_node, char **ret_name,
                      char **ret_range)
{
        const struct ypair *kv = map_pair(root, "extends");
        if (!kv)
                return 0;
        struct spec tmp = { .path = c->p->s->path };
        struct field f = { "extends" };
        if (h_extends(c->p, kv->value, "extends", &tmp, &f) < 0)
                return -1;
        char *at = strchr(tmp.extends, '@');
        *ret_name = xstrndup(tmp.extends, (size_t) (at - tmp.extends));
        *ret_range = xstrdup(at + 1);
        *ret_node = kv->value;
        free(tmp.extends);
        return 1;
}

static int resolve_chain(struct chain *c)
{
        for (;;) {
                const struct ynode *ext;
                _cleanup_free_ char *name = NULL, *range = NULL;
                int r = extends_of(c, c->levels[c->n - 1].doc.root, &ext, &name, &range);
                if (r <= 0)
                        return r;
                if (in_chain(c, name)) {
                        _cleanup_free_ char *cycle = cycle_text(c, name);
                        return perr(c->p, ext, "extends", "cycle: %s", cycle);
                }
                if (c->n == SPEC_MAX_CHAIN + 1)
                        return perr(c->p, ext, "extends", "chain deeper than the limit of %d bases",
                                    SPEC_MAX_CHAIN);
                if (load_base(c, ext, name, range) < 0)
                        return -1;
        }
}

/* ---- final ------------------------------------------------------------- */

/* The first key a value sets: itself, or inside a mapping the first key below. */
static const struct ypair *first_leaf(const struct ypair *kv, char **path)
{
        while (kv->value->kind == YNODE_MAP && kv->value->n > 0) {
                kv = &kv->value->pairs[0];
                char *next = path_key(*path, kv->key);
                free(*path);
                *path = next;
        }
        return kv;
}

/* Does the overriding tree set the final path (or replace or remove what holds it)? */
static int check_final(struct chain *c, const struct ynode *over, const char *final, const char *owner)
{
        _cleanup_free_ char *copy = xstrdup(final), *path = xstrdup("");
        const struct ynode *map = over;
        char *save = NULL;
        for (char *seg = strtok_r(copy, ".", &save); seg; seg = strtok_r(NULL, ".", &save)) {
                const struct ypair *kv = map_pair(map, seg);
                if (!kv)
                        return 0;
                char *next = path_key(path, kv->key);
                free(path);
                path = next;
                bool last = !*save;
                if (last || kv->value->kind != YNODE_MAP) {
                        kv = first_leaf(kv, &path);
                        return perr(c->p, kv->key, path, "final in %s, cannot be overridden", owner);
                }
                map = kv->value;
        }
        return 0;
}

static int check_finals(struct chain *c, size_t upto, const struct ynode *over)
{
        for (size_t i = c->n; i-- > upto + 1;)
                for (char **f = c->levels[i].final; f && *f; f++)
                        if (check_final(c, over, *f, c->levels[i].label) < 0)
                                return -1;
        return 0;
}

/* ---- merge --------------------------------------------------------------- */

static struct ynode *map_like(struct chain *c, const struct ynode *pos)
{
        struct ynode *n = ydoc_add_node(&c->arena, YNODE_MAP, pos);
        return n;
}

static void map_push(struct ynode *m, const struct ynode *key, const struct ynode *value)
{
        if (m->n == m->cap) {
                m->cap = m->cap ? m->cap * 2 : 8;
                m->pairs = xrealloc(m->pairs, m->cap * sizeof(*m->pairs));
        }
        m->pairs[m->n++] = (struct ypair){ (struct ynode *) key, (struct ynode *) value };
        m->weight += value->weight + 1;
}

static bool identity_key(const struct ynode *key)
{
        static const char *const own[] = { "name", "version", "description", "extends", "final", "repos", NULL };
        for (size_t i = 0; own[i]; i++)
                if (streq(key->text, own[i]))
                        return true;
        return false;
}

/* over on top of base: maps merge key by key, anything else replaces, null
 * removes. NULL for a removed value. */
static const struct ynode *merge(struct chain *c, const struct ynode *base, const struct ynode *over, bool top)
{
        if (ynode_is_null(over))
                return NULL;
        if (over->kind != YNODE_MAP)
                return over;
        struct ynode *m = map_like(c, over);
        bool base_map = base && base->kind == YNODE_MAP;
        for (size_t i = 0; base_map && i < base->n; i++) {
                const struct ypair *b = &base->pairs[i];
                if (top && identity_key(b->key))
                        continue;
                const struct ypair *o = map_pair(over, b->key->text);
                const struct ynode *v = o ? merge(c, b->value, o->value, false) : b->value;
                if (v)
                        map_push(m, o ? o->key : b->key, v);
        }
        for (size_t i = 0; i < over->n; i++) {
                const struct ypair *o = &over->pairs[i];
                if (base_map && map_pair(base, o->key->text) && !(top && identity_key(o->key)))
                        continue;
                const struct ynode *v = merge(c, NULL, o->value, false);
                if (v)
                        map_push(m, o->key, v);
        }
        return m;
}

static const struct ynode *merge_chain(struct chain *c)
{
        const struct ynode *acc = c->levels[c->n - 1].doc.root;
        for (size_t i = c->n - 1; i-- > 0;) {
                if (check_finals(c, i, c->levels[i].doc.root) < 0)
                        return NULL;
                acc = merge(c, acc, c->levels[i].doc.root, true);
        }
        return acc;
}

/* The project's tree with its extends chain merged in; *doc keeps its nodes. */
int spec_resolve_tree(struct pctx *p, const struct spec_resolver *r, struct ydoc *doc, const struct ynode **ret,
                      void **ret_state)
{
        struct chain *c = xcalloc(1, sizeof(*c));
        *ret_state = c;
        c->p = p;
        c->r = r;
        c->levels[0].doc = *doc;
        *doc = (struct ydoc){};
        c->n = 1;
        for (size_t i = 0; r && i < r->n_repos; i++)
                add_repo(c, r->repos[i].url, r->repos[i].key_pem);
        if (read_level_keys(c, c->levels[0].doc.root, &c->levels[0]) < 0)
                return -1;
        if (!r || (c->n_repos == 0 && !r->lock)) {
                const struct ynode *ext;
                _cleanup_free_ char *name = NULL, *range = NULL;
                if (extends_of(c, c->levels[0].doc.root, &ext, &name, &range) < 0)
                        return -1;
                return perr_at(p, BERTH_E_NOTFOUND, ext->file, ext->line, ext->col, "extends",
                               "cannot resolve \"%s@%s\": no spec repository is configured (--repo, "
                               "BERTH_SPEC_REPOS or repos:)", name, range);
        }
        if (resolve_chain(c) < 0)
                return -1;
        const struct ynode *merged = merge_chain(c);
        if (!merged)
                return -1;
        *ret = merged;
        return 0;
}

void spec_resolve_done(void *state)
{
        struct chain *c = state;
        if (!c)
                return;
        chain_done(c);
        free(c);
}
