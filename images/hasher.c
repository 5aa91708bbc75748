/* sha256 on its own thread, without a copy on the receiving thread: the
 * download thread writes curl's pieces straight to the file (as the curl
 * command line does), and this thread reads them back from the page cache
 * with pread() in 1 MiB steps and hashes them behind it. The fd must be open
 * for reading too. Before an fd is set (rehashing a partial file), bytes are
 * hashed at once on the caller's thread. */
#include <errno.h>
#include <pthread.h>

#include "private.h"

#define CHUNK (1024 * 1024)

struct hasher {
        pthread_mutex_t lock;
        pthread_cond_t has_bytes, caught_up;
        bool consumer_waits, producer_waits;
        pthread_t thread;
        sha256_ctx sha;
        char *buf;                /* the hasher thread's read buffer */
        int fd;                   /* the file written and read back, or -1 */
        uint64_t written;         /* file offset up to which bytes were written */
        uint64_t hashed;          /* file offset up to which they were hashed */
        bool flush;               /* hash what is there, however little */
        bool stop;
        int write_errno;          /* the first write failure; nothing is written after it */
        int read_errno;           /* reading back failed: the digest is unusable */
};

static bool work_ready(const struct hasher *h)
{
        uint64_t left = h->written - h->hashed;
        return left >= CHUNK || (left > 0 && (h->flush || h->stop));
}

/* Read back and hash [off, off+n); returns an errno or 0. */
static int hash_range(struct hasher *h, int fd, uint64_t off, size_t n)
{
        while (n > 0) {
                ssize_t r = pread(fd, h->buf, n, (off_t) off);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return r < 0 ? errno : EIO; /* truncated under us */
                sha256_update(&h->sha, h->buf, (size_t) r);
                off += (uint64_t) r;
                n -= (size_t) r;
        }
        return 0;
}

static void *hasher_main(void *arg)
{
        struct hasher *h = arg;
        pthread_mutex_lock(&h->lock);
        for (;;) {
                while (!work_ready(h) && !h->stop) {
                        h->consumer_waits = true;
                        pthread_cond_wait(&h->has_bytes, &h->lock);
                        h->consumer_waits = false;
                }
                if (!work_ready(h))
                        break;
                uint64_t off = h->hashed, left = h->written - h->hashed;
                size_t n = left < CHUNK ? (size_t) left : CHUNK;
                int fd = h->fd;
                pthread_mutex_unlock(&h->lock);
                int e = h->read_errno ? 0 : hash_range(h, fd, off, n);
                pthread_mutex_lock(&h->lock);
                if (e && !h->read_errno)
                        h->read_errno = e;
                h->hashed += n;
                if (h->producer_waits && h->hashed == h->written)
                        pthread_cond_signal(&h->caught_up);
        }
        pthread_mutex_unlock(&h->lock);
        return NULL;
}

struct hasher *hasher_new(void)
{
        struct hasher *h = xcalloc(1, sizeof(*h));
        h->fd = -1;
        pthread_mutex_init(&h->lock, NULL);
        pthread_cond_init(&h->has_bytes, NULL);
        pthread_cond_init(&h->caught_up, NULL);
        h->buf = xmalloc(CHUNK);
        sha256_init(&h->sha);
        if (pthread_create(&h->thread, NULL, hasher_main, h) != 0)
                abort(); /* only fails without memory or threads: nothing sane to do */
        return h;
}

void hasher_update(struct hasher *h, const void *data, size_t len)
{
        if (h->fd < 0) {
                sha256_update(&h->sha, data, len); /* no thread runs: nothing is pending */
                return;
        }
        if (h->write_errno)
                return;
        if (write_all(h->fd, data, len) < 0) {
                int e = errno;
                pthread_mutex_lock(&h->lock);
                h->write_errno = e;
                pthread_mutex_unlock(&h->lock);
                return;
        }
        pthread_mutex_lock(&h->lock);
        h->written += len;
        if (h->consumer_waits && work_ready(h))
                pthread_cond_signal(&h->has_bytes);
        pthread_mutex_unlock(&h->lock);
}

/* Wait until everything written so far is hashed. */
static void drain(struct hasher *h)
{
        pthread_mutex_lock(&h->lock);
        h->flush = true;
        if (h->consumer_waits)
                pthread_cond_signal(&h->has_bytes);
        while (h->hashed != h->written) {
                h->producer_waits = true;
                pthread_cond_wait(&h->caught_up, &h->lock);
                h->producer_waits = false;
        }
        h->flush = false;
        pthread_mutex_unlock(&h->lock);
}

/* From now on, also write what is hashed to fd (-1: stop writing); bytes
 * written go at fd's current offset. */
void hasher_set_fd(struct hasher *h, int fd)
{
        drain(h);
        off_t pos = fd >= 0 ? lseek(fd, 0, SEEK_CUR) : 0;
        pthread_mutex_lock(&h->lock);
        h->fd = fd;
        h->written = h->hashed = pos > 0 ? (uint64_t) pos : 0;
        pthread_mutex_unlock(&h->lock);
}

/* errno of the first failed write or read-back, or 0. After a write failed
 * nothing more is written, so the caller may truncate the file. */
int hasher_error(struct hasher *h)
{
        pthread_mutex_lock(&h->lock);
        int e = h->write_errno ? h->write_errno : h->read_errno;
        pthread_mutex_unlock(&h->lock);
        return e;
}

/* Wait until everything given so far is written and hashed. */
void hasher_flush(struct hasher *h)
{
        drain(h);
}

/* Start over (the server ignored our Range); the caller truncates the file
 * and seeks it back to 0. */
void hasher_reset(struct hasher *h)
{
        drain(h);
        pthread_mutex_lock(&h->lock);
        h->write_errno = h->read_errno = 0;
        h->written = h->hashed = 0;
        pthread_mutex_unlock(&h->lock);
        sha256_done(&h->sha);
        sha256_init(&h->sha);
}

/* The digest of everything so far; the hasher then starts over. */
void hasher_final_hex(struct hasher *h, char out[static 65])
{
        drain(h);
        sha256_final_hex(&h->sha, out);
        sha256_init(&h->sha);
}

void hasher_free(struct hasher *h)
{
        if (!h)
                return;
        pthread_mutex_lock(&h->lock);
        h->stop = true;
        pthread_cond_signal(&h->has_bytes);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->thread, NULL);
        free(h->buf);
        sha256_done(&h->sha);
        pthread_mutex_destroy(&h->lock);
        pthread_cond_destroy(&h->has_bytes);
        pthread_cond_destroy(&h->caught_up);
        free(h);
}
