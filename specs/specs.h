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
        char *sha256;      /* 64 lowercase hex, or NULL where allowed (file/path) */
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
        char *host_ip;         /* NULL = all addresses, as docker does */
        uint16_t host_port;
        uint16_t container_port;
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
static inline void spec_freep(struct spec **s) { if (*s) spec_free(*s); }
#define _cleanup_spec_ _cleanup_(spec_freep)

/* "512MiB" -> bytes; "1.5s" is not a size. Returns 0 or -1 with *ret untouched. */
int spec_parse_size(const char *s, uint64_t *ret);
/* "1s", "250ms", "2m", "1h" -> milliseconds. */
int spec_parse_duration(const char *s, uint64_t *ret_ms);
