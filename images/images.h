/* images: download, verify, cache and safely unpack image archives; stack layers.
 * Uses common, libcurl, libarchive and libcrypto only. Details in docs/IMAGES.md.
 *
 * Cache layout under the cache folder (berth_cache_dir()):
 *   blobs/sha256/<hex>        a verified archive, renamed in only after its digest matched
 *   layers/sha256/<hex>/      the archive unpacked: one read-only layer folder per blob digest
 *   locks/<hex>.lock          flock()s so that concurrent berth processes fetch and unpack once
 *   locks/gc.lock             shared by pulls, exclusive for gc
 *   refs/<key>                who uses which digests (for `image ls` and `image gc`)
 *   locals/<key>              digests of local files without sha256, by path and stat
 * Temporary names (".<hex>.partial", ".<hex>.tmp-XXXXXX") live beside their final
 * name and are never visible under a final name.
 *
 * Layer folders and whiteouts (what the sandbox needs to mount them):
 *   - An OCI whiteout `.wh.NAME` becomes a character device 0:0 named NAME: the
 *     overlayfs whiteout. Since Linux 5.8 an unprivileged user may create it, and
 *     overlay honours it in any lower layer, also when mounted rootless.
 *   - An opaque marker `.wh..wh..opq` becomes the xattr user.overlay.opaque="y" on
 *     its folder, which overlay honours when mounted with the `userxattr` option.
 *   - The archive's own overlay/security/trusted xattrs are never written, so a layer
 *     cannot forge markers beyond what the two rules above produce.
 * Mount (inside the user namespace), topmost layer first in lowerdir:
 *   mount("overlay", root, "overlay", 0,
 *         "lowerdir=L[n-1]:...:L[0],upperdir=U,workdir=W,userxattr")
 * Without overlay, images_stack_copy() builds a merged folder instead. */
#pragma once

#include "common/common.h"

/* One layer to fetch. url is absolute: http://, https://, file:// or an absolute path. */
struct image_ref {
        const char *url;
        const char *sha256;     /* 64 lowercase hex; NULL allowed for file:// and paths */
        uint64_t size;          /* bytes the archive must have (an OCI descriptor's); 0 = unknown */
        const char *authorization; /* an "Authorization: …" header for the URL's host, or NULL */
};

/* Bounds on hostile input. images_opts_init() sets the defaults and applies the
 * environment overrides named in docs/IMAGES.md. 0 means "no limit" nowhere. */
struct images_limits {
        uint64_t max_download;      /* bytes of one archive (default 16 GiB) */
        uint64_t max_unpacked;      /* bytes of file data in one layer (default 16 GiB) */
        uint64_t max_entries;       /* entries in one layer (default 4,000,000) */
        unsigned max_redirects;     /* default 5 */
        unsigned retries;           /* transient failures retried per layer (default 5) */
        unsigned connect_timeout_s; /* default 30 */
        unsigned low_speed_time_s;  /* abort an attempt below 1 KiB/s for this long (default 15) */
        unsigned deadline_s;        /* give a layer up after this long without 1 MiB of progress,
                                     * attempts and waits included (default 120) */
        unsigned max_retry_after_s; /* Retry-After honoured up to this (default 60) */
};

enum images_event_kind {
        IMAGES_EV_START,     /* a layer is being fetched (not in the cache) */
        IMAGES_EV_PROGRESS,  /* bytes arrived */
        IMAGES_EV_RETRY,     /* a transient failure; will retry after delay_ms */
        IMAGES_EV_UNPACK,    /* the blob is verified; unpacking */
        IMAGES_EV_DONE,      /* the layer folder is ready (cached = it already was) */
};

struct images_event {
        enum images_event_kind kind;
        size_t index;           /* position of the layer in refs[] */
        const char *url;
        const char *sha256;     /* the digest, once known; else NULL */
        uint64_t bytes;         /* bytes of the archive so far */
        uint64_t total;         /* expected size, 0 if unknown */
        uint64_t elapsed_ms;    /* since this layer started */
        uint64_t delay_ms;      /* IMAGES_EV_RETRY */
        const char *reason;     /* IMAGES_EV_RETRY: what failed */
        bool cached;            /* IMAGES_EV_DONE */
        const char *layer_dir;  /* IMAGES_EV_DONE */
};

/* Called from the thread that called images_pull(), never concurrently. */
typedef void (*images_progress_fn)(const struct images_event *ev, void *userdata);

struct images_opts {
        const char *cache_dir;          /* NULL = berth_cache_dir() */
        struct images_limits limits;
        images_progress_fn progress;    /* may be NULL */
        void *userdata;
        const char *owner;              /* who uses the layers (a spec or lockfile path),
                                         * recorded for `image ls`/`image gc`; may be NULL */
        const char *ca_bundle;          /* extra trust for https ($BERTH_CA_BUNDLE); NULL = system */
};

/* Defaults plus the BERTH_IMAGE_* environment overrides. */
int images_opts_init(struct images_opts *ret, berth_error **err);

/* Fetch (in parallel), verify and unpack each layer once into the cache, and
 * return the absolute paths of the layer folders, bottom first, as a
 * NULL-terminated list of n strings (free with strv_free()). A digest mismatch is
 * BERTH_E_DIGEST naming the URL, the expected and the actual digest. */
int images_pull(const struct images_opts *opts, const struct image_ref *refs, size_t n, char ***ret_layer_dirs,
                berth_error **err);

/* A layer folder images_pull() returned was used again without a pull:
 * `image ls` shows it as used now. */
void images_mark_used(const char *layer_dir);

/* Only fetch and verify: the same as images_pull() without unpacking; returns
 * the paths of the verified archives in the cache (ret_blobs may be NULL). For
 * `berth lock` and the download benchmark. */
int images_fetch(const struct images_opts *opts, const struct image_ref *refs, size_t n, char ***ret_blobs,
                 berth_error **err);

/* Unpack one archive file into dest_dir (created; must not exist), with the safety
 * rules and limits of a layer. Used by images_pull(); exposed for tests and tools. */
int images_unpack_file(const char *archive_path, const char *dest_dir, const struct images_limits *limits,
                       berth_error **err);

/* The fallback without overlay: build a merged root in dest_dir (created; must not
 * exist, its parent must) from layer_dirs, bottom first, applying whiteouts and
 * opaque folders. Never deletes or writes outside dest_dir. With link, files are
 * hardlinked where possible and then share their inode with the cache: the
 * sandbox must keep dest_dir read-only. Without, every file is a reflink or a
 * copy of its own, and dest_dir may be written. With owned, everything made
 * belongs to uid:gid (as root: the sandbox's root, so the copy needs no
 * idmapped mount); otherwise to the caller. */
struct images_stack_opts {
        bool link;
        bool owned;
        uid_t uid;
        gid_t gid;
};
int images_stack_copy(char *const *layer_dirs, size_t n, const char *dest_dir, const struct images_stack_opts *o,
                      berth_error **err);

/* What images_pack() wrote, and what it left out or wrote as it could: the
 * caller turns the counts into warnings. */
struct images_pack_result {
        char sha256[65];
        size_t devices_skipped;     /* character and block devices: the sandbox brings its own /dev */
        size_t binary_names;        /* entries whose names are not UTF-8: written as bytes (hdrcharset=BINARY) */
};

/* Write a reproducible .tar.zst of dir to out_path (its folder is created when
 * missing): sorted entries, numeric owners 0:0, every mtime set to
 * SOURCE_DATE_EPOCH (0 if unset), names in UTF-8 whatever the locale. */
int images_pack(const char *dir, const char *out_path, struct images_pack_result *ret, berth_error **err);

/* Cache listing for `berth image ls`. */
struct images_entry {
        char sha256[65];
        uint64_t blob_size;         /* 0 if the blob was removed */
        uint64_t layer_size;        /* bytes of file data in the layer folder; 0 if none */
        int64_t last_used;          /* unix time */
        char **owners;              /* NULL-terminated; the refs that name this digest */
};
void images_entries_free(struct images_entry *v, size_t n);
int images_list(const char *cache_dir, struct images_entry **ret, size_t *ret_n, berth_error **err);

/* Record that owner (a path: spec, lockfile or environment state folder) uses
 * these digests, replacing what it recorded before. gc keeps them while the
 * owner path exists. */
int images_refs_set(const char *cache_dir, const char *owner, char *const *digests, size_t n, berth_error **err);

/* A running sandbox uses these layer folders (those of the cache among
 * them): gc keeps them while *ret_fd is open (a record in inuse/, locked;
 * -1 when none is of the cache). BERTH_E_NOTFOUND if gc removed one already. */
int images_inuse_hold(const char *cache_dir, char *const *layer_dirs, int *ret_fd, berth_error **err);
/* The sandbox ended: remove its record and close *fd (a holder killed
 * leaves its record to gc, which drops records nobody holds). */
void images_inuse_release(int *fd);

/* Remove blobs and layers that no existing owner references, no running
 * sandbox holds (images_inuse_hold()), nor keep[] (may be NULL), and the OCI
 * records (oci/) of images whose layers are not all kept. With dry_run, only
 * report. Returns what went (or would go). */
struct images_gc_result {
        size_t n_removed;
        uint64_t bytes_freed;
        char **removed;             /* digests, NULL-terminated */
};
void images_gc_result_done(struct images_gc_result *r);
int images_gc(const char *cache_dir, char *const *keep, bool dry_run, struct images_gc_result *ret,
              berth_error **err);

/* ---- OCI images (oci-pull.c) ------------------------------------------------ */

/* An OCI image pulled into the cache: its layers are ordinary cache layers
 * (shared by digest with every other image and spec), whiteouts as above. */
struct images_oci_image {
        char *reference;            /* canonical */
        char manifest_digest[72];   /* "sha256:<hex>" of the platform's image manifest */
        char top_digest[72];        /* what the reference names: an index, or that manifest */
        char config_digest[72];     /* "sha256:<hex>" of its config */
        char **layer_dirs;          /* bottom first, NULL-terminated */
        size_t n_layers;
        /* The image config's defaults for a command; NULL where it has none. */
        char **env, **entrypoint, **cmd;
        char *workdir, *user;
};
void images_oci_image_done(struct images_oci_image *im);

/* Where registries' settings come from, for doctor: registries.conf (its
 * path even when missing; its mirrors and insecure hosts as
 * "registry=mirror,…" and "host,…"), and the auth files that exist, in the
 * order they are read. A malformed registries.conf is the error, with the
 * rest filled. */
struct images_registry_settings {
        char *conf_path;            /* NULL without HOME or XDG_CONFIG_HOME */
        bool conf_exists;
        char *mirrors, *insecure;   /* NULL when none */
        char **auth_files;          /* NULL-terminated */
};
void images_registry_settings_done(struct images_registry_settings *s);
int images_registry_settings(struct images_registry_settings *ret, berth_error **err);

/* What the cache holds of OCI images: one entry per reference (or archive)
 * and platform as its last pull resolved it, sorted by reference. */
struct images_oci_entry {
        char *reference;            /* canonical; an archive as KIND-archive:PATH [(its name)] */
        char *platform;             /* os/arch[/variant] */
        char manifest_digest[72];   /* "sha256:<hex>" */
        char top_digest[72];        /* what the reference names: an index, or that manifest */
        uint64_t size;              /* its layers' blobs, as the manifest declares them */
        size_t n_layers;
        int64_t last_used;          /* unix time: the latest use of one of its layers; 0 unknown */
        bool complete;              /* the manifest and every layer still in the cache */
};
void images_oci_entries_free(struct images_oci_entry *v, size_t n);
int images_oci_list(const char *cache_dir, struct images_oci_entry **ret, size_t *ret_n, berth_error **err);

/* Pull reference (an `oci:` value) for platform (NULL = the host's). Every
 * manifest, config and layer is checked against its digest and size before
 * use; on failure nothing this pull added stays in the cache. Without
 * refresh, or for a reference pinned by digest, what the last pull of the
 * same reference and platform resolved is used when it is all cached,
 * without asking the registry. */
int images_pull_oci(const struct images_opts *opts, const char *reference, const char *platform, bool refresh,
                    struct images_oci_image *ret, berth_error **err);

/* The same from an archive: an OCI image layout as a tar (docker = false) or
 * `docker save` / `podman save` output (docker = true), at source (an
 * absolute path, file://, or http(s):// with its sha256). ref picks one image
 * of an archive that holds several (its tag or reference). A local archive
 * that did not change since (same file, size and times) is not read again. */
int images_pull_archive(const struct images_opts *opts, const char *source, const char *sha256, bool docker,
                        const char *ref, const char *platform, struct images_oci_image *ret, berth_error **err);
