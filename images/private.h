/* images: internal helpers shared by the module's files. Not for other modules. */
#pragma once

#include "images/images.h"
#include "dl.h"

/* ---- archive member names (path.c) --------------------------------------- */

/* Normalise an archive member name into a relative path without ".", empty
 * components or leading "/" (absolute names are made relative, as GNU tar does).
 * "" is the root itself. A ".." component, an overlong name or component is an
 * error naming the entry. */
int path_normalize(const char *name, char **ret, berth_error **err);

/* The folder `path` inside a layer being unpacked (beneath_open(), refusing
 * every symlink: nothing is ever written through one). With create, missing
 * folders are made with mode 0755. oflags: O_PATH or O_RDONLY. The fd, or -1. */
static inline int open_beneath_dir(int rootfd, const char *path, int oflags, bool create, berth_error **err)
{
        int fd = -1;
        unsigned flags = BENEATH_NO_SYMLINKS | BENEATH_DIRECTORY | (create ? BENEATH_CREATE : 0);
        return beneath_open(rootfd, path, oflags, flags, &fd, err) < 0 ? -1 : fd;
}

/* Split "a/b/c" into its parent "a/b" (or "") and its last component "c"
 * pointing into path. ret_parent is allocated. */
void path_split(const char *path, char **ret_parent, const char **ret_base);

/* ---- digests ------------------------------------------------------------- */

typedef struct sha256_ctx {
        EVP_MD_CTX *md;
} sha256_ctx;
void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t len);
/* Hex digest into out; the context is finished and freed. */
void sha256_final_hex(sha256_ctx *c, char out[static 65]);
void sha256_done(sha256_ctx *c);
static inline void sha256_donep(sha256_ctx *c) { sha256_done(c); }
bool sha256_valid_hex(const char *s);

/* ---- libarchive ---------------------------------------------------------- */

static inline void archive_read_freep(struct archive **a) { if (*a) sym_archive_read_free(*a); }
static inline void archive_write_freep(struct archive **a) { if (*a) sym_archive_write_free(*a); }
static inline void archive_entry_freep(struct archive_entry **e) { if (*e) sym_archive_entry_free(*e); }
#define _cleanup_archive_read_ _cleanup_(archive_read_freep)
#define _cleanup_archive_write_ _cleanup_(archive_write_freep)
#define _cleanup_archive_entry_ _cleanup_(archive_entry_freep)

/* Unpack from an open archive fd into the empty folder rootfd. The file is read
 * to its end (so every compressor checks its trailer); with ret_sha256 (65
 * bytes), its sha256 is computed on the way. */
int unpack_fd(int archive_fd, int rootfd, const struct images_limits *limits, char *ret_sha256, berth_error **err);

/* ---- sha256 on a helper thread (hasher.c) --------------------------------- */

struct hasher;
struct hasher *hasher_new(void);
void hasher_update(struct hasher *h, const void *data, size_t len);
void hasher_reset(struct hasher *h);
void hasher_set_fd(struct hasher *h, int fd);
int hasher_error(struct hasher *h);
void hasher_flush(struct hasher *h);
void hasher_final_hex(struct hasher *h, char out[static 65]);
void hasher_free(struct hasher *h);
static inline void hasher_freep(struct hasher **h) { hasher_free(*h); }

/* ---- the cache (store.c) ----------------------------------------------------- */

struct store {
        char *root;
        int blobs_fd;       /* blobs/sha256 */
        int layers_fd;      /* layers/sha256 */
        int locks_fd;       /* locks */
        int refs_fd;        /* refs */
        int locals_fd;      /* locals: digests of local files, by path and stat */
};
#define STORE_INIT { .blobs_fd = -1, .layers_fd = -1, .locks_fd = -1, .refs_fd = -1, .locals_fd = -1 }
int store_open(const char *cache_dir, struct store *ret, berth_error **err);
void store_close(struct store *s);
static inline void store_closep(struct store *s) { store_close(s); }
/* Lock the digest for this process; blocking or not. Returns the lock fd, or -2
 * (no error) when non-blocking and another process holds it. */
int store_lock(struct store *s, const char *hex, bool block, berth_error **err);
bool store_has_layer(struct store *s, const char *hex);
bool store_has_blob(struct store *s, const char *hex);
char *store_layer_path(struct store *s, const char *hex);
/* Remove leftovers of a crashed run for hex; the caller holds its lock. */
void store_clean_stale(struct store *s, const char *hex);
/* Publish tmp as name in dirfd: rename, then fsync the folder. If that fsync
 * fails, the rename is taken back (tmp is there again) and it is an error. */
int store_publish(int dirfd, const char *tmp, const char *name, berth_error **err);
/* Unpack the blob hex into the layer folder, atomically; caller holds the lock. */
int store_unpack_blob(struct store *s, const char *hex, const struct images_limits *limits, berth_error **err);
/* Unpack a local archive where it is (never copied into blobs/), hashing every
 * byte on the way, into a synced temporary folder of layers/ whose name is
 * returned with the digest. With want, a different digest is BERTH_E_DIGEST
 * and nothing is left. The caller publishes with store_publish_layer(). */
int store_unpack_local(struct store *s, const char *path, const char *want, const struct images_limits *limits,
                       char ret_sha256[static 65], char **ret_tmp, berth_error **err);
/* Publish an unpacked temporary folder as layer hex; on failure it is removed.
 * The caller holds hex's lock. */
int store_publish_layer(struct store *s, const char *tmp, const char *hex, berth_error **err);
/* Pulls hold gc.lock shared from start to the refs record; gc holds it
 * exclusively, so it never removes a layer a pull is about to hand out. */
int store_gc_lock(struct store *s, bool exclusive, berth_error **err);
/* Note the use of hex now (for `image ls` and gc). */
void store_touch(struct store *s, const char *hex);
/* A file:// URL or an absolute path: 1 and the path, percent-decoded; 0 for
 * anything else. */
int image_local_path(const char *url, char **ret, berth_error **err);

