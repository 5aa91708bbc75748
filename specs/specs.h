/* specs: the berth.yaml model, parsed with positions and validated.
 * Uses common and libyaml only. */
#pragma once

#include "common/common.h"

/* Where a value was written, for FILE:LINE:COL messages. */
struct spec_pos {
        const char *file;  /* borrowed from struct spec; as given on the command line */
        int line;          /* 1-based; 0 if unknown */
        int col;           /* 1-based */
};

/* One image layer, bottom first. */
struct spec_layer {
        char *name;        /* optional runtime name, e.g. "python" */
        char *version;     /* optional runtime version it provides */
        char *url;         /* http(s)://, file://, or a path; relative paths are
                            * already resolved against the spec's folder. NULL for
                            * an OCI image (oci:) */
        char *oci;         /* an OCI reference, canonical (common/oci-ref.h), or NULL */
        char *oci_archive; /* an OCI layout as a tar: URL or absolute path, or NULL */
        char *docker_archive; /* `docker save` output: URL or absolute path, or NULL */
        char *ref;         /* which image of an archive (its tag or reference), or NULL */
        char *platform;    /* os/arch[/variant] to pick from an index, or NULL = the host's */
        char *sha256;      /* 64 lowercase hex, or NULL where allowed (file/path); for
                            * oci, only ever from berth.lock: what the tag resolved to */
        char **check;      /* optional argv for `berth verify`, NULL-terminated */
        struct spec_pos pos;
};

enum spec_mount_type { SPEC_MOUNT_BIND, SPEC_MOUNT_TMPFS, SPEC_MOUNT_VOLUME };

struct spec_mount {
        enum spec_mount_type type;
        char *source;      /* bind: absolute host path; volume: volume name; tmpfs: NULL */
        char *target;      /* absolute path inside the sandbox */
        bool read_only;
        uint64_t size;     /* tmpfs size in bytes; 0 = kernel default */
        struct spec_pos pos;
};

struct spec_env {
        char *name;
        char *value;       /* ${VAR} expansions already applied */
};

/* 0 means "not declared" for every field. */
struct spec_resources {
        uint64_t memory;       /* bytes */
        uint32_t millicpus;    /* cpus: 1.5 -> 1500 */
        uint64_t pids;
        uint64_t nofile;
};

enum spec_network { SPEC_NET_PRIVATE = 0, SPEC_NET_NONE, SPEC_NET_HOST };

struct spec_port {
        char *host_ip;         /* NULL = not written: 127.0.0.1 (docs/SPEC.md) */
        uint16_t host_port;
        uint16_t container_port;
        bool udp;              /* "/udp"; TCP otherwise */
        struct spec_pos pos;
};

enum spec_seccomp_mode { SPEC_SECCOMP_DEFAULT = 0, SPEC_SECCOMP_UNCONFINED, SPEC_SECCOMP_PROFILE };

struct spec_security {
        enum spec_seccomp_mode seccomp;
        char *seccomp_profile; /* absolute path when seccomp == SPEC_SECCOMP_PROFILE */
        char **cap_add;        /* upper-case names without CAP_, NULL-terminated (may be NULL) */
        char **cap_drop;       /* likewise; "ALL" allowed */
        bool read_only;
};

struct spec_healthcheck {
        char **command;        /* NULL-terminated argv; NULL = no healthcheck */
        uint64_t interval_ms;
        uint64_t timeout_ms;
        uint64_t start_period_ms;
        uint32_t retries;
};

enum spec_restart { SPEC_RESTART_NO = 0, SPEC_RESTART_ON_FAILURE, SPEC_RESTART_ALWAYS };

struct spec_service {
        char *name;
        struct spec_layer *image;   /* NULL/0 = the environment's image */
        size_t n_image;
        char **command;             /* NULL-terminated argv */
        char *user;                 /* NULL = environment's user */
        char *workdir;              /* NULL = environment's workdir */
        struct spec_env *env;       /* the service's own; the environment's env applies beneath */
        size_t n_env;
        struct spec_mount *mounts;
        size_t n_mounts;
        struct spec_port *ports;
        size_t n_ports;
        struct spec_healthcheck healthcheck;
        enum spec_restart restart;
        uint64_t stop_timeout_ms;   /* default 10000 */
        struct spec_resources resources;
        char **depends_on;          /* names of services, NULL-terminated (may be NULL) */
        struct spec_pos pos;
        struct spec_pos *depends_on_pos; /* where each depends_on entry was written */
};

/* One spec of a resolved extends chain. */
struct spec_base {
        char *name;
        char *version;
        char *repo;             /* the repository's URL or folder */
        char sha256[65];        /* of the spec file */
};

struct spec_repo;

struct spec {
        char *path;                 /* the file as given */
        char *dir;                  /* absolute folder of the spec: base for relative paths */
        int schema;                 /* `berth:`; only 1 exists */
        char *name;
        char *version;              /* semver or NULL */
        char *description;
        char *extends;              /* "name@range" or NULL */
        struct spec_pos extends_pos;
        struct spec_layer *image;
        size_t n_image;
        char *workdir;              /* NULL = / */
        struct spec_mount *mounts;
        size_t n_mounts;
        struct spec_env *env;
        size_t n_env;
        char *user;                 /* "uid[:gid]" or a name; NULL = root inside */
        struct spec_resources resources;
        enum spec_network network;
        struct spec_port *ports;
        size_t n_ports;
        struct spec_security security;
        struct spec_service *services; /* in a start order: dependencies first */
        size_t n_services;
        struct spec_repo *repos;    /* `repos:`, where extends is resolved (after --repo and BERTH_SPEC_REPOS) */
        size_t n_repos;
        char **final;               /* `final:`: key paths a spec extending this one may not set */
        struct spec_base *bases;    /* the extends chain as resolved, nearest first */
        size_t n_bases;
        char **sources;             /* names of the base specs' files in positions (owned) */
        /* What cli/ should show: keys parsed and valid that berth does not
         * act on yet, at their positions; a yanked version pinned; ... */
        berth_warnings warnings;
};

/* Bounds on hostile input; defaults in spec_limits_default(). */
struct spec_limits {
        size_t max_file_size;       /* bytes */
        size_t max_depth;           /* nesting of mappings/sequences */
        size_t max_nodes;           /* nodes in the document, aliases expanded */
};
void spec_limits_default(struct spec_limits *ret);

/* Parse and validate the spec at path. Errors are BERTH_E_INVALID (or
 * BERTH_E_LIMIT for a bound) with the message "FILE:LINE:COL: key.path: ...". */
int spec_load(const char *path, struct spec **ret, berth_error **err);
/* Same from memory. name is used in positions; base_dir resolves relative paths. */
int spec_parse(const char *name, const char *buf, size_t len, const char *base_dir, const struct spec_limits *limits,
               struct spec **ret, berth_error **err);
void spec_free(struct spec *s);

struct spec_io;
struct spec_lock;
/* Where and how `extends:` is resolved. */
struct spec_resolver {
        const struct spec_io *io;
        const struct spec_repo *repos;  /* --repo, then BERTH_SPEC_REPOS; the spec's repos: follow */
        size_t n_repos;
        const struct spec_lock *lock;   /* pins: each base comes from the cache (or its repository, by
                                         * digest) as pinned, when it still fits the extends range */
        bool locked;                    /* a pin that no longer fits is an error, not re-resolved */
};
/* spec_load() and spec_parse() with extends resolved through r (NULL: a
 * spec with extends is refused, BERTH_E_NOTFOUND). Errors in a base spec
 * point into it as NAME@VERSION:LINE:COL. */
int spec_load_resolved(const char *path, const struct spec_resolver *r, struct spec **ret, berth_error **err);
/* The same, also handing back the file's bytes as read (for publish and lock). */
int spec_load_bytes(const char *path, const struct spec_resolver *r, struct spec **ret, char **ret_buf,
                    size_t *ret_len, berth_error **err);
int spec_parse_resolved(const char *name, const char *buf, size_t len, const char *base_dir,
                        const struct spec_limits *limits, const struct spec_resolver *r, struct spec **ret,
                        berth_error **err);
/* Bases an extends chain may have. */
#define SPEC_MAX_CHAIN 8
static inline void spec_freep(struct spec **s) { if (*s) spec_free(*s); }
#define _cleanup_spec_ _cleanup_(spec_freep)

/* Capability names without CAP_, indexed by number, NULL-terminated. */
const char *const *spec_cap_names(void);
/* [a-z0-9][a-z0-9-]{0,62}: a spec, service or volume name. */
bool spec_valid_name(const char *s);

/* "512MiB" -> bytes; "1.5s" is not a size. Returns 0 or -1 with *ret untouched. */
int spec_parse_size(const char *s, uint64_t *ret);
/* "1s", "250ms", "2m", "1h" -> milliseconds. */
int spec_parse_duration(const char *s, uint64_t *ret_ms);

/* ---- versions and ranges ------------------------------------------------ */

/* A semantic version (semver 2.0). Build metadata is dropped: it does not
 * take part in precedence. */
struct spec_version {
        uint64_t major, minor, patch;   /* each below 2^62 */
        char pre[128];                  /* prerelease identifiers; "" for a release */
};
/* 0, or -1 if s is not a semantic version (leading zeros, a missing part,
 * a prerelease longer than 127 bytes). */
int spec_version_parse(const char *s, struct spec_version *ret);
/* <0, 0, >0 by semver precedence: 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-beta < 1.0.0. */
int spec_version_cmp(const struct spec_version *a, const struct spec_version *b);

/* A range as npm and cargo write them: 1.2.3 (exact), ^1.2, ~1.2.3, 1.x,
 * >=1.2 <2 (also with a comma), 1.2 - 1.4, *, and || between alternatives. */
struct spec_range;
/* 0, or -1 with *ret_problem (owned) saying what cannot be read. */
int spec_range_parse(const char *s, struct spec_range **ret, char **ret_problem);
void spec_range_free(struct spec_range *r);
/* A prerelease matches only where the range names a prerelease of the same
 * major.minor.patch: ^1.2.3-beta.1 takes 1.2.3-beta.2, never 1.3.0-alpha. */
bool spec_range_matches(const struct spec_range *r, const struct spec_version *v);
/* The lowest version the range's first alternative admits (0.0.0 if none):
 * where to look for the nearest versions when nothing matches. */
void spec_range_floor(const struct spec_range *r, struct spec_version *ret);
DEFINE_CLEANUP_FUNC(struct spec_range *, spec_range_free)
#define _cleanup_range_ _cleanup_(spec_range_freep)

/* ---- spec repositories --------------------------------------------------- */

/* What specs/ cannot do with libc, libyaml and jansson alone; cli/ fills it
 * in from images/ (libcrypto, libcurl). Any member may be NULL: what needs it
 * then fails with an error that says so. */
struct spec_io {
        /* sha256 of data as 64 lowercase hex digits. */
        int (*sha256)(const void *data, size_t len, char ret[65], berth_error **err);
        /* GET an http(s) URL, refusing more than max bytes (BERTH_E_LIMIT);
         * a 404 is BERTH_E_NOTFOUND. */
        int (*fetch)(const char *url, size_t max, char **ret_buf, size_t *ret_len, berth_error **err);
        /* An Ed25519 signature of data, as 128 hex digits, with the private key in key_path. */
        int (*sign)(const char *key_path, const void *data, size_t len, char **ret_sig_hex, berth_error **err);
        /* 0 if sig_hex is a valid signature of data by the public key (PEM);
         * else -1 with BERTH_E_DIGEST. */
        int (*verify)(const char *pubkey_pem, const void *data, size_t len, const char *sig_hex, berth_error **err);
};

/* Bounds on an index.json and on a spec file. */
#define SPEC_INDEX_MAX (16u << 20)
#define SPEC_FILE_MAX (1u << 20)

struct spec_index_entry {
        char *name;
        char *version;          /* as published */
        struct spec_version v;
        char sha256[65];        /* of the spec file, stored as specs/<sha256>.yaml */
        bool yanked;
        char *published;        /* UTC, 2026-01-31T12:00:00Z */
};

struct spec_index {
        uint64_t sequence;      /* grows with every publish and yank */
        struct spec_index_entry *entries; /* by name, then version precedence */
        size_t n;
        /* The entries' strings belong to the index: in place in a parsed
         * index's text, or each in owned. */
        char *text;
        char **owned;
};

/* what names the index in messages (a repository's URL). Malformed input is
 * BERTH_E_INVALID, more than SPEC_INDEX_MAX bytes BERTH_E_LIMIT. */
int spec_index_parse(const char *buf, size_t len, const char *what, struct spec_index **ret, berth_error **err);
/* The same, keeping text (len bytes, from malloc), which it writes in:
 * taken even on failure. */
int spec_index_parse_owned(char *text, size_t len, const char *what, struct spec_index **ret, berth_error **err);
struct spec_index *spec_index_new(void);
void spec_index_free(struct spec_index *idx);
DEFINE_CLEANUP_FUNC(struct spec_index *, spec_index_free)
#define _cleanup_index_ _cleanup_(spec_index_freep)
char *spec_index_dump(const struct spec_index *idx);
const struct spec_index_entry *spec_index_find(const struct spec_index *idx, const char *name,
                                               const struct spec_version *v);
void spec_index_add(struct spec_index *idx, const char *name, const char *version, const char *sha256,
                    const char *published);
/* The highest version of name that range admits and is not yanked; an exact
 * pin (1.2.3 or =1.2.3) also takes a yanked version, with *ret_warning set.
 * Nothing matching is BERTH_E_NOTFOUND naming the nearest versions. */
int spec_index_select(const struct spec_index *idx, const char *name, const char *range, const char *what,
                      const struct spec_index_entry **ret, char **ret_warning, berth_error **err);

/* A repository: a folder or an http(s) URL serving the same files:
 *   index.json            the index (above)
 *   index.json.sig        hex Ed25519 signature of index.json, if signed
 *   specs/<sha256>.yaml   each published spec file, as written */
struct spec_repo {
        char *url;
        char *key_pem;          /* the public key the index must be signed by; NULL = none asked */
};
void spec_repos_free(struct spec_repo *r, size_t n);

/* Read the repository's index, checking its signature when repo->key_pem is
 * set and, with state_dir, that its sequence did not go back (the highest
 * seen is kept per repository in state_dir/spec-repos/; the resolver
 * passes berth_state_dir()). */
int spec_repo_index(const struct spec_io *io, const struct spec_repo *repo, const char *state_dir,
                    struct spec_index **ret, berth_error **err);
/* The spec file an entry names, checked against its digest (BERTH_E_DIGEST). */
int spec_repo_spec(const struct spec_io *io, const struct spec_repo *repo, const struct spec_index_entry *e,
                   char **ret_buf, size_t *ret_len, berth_error **err);
/* Publish buf (the spec file s was parsed from) to the folder dir: refuses a
 * version already there (versions are immutable); writes the file by
 * content, then the index, atomically, under dir/.lock. With key_path the
 * index is signed; a signed repository refuses a change without one. */
int spec_repo_publish(const struct spec_io *io, const char *dir, const struct spec *s, const char *buf, size_t len,
                      const char *key_path, berth_error **err);
/* Mark name@version yanked in the folder dir (same locking and signing). */
int spec_repo_yank(const struct spec_io *io, const char *dir, const char *name, const char *version,
                   const char *key_path, berth_error **err);

/* ---- berth.lock ------------------------------------------------------------ */

struct spec_lock_layer {
        char *where;            /* image[1], services.db.image[0] */
        char *url;
        char sha256[65];
};

struct spec_lock {
        char spec_sha256[65];   /* of the spec file's bytes */
        struct spec_base *bases;
        size_t n_bases;
        struct spec_lock_layer *layers;
        size_t n_layers;
};

/* A missing file is BERTH_E_NOTFOUND; a malformed one an error naming it. */
int spec_lock_read(const char *path, struct spec_lock **ret, berth_error **err);
void spec_lock_free(struct spec_lock *l);
DEFINE_CLEANUP_FUNC(struct spec_lock *, spec_lock_free)
/* The lockfile's text for s, whose layers must all have a digest. */
char *spec_lock_dump(struct spec *s, const char *spec_sha256);
/* Compare s with what lock pins: NULL if it matches, else one line per
 * change. Layers without a digest take the pinned one. */
char **spec_lock_apply(struct spec_lock *lock, struct spec *s);
