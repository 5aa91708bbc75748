/* images: downloads (fetch.c). Private to the module. */
#pragma once

#include "private.h"

struct fetch_job {
        size_t index;           /* in the caller's refs[] */
        const char *url;        /* http:// or https:// */
        const char *sha256;     /* required */
        uint64_t size;          /* the size the blob must have (an OCI descriptor's); 0 = unknown */
        const char *authorization; /* an "Authorization: …" header, or NULL */
        bool ok;                /* out: blob published */
        /* Called on the calling thread as soon as this blob is published, while
         * the other downloads go on (the caller starts unpacking it). May be NULL. */
        void (*on_published)(struct fetch_job *job, void *userdata);
        void *userdata;
};

/* Download every job into the store's blobs, in parallel. The caller holds the
 * digests' locks. The first failure stops all. */
int fetch_all(struct store *s, const struct images_opts *opts, struct fetch_job *jobs, size_t n, berth_error **err);

/* Progress that restarts a layer's deadline (limits.deadline_s). */
#define FETCH_PROGRESS_BYTES (1024 * 1024)
/* The wait before retry number attempt + 1 (0-based), without Retry-After:
 * 250 ms, doubling, at most 8 s. */
uint64_t fetch_backoff_ms(unsigned attempt);
