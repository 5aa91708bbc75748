/* Safe unpack: one thread decompresses and parses (libarchive), another creates
 * the files, so decompression and writing run on different cores. Every entry is
 * created relative to a folder fd that was opened beneath the layer root without
 * following symlinks. Policy in docs/IMAGES.md ("Hostile entries"). */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "private.h"

#define BUF_SIZE (128 * 1024)
#define POOL_BUFS 32
/* Wake the other thread only once there is a batch for it: a wake-up per
 * buffer cost more than the copying. */
#define WAKE_ITEMS 16
#define WAKE_BUFS (POOL_BUFS / 2)

enum item_kind { IT_ENTRY, IT_DATA, IT_END, IT_ERROR };
enum entry_type { ET_FILE, ET_DIR, ET_SYMLINK, ET_HARDLINK, ET_FIFO, ET_WHITEOUT, ET_OPAQUE };

struct xattr {
        char *name;
        void *value;
        size_t size;
};

struct item {
        struct item *next;
        enum item_kind kind;
        enum entry_type type;
        char *path;         /* normalised */
        char *link;         /* symlink target, or normalised hardlink target */
        mode_t mode;
        struct timespec mtime;
        uint64_t size;
        struct xattr *xattrs;
        size_t n_xattrs;
        char *buf;          /* IT_DATA: a pool buffer */
        size_t len;
        berth_error *err;   /* IT_ERROR */
};

/* Signals go out only to a thread that waits: most pushes and pops then cost
 * an uncontended lock and no wake-up. */
struct queue {
        pthread_mutex_t lock;
        pthread_cond_t has_items, has_bufs;
        bool writer_waits, reader_waits;
        struct item *head, *tail;
        size_t n_items;
        char *pool[POOL_BUFS];
        size_t n_pool;
        bool cancel;
};

static void item_free(struct item *it)
{
        free(it->path);
        free(it->link);
        for (size_t i = 0; i < it->n_xattrs; i++) {
                free(it->xattrs[i].name);
                free(it->xattrs[i].value);
        }
        free(it->xattrs);
        if (it->err)
                berth_error_free(it->err);
        free(it);
}

/* ---- the queue between the threads ------------------------------------- */

static void queue_init(struct queue *q)
{
        *q = (struct queue) {};
        pthread_mutex_init(&q->lock, NULL);
        pthread_cond_init(&q->has_items, NULL);
        pthread_cond_init(&q->has_bufs, NULL);
        for (size_t i = 0; i < POOL_BUFS; i++)
                q->pool[q->n_pool++] = xmalloc(BUF_SIZE);
}

static void queue_destroy(struct queue *q)
{
        for (struct item *it = q->head, *next; it; it = next) {
                next = it->next;
                if (it->buf)
                        free(it->buf);
                item_free(it);
        }
        for (size_t i = 0; i < q->n_pool; i++)
                free(q->pool[i]);
        pthread_mutex_destroy(&q->lock);
        pthread_cond_destroy(&q->has_items);
        pthread_cond_destroy(&q->has_bufs);
}

/* Returns false once the writer gave up. */
static bool queue_push(struct queue *q, struct item *it)
{
        pthread_mutex_lock(&q->lock);
        bool ok = !q->cancel;
        if (ok) {
                if (q->tail)
                        q->tail->next = it;
                else
                        q->head = it;
                q->tail = it;
                q->n_items++;
                if (q->writer_waits && (q->n_items >= WAKE_ITEMS || it->kind == IT_END || it->kind == IT_ERROR))
                        pthread_cond_signal(&q->has_items);
        }
        pthread_mutex_unlock(&q->lock);
        if (!ok) {
                if (it->buf)
                        free(it->buf);
                item_free(it);
        }
        return ok;
}

static struct item *queue_pop(struct queue *q)
{
        pthread_mutex_lock(&q->lock);
        while (!q->head) {
                q->writer_waits = true;
                pthread_cond_wait(&q->has_items, &q->lock);
                q->writer_waits = false;
        }
        struct item *it = q->head;
        q->head = it->next;
        q->n_items--;
        if (!q->head)
                q->tail = NULL;
        pthread_mutex_unlock(&q->lock);
        return it;
}

static char *pool_get(struct queue *q)
{
        pthread_mutex_lock(&q->lock);
        while (q->n_pool == 0 && !q->cancel) {
                /* Every buffer is queued: make sure the writer is at work. */
                if (q->writer_waits)
                        pthread_cond_signal(&q->has_items);
                q->reader_waits = true;
                pthread_cond_wait(&q->has_bufs, &q->lock);
                q->reader_waits = false;
        }
        char *b = q->n_pool ? q->pool[--q->n_pool] : NULL;
        pthread_mutex_unlock(&q->lock);
        return b;
}

static void pool_put(struct queue *q, char *b)
{
        pthread_mutex_lock(&q->lock);
        q->pool[q->n_pool++] = b;
        if (q->reader_waits && q->n_pool >= WAKE_BUFS)
                pthread_cond_signal(&q->has_bufs);
        pthread_mutex_unlock(&q->lock);
}

static void queue_cancel(struct queue *q)
{
        pthread_mutex_lock(&q->lock);
        q->cancel = true;
        pthread_cond_broadcast(&q->has_bufs);
        pthread_mutex_unlock(&q->lock);
}

/* ---- the stream: file -> decompression -> tar ---------------------------- */

/* Two libarchive readers: `filt` only decompresses (its format is "raw") and
 * reads the file through source_read(), which can hash every byte; `tar`
 * parses what comes out, taking filt's blocks as they are (no copy). The tar
 * reader stops at the end-of-archive marker, so the decompressed stream is
 * then read to its end (stream_drain()): only there do xz and zstd check
 * their checksums, and berth gzip's trailer, which libarchive skips. */
#define SOURCE_BUF (1024 * 1024)
#define SOURCE_BUFS 4

/* sha256 of the file on a thread of its own, behind the reads: decompression
 * bounds the reading thread, so hashing there would lengthen the unpack. The
 * file is read into a ring of buffers; libarchive keeps the one it was given
 * until it asks for the next, and the hashing thread works through the rest
 * in order. */
struct ring {
        pthread_mutex_t lock;
        pthread_cond_t changed;
        pthread_t thread;
        bool hashing, stop;
        sha256_ctx sha;
        char *bufs[SOURCE_BUFS];
        size_t lens[SOURCE_BUFS];
        uint64_t filled, hashed;        /* buffers read, and hashed */
};

static void *ring_main(void *arg)
{
        struct ring *r = arg;
        pthread_mutex_lock(&r->lock);
        for (;;) {
                while (r->hashed == r->filled && !r->stop)
                        pthread_cond_wait(&r->changed, &r->lock);
                if (r->hashed == r->filled)
                        break;
                size_t slot = r->hashed % SOURCE_BUFS;
                pthread_mutex_unlock(&r->lock);
                sha256_update(&r->sha, r->bufs[slot], r->lens[slot]);
                pthread_mutex_lock(&r->lock);
                r->hashed++;
                pthread_cond_broadcast(&r->changed);
        }
        pthread_mutex_unlock(&r->lock);
        return NULL;
}

static void ring_init(struct ring *r, bool hash)
{
        *r = (struct ring) { .hashing = hash };
        for (size_t i = 0; i < SOURCE_BUFS; i++)
                r->bufs[i] = xmalloc(SOURCE_BUF);
        if (!hash)
                return;
        pthread_mutex_init(&r->lock, NULL);
        pthread_cond_init(&r->changed, NULL);
        sha256_init(&r->sha);
        if (pthread_create(&r->thread, NULL, ring_main, r) != 0)
                abort(); /* only without memory or threads */
}

/* The next free buffer: its earlier bytes are hashed. */
static char *ring_next(struct ring *r)
{
        if (r->hashing) {
                pthread_mutex_lock(&r->lock);
                while (r->hashed + SOURCE_BUFS - 1 <= r->filled)
                        pthread_cond_wait(&r->changed, &r->lock);
                pthread_mutex_unlock(&r->lock);
        }
        return r->bufs[r->filled % SOURCE_BUFS];
}

static void ring_push(struct ring *r, size_t len)
{
        if (!r->hashing) {
                r->filled++;
                return;
        }
        pthread_mutex_lock(&r->lock);
        r->lens[r->filled % SOURCE_BUFS] = len;
        r->filled++;
        pthread_cond_broadcast(&r->changed);
        pthread_mutex_unlock(&r->lock);
}

/* Stop the thread, once it hashed everything; then the digest may be read. */
static void ring_stop(struct ring *r)
{
        if (!r->hashing || r->stop)
                return;
        pthread_mutex_lock(&r->lock);
        r->stop = true;
        pthread_cond_broadcast(&r->changed);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->thread, NULL);
}

static void ring_done(struct ring *r)
{
        ring_stop(r);
        if (r->hashing) {
                sha256_done(&r->sha);
                pthread_mutex_destroy(&r->lock);
                pthread_cond_destroy(&r->changed);
        }
        for (size_t i = 0; i < SOURCE_BUFS; i++)
                free(r->bufs[i]);
}

struct stream {
        int fd;
        struct ring ring;       /* the file's bytes, hashed behind the reads when asked */
        const char *last;       /* the buffer libarchive was given last */
        struct archive *filt;
        struct archive *tar;
        bool gzip;              /* libarchive skips gzip's trailer unchecked: we check it */
        uint32_t crc;           /* CRC-32 of the decompressed bytes, for gzip */
        uint64_t out_bytes;     /* decompressed bytes */
};

/* CRC-32 (IEEE, reflected, as gzip uses it), eight bytes per step. */
static uint32_t crc_table[8][256];

static void crc_init(void)
{
        for (uint32_t i = 0; i < 256; i++) {
                uint32_t c = i;
                for (int k = 0; k < 8; k++)
                        c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
                crc_table[0][i] = c;
        }
        for (uint32_t i = 0; i < 256; i++)
                for (int t = 1; t < 8; t++)
                        crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n)
{
        crc = ~crc;
        for (; n >= 8; p += 8, n -= 8) {
                uint32_t a = crc ^ ((uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
                                    (uint32_t) p[3] << 24);
                crc = crc_table[7][a & 0xff] ^ crc_table[6][(a >> 8) & 0xff] ^ crc_table[5][(a >> 16) & 0xff] ^
                      crc_table[4][a >> 24] ^ crc_table[3][p[4]] ^ crc_table[2][p[5]] ^ crc_table[1][p[6]] ^
                      crc_table[0][p[7]];
        }
        while (n--)
                crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        return ~crc;
}

static void count_out(struct stream *st, const void *buf, size_t n)
{
        st->out_bytes += n;
        if (st->gzip)
                st->crc = crc32_update(st->crc, buf, n);
}

static int archive_fail(struct archive *a, const char *what, berth_error **err)
{
        const char *s = sym_archive_error_string(a);
        return berth_err(err, 0, "%s: %s", what, s ? s : "unknown libarchive error");
}

static ssize_t source_fill(struct stream *st)
{
        char *buf = ring_next(&st->ring);
        for (;;) {
                ssize_t n = read(st->fd, buf, SOURCE_BUF);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n > 0)
                        ring_push(&st->ring, (size_t) n);
                st->last = buf;
                return n;
        }
}

static la_ssize_t source_read(struct archive *a, void *data, const void **ret)
{
        struct stream *st = data;
        ssize_t n = source_fill(st);
        if (n < 0) {
                sym_archive_set_error(a, errno, "read the archive: %s", strerror(errno));
                return -1;
        }
        *ret = st->last;
        return n;
}

static la_ssize_t inner_read(struct archive *a, void *data, const void **ret)
{
        struct stream *st = data;
        for (;;) {
                size_t size = 0;
                la_int64_t off;
                int rc = sym_archive_read_data_block(st->filt, ret, &size, &off);
                if (rc == ARCHIVE_EOF)
                        return 0;
                if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
                        const char *s = sym_archive_error_string(st->filt);
                        sym_archive_set_error(a, EIO, "%s", s ? s : "decompression failed");
                        return -1;
                }
                if (size > 0) {
                        count_out(st, *ret, size);
                        return (la_ssize_t) size;
                }
        }
}

static int check_filters(struct archive *a, berth_error **err)
{
        /* The count includes the "none" filter at the bottom. */
        int n = sym_archive_filter_count(a);
        if (n > 2)
                return berth_err(err, 0, "archive is compressed %d times (%s over %s); only one compressor is allowed",
                                 n - 1, sym_archive_filter_name(a, 0), sym_archive_filter_name(a, 1));
        return 0;
}

static int stream_open(struct stream *st, int fd, bool hash, berth_error **err)
{
        if (dl_archive_load(err) < 0)
                return -1;
        *st = (struct stream) { .fd = fd };
        ring_init(&st->ring, hash);
        st->filt = sym_archive_read_new();
        st->tar = sym_archive_read_new();
        if (!st->filt || !st->tar)
                abort();
        sym_archive_read_support_filter_gzip(st->filt);
        sym_archive_read_support_filter_xz(st->filt);
        sym_archive_read_support_filter_zstd(st->filt);
        sym_archive_read_support_filter_bzip2(st->filt);
        sym_archive_read_support_format_raw(st->filt);
        sym_archive_read_support_format_tar(st->tar);
        struct archive_entry *e;
        if (sym_archive_read_open(st->filt, st, NULL, source_read, NULL) != ARCHIVE_OK ||
            sym_archive_read_next_header(st->filt, &e) != ARCHIVE_OK)
                return archive_fail(st->filt, "open the archive", err);
        if (check_filters(st->filt, err) < 0)
                return -1;
        st->gzip = sym_archive_filter_code(st->filt, 0) == ARCHIVE_FILTER_GZIP;
        if (st->gzip) {
                static pthread_once_t once = PTHREAD_ONCE_INIT;
                pthread_once(&once, crc_init);
        }
        if (sym_archive_read_open(st->tar, st, NULL, inner_read, NULL) != ARCHIVE_OK)
                return archive_fail(st->tar, "open the archive", err);
        return 0;
}

/* gzip's trailer is the last 8 bytes the decompressor took: CRC-32 and size
 * (mod 2^32) of what it gave. A stream of several members ends with the last
 * one's, which describes only that member: such streams are refused. */
static int check_gzip_trailer(struct stream *st, berth_error **err)
{
        la_int64_t end = sym_archive_filter_bytes(st->filt, 1);
        unsigned char t[8];
        if (end < 8 || pread(st->fd, t, sizeof(t), (off_t) end - 8) != (ssize_t) sizeof(t))
                return berth_err(err, errno, "read the gzip trailer");
        uint32_t crc = (uint32_t) t[0] | (uint32_t) t[1] << 8 | (uint32_t) t[2] << 16 | (uint32_t) t[3] << 24;
        uint32_t size = (uint32_t) t[4] | (uint32_t) t[5] << 8 | (uint32_t) t[6] << 16 | (uint32_t) t[7] << 24;
        if (size != (uint32_t) st->out_bytes)
                return berth_err(err, 0, "gzip trailer: size %" PRIu32 " does not match the %" PRIu64
                                 " bytes decompressed (corrupt, or several gzip members, which are not accepted)",
                                 size, st->out_bytes);
        if (crc != st->crc)
                return berth_err(err, 0, "gzip trailer: CRC-32 %08" PRIx32 " does not match the data (%08" PRIx32
                                 "): the archive is corrupt", crc, st->crc);
        return 0;
}

/* After the tar's end: the rest of the decompressed stream (its trailer is
 * checked on the way), then the rest of the file, which counts for the digest. */
static int stream_drain(struct stream *st, berth_error **err)
{
        for (;;) {
                const void *buf;
                size_t size;
                la_int64_t off;
                int rc = sym_archive_read_data_block(st->filt, &buf, &size, &off);
                if (rc == ARCHIVE_EOF)
                        break;
                if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
                        return archive_fail(st->filt, "read to the end of the archive", err);
                count_out(st, buf, size);
        }
        if (st->gzip && check_gzip_trailer(st, err) < 0)
                return -1;
        ssize_t n;
        while (st->ring.hashing && (n = source_fill(st)) > 0)
                ;
        if (st->ring.hashing && n < 0)
                return berth_err(err, errno, "read the archive");
        return 0;
}

static void stream_close(struct stream *st)
{
        if (st->tar)
                sym_archive_read_free(st->tar);
        if (st->filt)
                sym_archive_read_free(st->filt);
        ring_done(&st->ring);
}

/* ---- reader: libarchive -> items ----------------------------------------- */

struct reader {
        struct queue *q;
        struct archive *a;      /* the tar reader of stream */
        struct stream *stream;
        const struct images_limits *limits;
        uint64_t entries;
        uint64_t bytes;
};

/* Only user.* xattrs that cannot forge overlay markers reach the disk: security.*
 * and trusted.* would take effect on the host, and the rest means nothing to us. */
static bool xattr_allowed(const char *name)
{
        return startswith(name, "user.") && name[5] && !startswith(name, "user.overlay.");
}

static void read_xattrs(struct archive_entry *e, struct item *it)
{
        size_t n = (size_t) sym_archive_entry_xattr_reset(e);
        if (n == 0)
                return;
        it->xattrs = xcalloc(n, sizeof(*it->xattrs));
        const char *name;
        const void *value;
        size_t size;
        while (sym_archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
                if (!xattr_allowed(name) || it->n_xattrs >= n)
                        continue;
                struct xattr *x = &it->xattrs[it->n_xattrs++];
                x->name = xstrdup(name);
                x->value = xmalloc(size ? size : 1);
                memcpy(x->value, value, size);
                x->size = size;
        }
}

/* Classify an entry. Device nodes are skipped (returns 1): the sandbox brings its
 * own /dev and an unprivileged user cannot own them anyway. */
static int classify(struct archive_entry *e, const char *path, struct item *it, berth_error **err)
{
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        if (sym_archive_entry_hardlink(e)) {
                it->type = ET_HARDLINK;
                return path_normalize(sym_archive_entry_hardlink(e), &it->link, err);
        }
        if (startswith(base, ".wh.")) {
                if (streq(base, ".wh..wh..opq")) {
                        it->type = ET_OPAQUE;
                        return 0;
                }
                const char *victim = base + 4;
                if (!victim[0] || streq(victim, ".") || streq(victim, ".."))
                        return berth_err(err, 0, "entry `%s`: not a valid whiteout", path);
                it->type = ET_WHITEOUT;
                return 0;
        }
        switch (sym_archive_entry_filetype(e)) {
        case AE_IFREG: it->type = ET_FILE; return 0;
        case AE_IFDIR: it->type = ET_DIR; return 0;
        case AE_IFIFO: it->type = ET_FIFO; return 0;
        case AE_IFLNK:
                it->type = ET_SYMLINK;
                it->link = xstrdup(sym_archive_entry_symlink(e) ? sym_archive_entry_symlink(e) : "");
                return 0;
        case AE_IFCHR:
                /* A 0:0 character device already is an overlay whiteout. */
                if (sym_archive_entry_rdevmajor(e) == 0 && sym_archive_entry_rdevminor(e) == 0) {
                        it->type = ET_WHITEOUT;
                        return 0;
                }
                log_debug("unpack: skipping device node `%s`", path);
                return 1;
        case AE_IFBLK:
                log_debug("unpack: skipping device node `%s`", path);
                return 1;
        default:
                return berth_err(err, 0, "entry `%s`: unsupported file type 0%o", path,
                                 (unsigned) sym_archive_entry_filetype(e));
        }
}

/* Every header counts, skipped ones too: a flood of device nodes is a bomb as well. */
static int count_entry(struct reader *r, berth_error **err)
{
        if (++r->entries > r->limits->max_entries)
                return berth_error_make(err, BERTH_E_LIMIT, 0,
                                        "more than %" PRIu64 " entries (BERTH_IMAGE_MAX_ENTRIES)",
                                        r->limits->max_entries);
        return 0;
}

static int check_size(struct reader *r, const struct item *it, const char *name, berth_error **err)
{
        if (it->type == ET_FILE) {
                r->bytes += it->size;
                if (it->size > r->limits->max_unpacked || r->bytes > r->limits->max_unpacked)
                        return berth_error_make(err, BERTH_E_LIMIT, 0,
                                                "entry `%s`: unpacked size passes the limit of %" PRIu64
                                                " bytes (BERTH_IMAGE_MAX_UNPACKED)",
                                                name, r->limits->max_unpacked);
        }
        return 0;
}

/* Build the item for one header. Returns 1 for an entry that is skipped. */
static int make_entry(struct reader *r, struct archive_entry *e, struct item **ret, berth_error **err)
{
        const char *name = sym_archive_entry_pathname(e);
        if (!name)
                return berth_err(err, 0, "an entry has no name");
        if (count_entry(r, err) < 0)
                return -1;
        struct item *it = xcalloc(1, sizeof(*it));
        it->kind = IT_ENTRY;
        int rc = path_normalize(name, &it->path, err);
        if (rc == 0)
                rc = classify(e, it->path, it, err);
        if (rc != 0) {
                item_free(it);
                return rc < 0 ? -1 : 1;
        }
        /* Sticky stays; setuid and setgid never reach the host. */
        it->mode = sym_archive_entry_perm(e) & 01777;
        it->mtime.tv_sec = sym_archive_entry_mtime(e);
        it->mtime.tv_nsec = sym_archive_entry_mtime_nsec(e);
        it->size = it->type == ET_FILE && sym_archive_entry_size_is_set(e) ? (uint64_t) sym_archive_entry_size(e) : 0;
        read_xattrs(e, it);
        if (check_size(r, it, it->path, err) < 0) {
                item_free(it);
                return -1;
        }
        *ret = it;
        return 0;
}

static int read_data(struct reader *r, uint64_t size, berth_error **err)
{
        while (size > 0) {
                char *b = pool_get(r->q);
                if (!b)
                        return 1; /* cancelled */
                size_t want = size < BUF_SIZE ? (size_t) size : BUF_SIZE;
                size_t got = 0;
                while (got < want) {
                        la_ssize_t n = sym_archive_read_data(r->a, b + got, want - got);
                        if (n < 0) {
                                pool_put(r->q, b);
                                return archive_fail(r->a, "read", err);
                        }
                        if (n == 0)
                                break;
                        got += (size_t) n;
                }
                if (got < want) {
                        pool_put(r->q, b);
                        return berth_err(err, 0, "archive ends in the middle of an entry");
                }
                struct item *it = xcalloc(1, sizeof(*it));
                it->kind = IT_DATA;
                it->buf = b;
                it->len = got;
                if (!queue_push(r->q, it))
                        return 1;
                size -= got;
        }
        return 0;
}

static int read_all(struct reader *r, berth_error **err)
{
        for (;;) {
                struct archive_entry *e;
                int rc = sym_archive_read_next_header(r->a, &e);
                if (rc == ARCHIVE_EOF)
                        return stream_drain(r->stream, err);
                if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
                        return archive_fail(r->a, "read", err);
                struct item *it = NULL;
                rc = make_entry(r, e, &it, err);
                if (rc < 0)
                        return -1;
                if (rc > 0)
                        continue;
                uint64_t size = it->type == ET_FILE ? it->size : 0;
                const char *path = it->path;
                _cleanup_free_ char *saved = size ? xstrdup(path) : NULL;
                if (!queue_push(r->q, it))
                        return 1;
                rc = read_data(r, size, err);
                if (rc < 0)
                        return berth_error_wrap(err, "entry `%s`", saved);
                if (rc > 0)
                        return 1;
        }
}

static void *reader_main(void *arg)
{
        struct reader *r = arg;
        berth_error *err = NULL;
        int rc = read_all(r, &err);
        if (rc == 1)
                return NULL; /* the writer failed and already holds the error */
        struct item *it = xcalloc(1, sizeof(*it));
        it->kind = rc < 0 ? IT_ERROR : IT_END;
        it->err = err;
        queue_push(r->q, it);
        return NULL;
}

/* ---- writer: items -> files ---------------------------------------------- */

struct dirfix {
        char *path;
        mode_t mode;
        struct timespec mtime;
        size_t depth, seq;
};

struct writer {
        int rootfd;
        mode_t umask;           /* the process's, read once: creating with the final
                                 * mode saves an fchmod() per file when it survives */
        char *parent_path;      /* the folder parent_fd was opened for */
        int parent_fd;
        int fd;                 /* the regular file being written */
        struct item *file;      /* its entry */
        uint64_t left;
        struct dirfix *fixes;
        size_t n_fixes, cap_fixes;
};

static int parent_fd(struct writer *w, const char *path, const char **ret_base, berth_error **err)
{
        _cleanup_free_ char *parent = NULL;
        path_split(path, &parent, ret_base);
        if (w->parent_path && streq(w->parent_path, parent))
                return w->parent_fd;
        int fd = open_beneath_dir(w->rootfd, parent, O_PATH, true, err);
        if (fd < 0)
                return -1;
        if (w->parent_fd >= 0)
                close(w->parent_fd);
        free(w->parent_path);
        w->parent_path = TAKE_PTR(parent);
        w->parent_fd = fd;
        return fd;
}

static const char *type_name(mode_t m)
{
        switch (m & S_IFMT) {
        case S_IFREG: return "file";
        case S_IFDIR: return "folder";
        case S_IFLNK: return "symlink";
        case S_IFIFO: return "fifo";
        default: return "special file";
        }
}

/* Tar semantics: a later entry replaces an earlier one of the same type (or a
 * whiteout); one that would change a folder into a symlink, or the like, is
 * refused. Returns 1 if the existing folder is to be kept. */
static int make_room(int pfd, const char *base, mode_t want, const char *path, berth_error **err)
{
        struct stat st;
        if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return berth_err(err, errno, "stat `%s`", path);
        if (S_ISDIR(want) && S_ISDIR(st.st_mode))
                return 1;
        if ((st.st_mode & S_IFMT) != (want & S_IFMT) && !is_whiteout_stat(&st))
                return berth_err(err, 0, "entry `%s`: a duplicate would change a %s into a %s", path,
                                 type_name(st.st_mode), type_name(want));
        if (unlinkat(pfd, base, 0) < 0)
                return berth_err(err, errno, "replace `%s`", path);
        return 0;
}

static int set_xattrs(int fd, const struct item *it, berth_error **err)
{
        for (size_t i = 0; i < it->n_xattrs; i++)
                if (fsetxattr(fd, it->xattrs[i].name, it->xattrs[i].value, it->xattrs[i].size, 0) < 0)
                        return berth_err(err, errno, "`%s`: set xattr %s", it->path, it->xattrs[i].name);
        return 0;
}

static int finish_file(struct writer *w, berth_error **err)
{
        struct item *it = TAKE_PTR(w->file);
        _cleanup_close_ int fd = TAKE_FD(w->fd);
        struct timespec ts[2] = { it->mtime, it->mtime };
        int rc = 0;
        if (((it->mode & w->umask) && fchmod(fd, it->mode) < 0) || futimens(fd, ts) < 0)
                rc = berth_err(err, errno, "`%s`: set mode and time", it->path);
        else
                rc = set_xattrs(fd, it, err);
        item_free(it);
        return rc;
}

static int write_file(struct writer *w, struct item *it, int pfd, const char *base, berth_error **err)
{
        for (int tries = 0;; tries++) {
                /* The fd is writable whatever the mode, even 0444. */
                int fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, it->mode);
                if (fd >= 0) {
                        w->fd = fd;
                        w->file = it;
                        w->left = it->size;
                        return w->left ? 0 : finish_file(w, err);
                }
                if (errno != EEXIST || tries > 0)
                        break;
                if (make_room(pfd, base, S_IFREG, it->path, err) < 0)
                        goto fail;
        }
        berth_err(err, errno, "create `%s`", it->path);
fail:
        item_free(it);
        return -1;
}

static void add_fix(struct writer *w, const struct item *it)
{
        if (w->n_fixes == w->cap_fixes) {
                w->cap_fixes = w->cap_fixes ? w->cap_fixes * 2 : 256;
                w->fixes = xrealloc(w->fixes, w->cap_fixes * sizeof(*w->fixes));
        }
        size_t depth = it->path[0] ? 1 : 0;
        for (const char *p = it->path; *p; p++)
                depth += *p == '/';
        w->fixes[w->n_fixes] = (struct dirfix) { xstrdup(it->path), it->mode, it->mtime, depth, w->n_fixes };
        w->n_fixes++;
}

static int make_dir(struct writer *w, const struct item *it, int pfd, const char *base, berth_error **err)
{
        if (!it->path[0]) {
                add_fix(w, it);
                return 0;
        }
        if (mkdirat(pfd, base, 0700) < 0) {
                if (errno != EEXIST)
                        return berth_err(err, errno, "mkdir `%s`", it->path);
                int rc = make_room(pfd, base, S_IFDIR, it->path, err);
                if (rc < 0)
                        return -1;
                if (rc == 0 && mkdirat(pfd, base, 0700) < 0)
                        return berth_err(err, errno, "mkdir `%s`", it->path);
        }
        add_fix(w, it);
        if (it->n_xattrs) {
                _cleanup_close_ int fd = open_beneath_dir(w->rootfd, it->path, O_RDONLY, false, err);
                if (fd < 0 || set_xattrs(fd, it, err) < 0)
                        return -1;
        }
        return 0;
}

static int make_node(const struct item *it, int pfd, const char *base, berth_error **err)
{
        for (int tries = 0;; tries++) {
                int rc;
                mode_t type = S_IFIFO;
                if (it->type == ET_SYMLINK) {
                        type = S_IFLNK;
                        rc = symlinkat(it->link, pfd, base);
                } else if (it->type == ET_FIFO) {
                        rc = mknodat(pfd, base, S_IFIFO | (it->mode & 0777), 0);
                } else {
                        type = S_IFCHR;
                        rc = mknodat(pfd, base, S_IFCHR, makedev(0, 0));
                }
                if (rc == 0)
                        break;
                if (errno != EEXIST || tries > 0)
                        return berth_err(err, errno, "create `%s`", it->path);
                /* A whiteout never replaces an entry of its own layer. */
                if (it->type == ET_WHITEOUT)
                        return 0;
                if (make_room(pfd, base, type, it->path, err) < 0)
                        return -1;
        }
        struct timespec ts[2] = { it->mtime, it->mtime };
        if (it->type != ET_WHITEOUT && utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
                return berth_err(err, errno, "`%s`: set time", it->path);
        if (it->type == ET_FIFO && fchmodat(pfd, base, it->mode & 0777, 0) < 0)
                return berth_err(err, errno, "`%s`: set mode", it->path);
        return 0;
}

static int make_hardlink(struct writer *w, const struct item *it, int pfd, const char *base, berth_error **err)
{
        _cleanup_free_ char *tparent = NULL;
        const char *tbase;
        path_split(it->link, &tparent, &tbase);
        if (!tbase[0])
                return berth_err(err, 0, "entry `%s`: hardlink to the layer root", it->path);
        _cleanup_close_ int tfd = open_beneath_dir(w->rootfd, tparent, O_PATH, false, err);
        if (tfd < 0)
                return berth_error_wrap(err, "entry `%s`: hardlink target `%s`", it->path, it->link);
        for (int tries = 0;; tries++) {
                /* No AT_SYMLINK_FOLLOW: a link to a symlink is a link to the symlink. */
                if (linkat(tfd, tbase, pfd, base, 0) == 0)
                        return 0;
                if (errno != EEXIST || tries > 0)
                        return berth_err(err, errno, "entry `%s`: hardlink to `%s`", it->path, it->link);
                if (make_room(pfd, base, S_IFREG, it->path, err) < 0)
                        return -1;
        }
}

static int make_opaque(struct writer *w, const struct item *it, berth_error **err)
{
        _cleanup_free_ char *dir = NULL;
        const char *base;
        path_split(it->path, &dir, &base);
        _cleanup_close_ int fd = open_beneath_dir(w->rootfd, dir, O_RDONLY, true, err);
        if (fd < 0)
                return -1;
        if (fsetxattr(fd, OVERLAY_OPAQUE_XATTR, "y", 1, 0) < 0)
                return berth_err(err, errno, "`%s`: mark the folder opaque (xattr %s)", it->path,
                                 OVERLAY_OPAQUE_XATTR);
        return 0;
}

static int handle_entry(struct writer *w, struct item *it, berth_error **err)
{
        if (it->type == ET_OPAQUE) {
                int rc = make_opaque(w, it, err);
                item_free(it);
                return rc;
        }
        const char *base = NULL;
        int pfd = parent_fd(w, it->path, &base, err);
        if (pfd < 0) {
                berth_error_wrap(err, "entry `%s`", it->path);
                item_free(it);
                return -1;
        }
        if (it->type == ET_WHITEOUT && startswith(base, ".wh."))
                base += 4;
        if (it->type == ET_FILE)
                return write_file(w, it, pfd, base, err);
        int rc;
        if (it->type == ET_DIR)
                rc = make_dir(w, it, pfd, base, err);
        else if (it->type == ET_HARDLINK)
                rc = make_hardlink(w, it, pfd, base, err);
        else
                rc = make_node(it, pfd, base, err);
        item_free(it);
        return rc;
}

static int handle_data(struct writer *w, struct queue *q, struct item *it, berth_error **err)
{
        int rc = 0;
        if (!w->file || it->len > w->left)
                rc = berth_err(err, 0, "unpack: data without an entry");
        else if (write_all(w->fd, it->buf, it->len) < 0)
                rc = berth_err(err, errno, "write `%s`", w->file->path);
        else if ((w->left -= it->len) == 0)
                rc = finish_file(w, err);
        pool_put(q, TAKE_PTR(it->buf));
        item_free(it);
        return rc;
}

static int cmp_fix(const void *a, const void *b)
{
        const struct dirfix *x = a, *y = b;
        if (x->depth != y->depth)
                return x->depth > y->depth ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Folder modes and times last, deepest first: a read-only folder must not stop
 * its own children from being written, and writing children changes mtimes. */
static int apply_fixes(struct writer *w, berth_error **err)
{
        if (w->n_fixes > 0)
                qsort(w->fixes, w->n_fixes, sizeof(*w->fixes), cmp_fix);
        for (size_t i = 0; i < w->n_fixes; i++) {
                struct dirfix *f = &w->fixes[i];
                _cleanup_close_ int fd = open_beneath_dir(w->rootfd, f->path, O_RDONLY, false, err);
                if (fd < 0)
                        return -1;
                struct timespec ts[2] = { f->mtime, f->mtime };
                if (fchmod(fd, f->mode) < 0 || futimens(fd, ts) < 0)
                        return berth_err(err, errno, "`%s`: set mode and time", f->path);
        }
        return 0;
}

static int write_all_items(struct writer *w, struct queue *q, berth_error **err)
{
        for (;;) {
                struct item *it = queue_pop(q);
                int rc = 0;
                switch (it->kind) {
                case IT_ENTRY:
                        if (w->file)
                                rc = berth_err(err, 0, "unpack: entry `%s` before the end of `%s`", it->path,
                                               w->file->path);
                        if (rc < 0)
                                item_free(it);
                        else
                                rc = handle_entry(w, it, err);
                        break;
                case IT_DATA:
                        rc = handle_data(w, q, it, err);
                        break;
                case IT_END:
                        item_free(it);
                        if (w->file)
                                return berth_err(err, 0, "unpack: archive ends inside `%s`", w->file->path);
                        return apply_fixes(w, err);
                case IT_ERROR:
                        berth_error_move(err, &it->err);
                        item_free(it);
                        return -1;
                }
                if (rc < 0)
                        return -1;
        }
}

static void writer_done(struct writer *w)
{
        if (w->fd >= 0)
                close(w->fd);
        if (w->file)
                item_free(w->file);
        if (w->parent_fd >= 0)
                close(w->parent_fd);
        free(w->parent_path);
        for (size_t i = 0; i < w->n_fixes; i++)
                free(w->fixes[i].path);
        free(w->fixes);
}

/* umask() can only be read by setting it, which races with other threads; the
 * kernel also reports it in /proc/self/status. Unknown: assume it strips all. */
static mode_t current_umask(void)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        unsigned m;
        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "Umask: %o", &m) == 1)
                        return (mode_t) m;
        return 07777;
}

/* Unpack into rootfd; with ret_sha256, also the sha256 of every byte of the file. */
int unpack_fd(int archive_fd, int rootfd, const struct images_limits *limits, char *ret_sha256, berth_error **err)
{
        _cleanup_(stream_close) struct stream st = {};
        if (stream_open(&st, archive_fd, ret_sha256 != NULL, err) < 0)
                return -1;
        struct queue q;
        queue_init(&q);
        struct reader r = { .q = &q, .a = st.tar, .stream = &st, .limits = limits };
        struct writer w = { .rootfd = rootfd, .parent_fd = -1, .fd = -1, .umask = current_umask() };
        pthread_t t;
        int e = pthread_create(&t, NULL, reader_main, &r);
        if (e != 0) {
                queue_destroy(&q);
                return berth_err(err, e, "start the unpack thread");
        }
        int rc = write_all_items(&w, &q, err);
        queue_cancel(&q);
        pthread_join(t, NULL);
        writer_done(&w);
        queue_destroy(&q);
        if (rc == 0 && ret_sha256) {
                ring_stop(&st.ring);
                sha256_final_hex(&st.ring.sha, ret_sha256);
                sha256_init(&st.ring.sha); /* ring_done() frees a live context */
        }
        return rc;
}

int images_unpack_file(const char *archive_path, const char *dest_dir, const struct images_limits *limits,
                       berth_error **err)
{
        _cleanup_close_ int fd = open(archive_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return berth_err(err, errno, "open `%s`", archive_path);
        if (mkdir(dest_dir, 0700) < 0)
                return berth_err(err, errno, "mkdir `%s`", dest_dir);
        _cleanup_close_ int root = open(dest_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (root < 0)
                return berth_err(err, errno, "open `%s`", dest_dir);
        if (unpack_fd(fd, root, limits, NULL, err) < 0)
                return berth_error_wrap(err, "unpack `%s`", archive_path);
        /* Unless the archive said otherwise ("./"), a layer root is an ordinary folder. */
        struct stat st;
        if (fstat(root, &st) == 0 && (st.st_mode & 07777) == 0700)
                fchmod(root, 0755);
        return 0;
}
