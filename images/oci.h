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
#define OCI_RECORD_MAX 8192           /* a record in <cache>/oci: a key (a reference is at most 4 KiB) and three digests */

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
        char **diff_ids;        /* their sha256 hex, NULL-terminated */
};
void oci_config_done(struct oci_config *c);
static inline void oci_config_donep(struct oci_config *c) { oci_config_done(c); }
int oci_config_parse(const char *buf, size_t len, struct oci_config *ret, berth_error **err);

/* A layer's first bytes must be what its media type says: gzip, zstd or a
 * tar. A JSON document (or anything else) declared as a layer is refused. */
int oci_layer_sniff(const struct oci_descriptor *d, const unsigned char *head, size_t len, berth_error **err);

/* ---- the registry client (registry.c) --------------------------------------- */

/* One registry conversation for one reference: the endpoint (a mirror or the
 * registry itself), the credentials found for it and the token it gave. */
struct registry {
        struct oci_ref ref;
        char *ref_text;           /* canonical, named in every error */
        char **endpoints;         /* scheme://host[:port]: mirrors first, then the registry */
        size_t endpoint;          /* the one in use */
        char *authorization;      /* "Authorization: …" for the next requests, or NULL */
        char *basic;              /* base64 user:password from an auth file, or NULL */
        char *auth_file;          /* the file basic came from, or NULL */
        const struct images_opts *opts;
        unsigned timeout_s;       /* bound on one manifest, config or token request */
        char top_hex[65];         /* the first document the reference named */
};
#define REGISTRY_INIT { .endpoint = 0 }

struct registry_reply {
        char *body;
        size_t len;
        char *content_type;       /* or NULL */
        char *digest;             /* Docker-Content-Digest, or NULL */
};
void registry_reply_done(struct registry_reply *r);

int registry_open(const struct oci_ref *ref, const struct images_opts *opts, struct registry *ret, berth_error **err);
void registry_close(struct registry *r);
static inline void registry_closep(struct registry *r) { registry_close(r); }

/* GET /v2/<repository>/<kind>/<name> into memory, at most max bytes, with
 * the token dance on a 401. kind is "manifests" or "blobs". */
int registry_get(struct registry *r, const char *kind, const char *name, const char *accept, size_t max,
                 struct registry_reply *ret, berth_error **err);
/* HEAD the reference's tag: 0 and its digest from Docker-Content-Digest,
 * 1 when the registry gives none. */
int registry_head_digest(struct registry *r, char ret_hex[static 65], berth_error **err);
/* Where a layer blob is, for the downloader, and the header it needs. */
char *registry_blob_url(const struct registry *r, const char *hex);

/* An image resolved from a reference: its manifest (after the index, if
 * any), verified, and its config, verified and parsed. */
struct oci_image {
        char top_hex[65];         /* what the reference names (an index, or the manifest) */
        char manifest_hex[65];
        char *manifest_json;
        size_t manifest_len;
        struct oci_manifest manifest;
        char *config_json;
        size_t config_len;
        struct oci_config config;
};
void oci_image_done(struct oci_image *im);
static inline void oci_image_donep(struct oci_image *im) { oci_image_done(im); }

/* Follow the reference through an index to want's manifest and fetch the
 * config. Every document is checked against its digest and size. */
int registry_resolve(struct registry *r, const struct oci_platform *want, struct oci_image *ret, berth_error **err);

/* ---- shared by the registry and archive pulls (oci-pull.c) -------------------- */

/* Records of what a source resolved to, in <cache>/oci: key -> manifest, config. */
int oci_open_records(struct store *s, berth_error **err);
char *oci_record_key(const char *source, const struct oci_platform *p);
/* The image the record names, if it and all its layers are in the cache. */
int oci_from_record(struct store *s, int records, const char *key, struct oci_image *im);
/* The manifest, config and record, once the layers are in. */
int oci_keep_documents(struct store *s, int records, const char *key, const struct oci_image *im, berth_error **err);
void oci_fill_result(struct store *s, const char *source, struct oci_image *im, struct images_oci_image *ret);
/* Which of a manifest's layers were not in the cache before a pull, so that
 * a pull that failed on bad content takes them out again. */
struct oci_added {
        bool *blob, *layer;
};
void oci_note_added(struct store *s, const struct oci_manifest *m, struct oci_added *a);
void oci_take_out(struct store *s, const struct oci_manifest *m, const struct oci_added *a);
