/* sha256 on its own thread: the download thread copies bytes into a ring of
 * 1 MiB chunks and writes each full chunk to the file (large writes instead of
 * curl's 16 KiB pieces), while this thread hashes the chunks behind it. */
#include <errno.h>
#include <pthread.h>

#include "private.h"

#define CHUNK (1024 * 1024)
#define NCHUNKS 8

struct hasher {
        pthread_mutex_t lock;
        pthread_cond_t changed;
        pthread_t thread;
        sha256_ctx sha;
        char *chunk[NCHUNKS];
        size_t len[NCHUNKS];
        size_t head, tail, fill;  /* chunks [tail, head) are full; fill bytes in chunk head */
        bool stop;
        int fd;                   /* where chunks go after hashing, or -1 */
        int write_errno;          /* the first write failure */
};

static void *hasher_main(void *arg)
{
        struct hasher *h = arg;
        pthread_mutex_lock(&h->lock);
        for (;;) {
                while (h->tail == h->head && !h->stop)
                        pthread_cond_wait(&h->changed, &h->lock);
                if (h->tail == h->head)
                        break;
                size_t i = h->tail % NCHUNKS;
                pthread_mutex_unlock(&h->lock);
                sha256_update(&h->sha, h->chunk[i], h->len[i]);
                pthread_mutex_lock(&h->lock);
                h->tail++;
                pthread_cond_broadcast(&h->changed);
        }
        pthread_mutex_unlock(&h->lock);
        return NULL;
}

struct hasher *hasher_new(void)
{
        struct hasher *h = xcalloc(1, sizeof(*h));
        h->fd = -1;
        pthread_mutex_init(&h->lock, NULL);
        pthread_cond_init(&h->changed, NULL);
        for (size_t i = 0; i < NCHUNKS; i++)
                h->chunk[i] = xmalloc(CHUNK);
        sha256_init(&h->sha);
        if (pthread_create(&h->thread, NULL, hasher_main, h) != 0)
                abort(); /* only fails without memory or threads: nothing sane to do */
        return h;
}

static void push_chunk(struct hasher *h)
{
        if (h->fd >= 0 && !h->write_errno && write_all(h->fd, h->chunk[h->head % NCHUNKS], h->fill) < 0)
                h->write_errno = errno;
        pthread_mutex_lock(&h->lock);
        h->len[h->head % NCHUNKS] = h->fill;
        h->head++;
        h->fill = 0;
        pthread_cond_broadcast(&h->changed);
        /* Wait for a free chunk before the producer writes into it. */
        while (h->head - h->tail >= NCHUNKS)
                pthread_cond_wait(&h->changed, &h->lock);
        pthread_mutex_unlock(&h->lock);
}

void hasher_update(struct hasher *h, const void *data, size_t len)
{
        const char *p = data;
        while (len > 0) {
                size_t n = CHUNK - h->fill;
                if (n > len)
                        n = len;
                memcpy(h->chunk[h->head % NCHUNKS] + h->fill, p, n);
                h->fill += n;
                p += n;
                len -= n;
                if (h->fill == CHUNK)
                        push_chunk(h);
        }
}

static void drain(struct hasher *h)
{
        if (h->fill)
                push_chunk(h);
        pthread_mutex_lock(&h->lock);
        while (h->tail != h->head)
                pthread_cond_wait(&h->changed, &h->lock);
        pthread_mutex_unlock(&h->lock);
}

/* From now on, also write what is hashed to fd (-1: stop writing). */
void hasher_set_fd(struct hasher *h, int fd)
{
        drain(h);
        h->fd = fd;
}

/* errno of the first failed write, or 0. */
int hasher_error(struct hasher *h)
{
        return h->write_errno; /* only the producer's thread writes it */
}

/* Wait until everything given so far is hashed and written. */
void hasher_flush(struct hasher *h)
{
        drain(h);
}

/* Start over (the server ignored our Range); the caller truncates the file. */
void hasher_reset(struct hasher *h)
{
        h->fill = 0;
        drain(h);
        h->write_errno = 0;
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
        pthread_cond_broadcast(&h->changed);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->thread, NULL);
        for (size_t i = 0; i < NCHUNKS; i++)
                free(h->chunk[i]);
        sha256_done(&h->sha);
        pthread_mutex_destroy(&h->lock);
        pthread_cond_destroy(&h->changed);
        free(h);
}
