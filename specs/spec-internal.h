/* specs/ private: the positioned YAML tree and the helpers the parser
 * shares between its files. Not part of the public API. */
#pragma once

#include "specs/specs.h"

enum ynode_kind { YNODE_SCALAR, YNODE_MAP, YNODE_SEQ };

struct ynode;
struct ypair {
        struct ynode *key;
        struct ynode *value;
};

/* Nodes are owned by their ydoc; an alias shares the anchored node. */
struct ynode {
        enum ynode_kind kind;
        const char *file;       /* the file it was read from, for positions */
        int line, col;          /* 1-based */
        bool plain;             /* an unquoted, untagged scalar: may mean null */
        char *text;             /* scalar bytes, NUL-terminated */
        size_t len;
        struct ynode **items;   /* sequence */
        struct ypair *pairs;    /* mapping, in document order */
        size_t n;               /* items or pairs */
        size_t cap;
        size_t weight;          /* nodes in this subtree, aliases expanded */
};

struct ydoc {
        struct ynode *root;     /* NULL for an empty document */
        struct ynode **all;
        size_t n_all, cap_all;
};

/* Build the tree, enforcing limits; duplicate keys and YAML errors are
 * reported as "FILE:LINE:COL: path: ..." errors. */
int ydoc_parse(struct ydoc *doc, const char *file, const char *buf, size_t len, const struct spec_limits *limits,
               berth_error **err);
void ydoc_free(struct ydoc *doc);
/* A new empty node owned by doc, at pos's place (for merged mappings). */
struct ynode *ydoc_add_node(struct ydoc *doc, enum ynode_kind kind, const struct ynode *pos);

bool ynode_is_null(const struct ynode *n);

/* Printable form of untrusted text for messages: escaped, cut at max bytes. */
char *spec_quote(const char *s, size_t len, size_t max);
/* The same without quotes, cut at 64 bytes: a key in a key.path. */
char *spec_path_segment(const char *s, size_t len);

/* Expand ${VAR}, ${VAR:-default} and $$ from the host environment.
 * Returns -1 with *ret_problem (owned) saying what is wrong, or -2 if the
 * result would pass max bytes. */
int spec_expand(const char *in, size_t len, size_t max, char **ret, size_t *ret_len, char **ret_problem);

/* Value checks; each returns true if s is well-formed. */
bool spec_valid_name(const char *s);
bool spec_valid_semver(const char *s);
bool spec_valid_range(const char *s);
bool spec_valid_env_name(const char *s);
bool spec_valid_user(const char *s);
bool spec_valid_target(const char *s);
int spec_parse_millicpus(const char *s, uint32_t *ret);
int spec_parse_uint(const char *s, uint64_t max, uint64_t *ret);
int spec_parse_port(const char *s, char **ret_ip, uint16_t *ret_host, uint16_t *ret_container, bool *ret_udp);
/* "net_admin", "CAP_NET_ADMIN" -> "NET_ADMIN" if known; NULL otherwise. */
char *spec_normalize_cap(const char *s);
const char *const *spec_cap_names(void);
/* Lexically join base and path and drop "." and empty parts; ".." pops. */
char *spec_path_join(const char *base, const char *path);
