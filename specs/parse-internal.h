/* specs/ private: the schema walker's shared pieces (parse.c, parse-*.c). */
#pragma once

#include <stddef.h>

#include "spec-internal.h"

struct pctx {
        struct spec *s;
        const char *file;
        const char *base_dir;
        size_t expand_left;     /* bytes ${VAR} expansion may still produce */
        berth_error **err;
};

struct field;
typedef int (*field_fn)(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f);

/* One known key of a mapping: its handler writes at obj+off (and obj+off_n
 * for a list's length). */
struct field {
        const char *key;
        field_fn fn;
        size_t off, off_n;
        bool required;
};
#define MAX_FIELDS 24

#define AT(obj, f, type) ((type *) ((char *) (obj) + (f)->off))
#define AT_N(obj, f) ((size_t *) ((char *) (obj) + (f)->off_n))

/* file NULL: the spec's own. */
int perr_at(struct pctx *p, int kind, const char *file, int line, int col, const char *path, const char *fmt, ...)
        __attribute__((format(printf, 7, 8)));
int perr(struct pctx *p, const struct ynode *n, const char *path, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* "expected WHAT, got …" for the node n (and its expanded text, if any). */
int perr_expected(struct pctx *p, const struct ynode *n, const char *path, const char *what, const char *text);

char *path_key(const char *path, const struct ynode *key);
char *path_index(const char *path, size_t i);

/* Walk a mapping with known keys; ret_seen (MAX_FIELDS) gets each key's value node. */
int walk_map(struct pctx *p, const struct ynode *n, const char *path, const struct field *fields, void *obj,
             const struct ynode **ret_seen);
/* Check n is a list of at most max items. */
int check_seq(struct pctx *p, const struct ynode *n, const char *path, const char *what, size_t max);
/* A scalar's text with ${VAR} expanded; null, lists and mappings are errors. */
int scalar_text(struct pctx *p, const struct ynode *n, const char *path, const char *what, char **ret);

/* Field handlers shared by the spec and its services. */
int h_string(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f);
int h_name(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f);
int h_target(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f);
int h_user(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f);
int h_bool(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f);
int h_size(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f);
int h_duration(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f);
int h_argv(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f);
int h_layers(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f);
int h_mounts(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f);
int h_env(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f);
int h_ports(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f);
int h_resources(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f);
int h_services(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f);
int h_extends(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f);
int h_repos(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f);
int h_final(struct pctx *p, const struct ynode *v, const char *path, void *obj, const struct field *f);

/* extends: resolve the chain under the project's tree (doc, which it takes)
 * and merge it; *ret points into *ret_state, freed by spec_resolve_done(). */
int spec_resolve_tree(struct pctx *p, const struct spec_resolver *r, struct ydoc *doc, const struct ynode **ret,
                      void **ret_state);
void spec_resolve_done(void *state);

/* After all services are read: depends_on names exist, no cycles, and the
 * services are put dependencies-first. */
int spec_order_services(struct pctx *p, struct spec *s);

void spec_layers_free(struct spec_layer *l, size_t n);
void spec_mounts_free(struct spec_mount *m, size_t n);
void spec_env_free(struct spec_env *e, size_t n);
void spec_ports_free(struct spec_port *pt, size_t n);
void spec_services_free(struct spec_service *svcs, size_t n);

/* Bounds on lists, so every check over them stays cheap. */
#define MAX_LAYERS 64
#define MAX_MOUNTS 256
#define MAX_PORTS 256
#define MAX_SERVICES 256
#define MAX_ARGV 4096
#define MAX_CAPS 64
/* Expansion may grow the document, but not without bound. */
#define SPEC_MAX_EXPANDED (4u << 20)
