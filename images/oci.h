/* images: OCI images — manifests, indexes and configs (oci-manifest.c), the
 * registry client (registry.c), archives (oci-archive.c). Private to the
 * module. Media types: the OCI image spec v1.1 and Docker's schema 2. */
#pragma once

#include "common/oci-ref.h"
#include "private.h"

/* Bounds on what a registry or an archive may hand us. */
#define OCI_MANIFEST_MAX (4u << 20)   /* a manifest or an index */
#define OCI_CONFIG_MAX (8u << 20)     /* an image config (history can be long) */
#define OCI_MAX_LAYERS 256
#define OCI_MAX_MANIFESTS 1024        /* entries of one index */
#define OCI_MAX_DEPTH 4               /* indexes nested in indexes */

enum oci_kind {
        OCI_KIND_UNSUPPORTED,
        OCI_KIND_MANIFEST,      /* OCI image manifest or Docker schema 2 manifest */
        OCI_KIND_INDEX,         /* OCI image index or Docker manifest list */
        OCI_KIND_CONFIG,        /* an image config */
        OCI_KIND_LAYER,         /* a layer tar, plain or compressed */
};

/* The kind of a media type (its parameters after ';' ignored). */
enum oci_kind oci_media_kind(const char *media_type);
/* The media types a client accepts for a manifest, for the Accept header. */
extern const char *const oci_manifest_types[];

struct oci_descriptor {
        char *media_type;
        char hex[65];           /* sha256 */
        uint64_t size;
        bool has_platform;
        struct oci_platform platform;
};

struct oci_manifest {
        enum oci_kind kind;     /* MANIFEST or INDEX */
        char *media_type;
        struct oci_descriptor config;       /* MANIFEST */
        struct oci_descriptor *items;       /* MANIFEST: layers, bottom first; INDEX: manifests */
        size_t n_items;
};
void oci_manifest_done(struct oci_manifest *m);
static inline void oci_manifest_donep(struct oci_manifest *m) { oci_manifest_done(m); }

/* Check that buf is the blob d describes: its size, then its sha256. what
 * names it in the error ("manifest", "config"). BERTH_E_DIGEST or
 * BERTH_E_LIMIT. */
int oci_check_blob(const char *what, const struct oci_descriptor *d, const void *buf, size_t len, berth_error **err);

/* Parse a manifest or an index. declared is the media type it came with
 * (the registry's Content-Type, or the descriptor that pointed at it); the
 * document's own mediaType must agree with it. Any unsupported media type,
 * of the document, its config or a layer, is refused here, before anything
 * is fetched. */
int oci_manifest_parse(const char *buf, size_t len, const char *declared, struct oci_manifest *ret,
                       berth_error **err);

/* Pick the manifest for want from an index. BERTH_E_NOTFOUND lists the
 * platforms the index has. */
int oci_index_select(const struct oci_manifest *index, const struct oci_platform *want,
                     const struct oci_descriptor **ret, berth_error **err);

/* What an image config says the container should run with. */
struct oci_config {
        char **env;             /* NAME=value, NULL-terminated (may be empty) */
        char *workdir;
        char *user;
        char **entrypoint;      /* NULL = none */
        char **cmd;             /* NULL = none */
        char os[32], arch[32], variant[32];
        size_t n_diff_ids;      /* rootfs.diff_ids: one per layer */
};
void oci_config_done(struct oci_config *c);
static inline void oci_config_donep(struct oci_config *c) { oci_config_done(c); }
int oci_config_parse(const char *buf, size_t len, struct oci_config *ret, berth_error **err);

/* A layer's first bytes must be what its media type says: gzip, zstd or a
 * tar. A JSON document (or anything else) declared as a layer is refused. */
int oci_layer_sniff(const struct oci_descriptor *d, const unsigned char *head, size_t len, berth_error **err);
