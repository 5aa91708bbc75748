/* Downloads with libcurl's multi interface: all layers at once, each streamed to
 * a ".<hex>.partial" file beside its final name while a helper thread hashes it,
 * retried with backoff and resumed with Range where the server allows. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <time.h>

#include "fetch.h"

static void curl_multi_cleanupp(CURLM **m)
{
        if (*m)
                sym_curl_multi_cleanup(*m);
}

struct xfer {
        struct fetch_job *job;
        struct curl_slist *headers; /* job->authorization */
        const struct images_opts *opts;
        struct store *store;
        CURL *h;
        int fd;
        char *partial;
        struct hasher *hasher;
        uint64_t bytes;            /* in the partial file */
        uint64_t resume_from;      /* asked of the server in this attempt */
        bool body_started;
        long status;               /* of the response whose body we write */
        uint64_t retry_after_ms;   /* from the last response's headers */
        int64_t range_start;       /* from Content-Range, -1 if none */
        bool bad_range;            /* a 206 for other bytes than asked */
        unsigned attempts;
        bool resumed_any;          /* some bytes came from an earlier attempt */
        bool active, done;
        uint64_t next_try_ms;
        uint64_t start_ms, last_event_ms;
        uint64_t received;         /* bytes of every attempt */
        uint64_t mark_ms, mark_bytes; /* the deadline runs from here (the last MiB) */
        char last_failure[CURL_ERROR_SIZE + 64]; /* why the last attempt failed */
        berth_error *err;          /* set by a callback to stop the transfer */
        char errbuf[CURL_ERROR_SIZE];
};

static uint64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void emit(struct xfer *x, enum images_event_kind kind, uint64_t delay_ms, const char *reason)
{
        if (!x->opts->progress)
                return;
        curl_off_t cl = -1;
        if (x->h)
                sym_curl_easy_getinfo(x->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
        struct images_event ev = {
                .kind = kind,
                .index = x->job->index,
                .url = x->job->url,
                .sha256 = x->job->sha256,
                .bytes = x->bytes,
                .total = cl > 0 ? (uint64_t) cl + (x->status == 206 ? x->resume_from : 0) : 0,
                .elapsed_ms = now_ms() - x->start_ms,
                .delay_ms = delay_ms,
                .reason = reason,
        };
        x->last_event_ms = now_ms();
        x->opts->progress(&ev, x->opts->userdata);
}

/* ---- callbacks ------------------------------------------------------------ */

static int restart_from_zero(struct xfer *x)
{
        hasher_reset(x->hasher);
        if (ftruncate(x->fd, 0) < 0 || lseek(x->fd, 0, SEEK_SET) < 0)
                return berth_err(&x->err, errno, "truncate `%s`", x->partial);
        x->bytes = 0;
        x->resumed_any = false;
        return 0;
}

static bool start_body(struct xfer *x)
{
        x->body_started = true;
        sym_curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
        if (x->status == 200 && x->bytes > 0)
                return restart_from_zero(x) == 0; /* the server ignored Range */
        if (x->status == 206 && x->range_start != (int64_t) x->bytes) {
                /* Not the bytes we asked for: stop, and start over on the next attempt. */
                x->bad_range = true;
                restart_from_zero(x);
                return false;
        }
        return true;
}

static bool write_failed(struct xfer *x)
{
        int e = hasher_error(x->hasher);
        if (!e)
                return false;
        /* A full disk: give the space back rather than keep a partial for later. */
        if (e == ENOSPC || e == EDQUOT)
                (void) !ftruncate(x->fd, 0);
        berth_err(&x->err, e, "write `%s`", x->partial);
        return true;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        struct xfer *x = userdata;
        size_t n = size * nmemb;
        if (!x->body_started && !start_body(x))
                return CURL_WRITEFUNC_ERROR;
        if (x->status != 200 && x->status != 206)
                return n; /* an error page: read and drop it */
        if (x->bytes + n > x->opts->limits.max_download) {
                berth_error_make(&x->err, BERTH_E_LIMIT, 0,
                                 "larger than the limit of %" PRIu64 " bytes (BERTH_IMAGE_MAX_DOWNLOAD)",
                                 x->opts->limits.max_download);
                return CURL_WRITEFUNC_ERROR;
        }
        if (x->job->size && x->bytes + n > x->job->size) {
                /* Not one byte past what the descriptor promised is kept. */
                restart_from_zero(x);
                berth_error_make(&x->err, BERTH_E_DIGEST, 0, "larger than its declared size of %" PRIu64 " bytes",
                                 x->job->size);
                return CURL_WRITEFUNC_ERROR;
        }
        if (write_failed(x))
                return CURL_WRITEFUNC_ERROR;
        /* The hasher thread hashes and writes; see hasher.c. */
        hasher_update(x->hasher, ptr, n);
        x->bytes += n;
        x->received += n;
        if (x->received - x->mark_bytes >= FETCH_PROGRESS_BYTES) {
                x->mark_bytes = x->received;
                x->mark_ms = now_ms();
        }
        return n;
}

static uint64_t parse_retry_after(const char *v)
{
        while (*v == ' ' || *v == '\t')
                v++;
        char *end;
        unsigned long long s = strtoull(v, &end, 10);
        if (end != v && (*end == '\r' || *end == '\n' || *end == '\0'))
                return s * 1000;
        time_t t = sym_curl_getdate(v, NULL);
        time_t now = time(NULL);
        return t > now ? (uint64_t) (t - now) * 1000 : 0;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
        struct xfer *x = userdata;
        size_t n = size * nitems;
        if (n > 5 && !strncmp(buf, "HTTP/", 5)) {
                x->retry_after_ms = 0; /* a new response (after a redirect or 100) */
                x->range_start = -1;
        } else if (n > 14 && !strncasecmp(buf, "Content-Range:", 14)) {
                unsigned long long start;
                if (sscanf(buf + 14, " bytes %llu-", &start) == 1)
                        x->range_start = (int64_t) start;
        } else if (n > 12 && !strncasecmp(buf, "Retry-After:", 12)) {
                _cleanup_free_ char *v = xstrndup(buf + 12, n - 12);
                x->retry_after_ms = parse_retry_after(v);
        }
        return n;
}

/* ---- one transfer --------------------------------------------------------- */

static int setup_handle(struct xfer *x, berth_error **err)
{
        const struct images_limits *l = &x->opts->limits;
        bool https = startswith(x->job->url, "https://");
        CURL *h = x->h;
        sym_curl_easy_reset(h);
        sym_curl_easy_setopt(h, CURLOPT_URL, x->job->url);
        sym_curl_easy_setopt(h, CURLOPT_PRIVATE, x);
        sym_curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        sym_curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
        sym_curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        sym_curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
        sym_curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
        if (x->job->authorization && !x->headers)
                x->headers = sym_curl_slist_append(NULL, x->job->authorization);
        sym_curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->headers);
        sym_curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        /* Never from https down to http, and never to file:// or anything else. */
        sym_curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https");
        sym_curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        sym_curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long) l->max_redirects);
        sym_curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long) l->connect_timeout_s);
        sym_curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        sym_curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long) l->low_speed_time_s);
        sym_curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) l->max_download);
        sym_curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
        sym_curl_easy_setopt(h, CURLOPT_USERAGENT, "berth/" BERTH_VERSION_STRING);
        sym_curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        sym_curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL);
        if (x->opts->ca_bundle)
                sym_curl_easy_setopt(h, CURLOPT_CAINFO, x->opts->ca_bundle);
        /* CURLOPT_RANGE rather than RESUME_FROM: a server that ignores it answers
         * 200, which on_data() turns into a clean restart instead of an error. */
        x->resume_from = x->bytes;
        char range[32];
        snprintf(range, sizeof(range), "%" PRIu64 "-", x->bytes);
        sym_curl_easy_setopt(h, CURLOPT_RANGE, x->bytes ? range : NULL);
        x->range_start = -1;
        x->body_started = false;
        x->status = 0;
        x->retry_after_ms = 0;
        x->errbuf[0] = '\0';
        return 0;
}

/* Hash what an earlier, interrupted run left, so the download resumes. */
static int open_partial(struct xfer *x, berth_error **err)
{
        x->partial = xasprintf(".%s.partial", x->job->sha256);
        x->fd = openat(x->store->blobs_fd, x->partial, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (x->fd < 0)
                return berth_err(err, errno, "open `%s`", x->partial);
        x->hasher = hasher_new();
        char buf[1 << 16];
        for (;;) {
                ssize_t n = read(x->fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return berth_err(err, errno, "read `%s`", x->partial);
                if (n == 0)
                        break;
                hasher_update(x->hasher, buf, (size_t) n);
                x->bytes += (uint64_t) n;
        }
        if (x->bytes > x->opts->limits.max_download && restart_from_zero(x) < 0)
                return berth_error_move(err, &x->err);
        hasher_set_fd(x->hasher, x->fd);
        x->resumed_any = x->bytes > 0;
        if (x->bytes)
                log_debug("fetch: resuming %s at %" PRIu64 " bytes", x->job->url, x->bytes);
        return 0;
}

static bool transient_curl(CURLcode rc)
{
        switch (rc) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_SSL_CONNECT_ERROR:
                return true;
        default:
                return false;
        }
}

static bool transient_status(long s)
{
        return s == 408 || s == 429 || (s >= 500 && s <= 599);
}

uint64_t fetch_backoff_ms(unsigned attempt)
{
        uint64_t d = 250ULL << (attempt < 6 ? attempt : 6);
        return d < 8000 ? d : 8000;
}

static uint64_t backoff_ms(const struct xfer *x)
{
        uint64_t d = fetch_backoff_ms(x->attempts);
        uint64_t cap = (uint64_t) x->opts->limits.max_retry_after_s * 1000;
        if (x->retry_after_ms)
                d = x->retry_after_ms < cap ? x->retry_after_ms : cap;
        return d;
}

/* The bytes are complete: check the digest, then publish under the final name. */
static int publish(struct xfer *x, berth_error **err)
{
        char got[65];
        hasher_flush(x->hasher);
        if (write_failed(x))
                return berth_error_move(err, &x->err);
        hasher_final_hex(x->hasher, got);
        if (!streq(got, x->job->sha256)) {
                if (ftruncate(x->fd, 0) < 0)
                        unlinkat(x->store->blobs_fd, x->partial, 0);
                return berth_error_make(err, BERTH_E_DIGEST, 0, "%s: sha256 mismatch: expected %s, got %s",
                                        x->job->url, x->job->sha256, got);
        }
        if (fsync(x->fd) < 0 || fchmod(x->fd, 0444) < 0)
                return berth_err(err, errno, "sync `%s`", x->partial);
        return store_publish(x->store->blobs_fd, x->partial, x->job->sha256, err);
}

/* Decide what a finished attempt means. Returns 0 done, 1 retry, -1 failed. */
static int judge(struct xfer *x, CURLcode rc, berth_error **err)
{
        if (x->err)
                return berth_error_move(err, &x->err);
        long status = 0;
        sym_curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
        char reason[CURL_ERROR_SIZE + 64];
        if (x->bad_range) {
                x->bad_range = false;
                snprintf(reason, sizeof(reason), "a 206 answer for other bytes than asked");
                goto retry;
        }
        if (rc == CURLE_OK && (status == 200 || status == 206)) {
                _cleanup_error_ berth_error *e = NULL;
                if (publish(x, &e) == 0)
                        return 0;
                /* Bytes kept from an earlier attempt may be what was wrong: once more from zero. */
                if (e->kind != BERTH_E_DIGEST || !x->resumed_any)
                        return berth_error_move(err, &e);
                return restart_from_zero(x) < 0 ? berth_error_move(err, &x->err) : 1;
        }
        if (rc == CURLE_OK && status == 416) {
                /* We may hold the whole file already (the last attempt lost only
                 * its ending); else our partial file does not fit the server's. */
                _cleanup_error_ berth_error *e = NULL;
                if (x->bytes > 0 && publish(x, &e) == 0)
                        return 0;
                if (e && e->kind != BERTH_E_DIGEST)
                        return berth_error_move(err, &e);
                if (restart_from_zero(x) < 0)
                        return berth_error_move(err, &x->err);
                snprintf(reason, sizeof(reason), "HTTP 416 on resume");
        } else if (rc == CURLE_OK && transient_status(status)) {
                snprintf(reason, sizeof(reason), "HTTP %ld", status);
        } else if (rc != CURLE_OK && transient_curl(rc)) {
                snprintf(reason, sizeof(reason), "%s", x->errbuf[0] ? x->errbuf : sym_curl_easy_strerror(rc));
        } else if (rc == CURLE_OK) {
                return berth_error_make(err, status == 404 || status == 410 ? BERTH_E_NOTFOUND : BERTH_E_FAILED, 0,
                                        "GET %s: HTTP %ld", x->job->url, status);
        } else if (rc == CURLE_UNSUPPORTED_PROTOCOL) {
                char *where = NULL;
                sym_curl_easy_getinfo(x->h, CURLINFO_EFFECTIVE_URL, &where);
                return berth_err(err, 0, "GET %s: refusing to follow a redirect to %s (%s)", x->job->url,
                                 where ? where : "another scheme",
                                 startswith(x->job->url, "https://") ? "https may only lead to https"
                                                                     : "http may only lead to http or https");
        } else if (rc == CURLE_FILESIZE_EXCEEDED) {
                return berth_error_make(err, BERTH_E_LIMIT, 0,
                                        "GET %s: larger than the limit of %" PRIu64 " bytes (BERTH_IMAGE_MAX_DOWNLOAD)",
                                        x->job->url, x->opts->limits.max_download);
        } else {
                return berth_err(err, 0, "GET %s: %s", x->job->url, x->errbuf[0] ? x->errbuf : sym_curl_easy_strerror(rc));
        }
retry:
        if (x->attempts >= x->opts->limits.retries)
                return berth_err(err, 0, "GET %s: %s (gave up after %u attempts)", x->job->url, reason, x->attempts + 1);
        uint64_t delay = backoff_ms(x);
        snprintf(x->last_failure, sizeof(x->last_failure), "%s", reason);
        x->attempts++;
        x->next_try_ms = now_ms() + delay;
        log_debug("fetch: %s: %s; retry %u in %" PRIu64 " ms", x->job->url, reason, x->attempts, delay);
        emit(x, IMAGES_EV_RETRY, delay, reason);
        return 1;
}

/* ---- the multi loop ------------------------------------------------------- */

static void xfer_done(struct xfer *x)
{
        if (x->h)
                sym_curl_easy_cleanup(x->h);
        if (x->headers)
                sym_curl_slist_free_all(x->headers);
        if (x->fd >= 0)
                close(x->fd);
        hasher_free(x->hasher);
        free(x->partial);
        if (x->err)
                berth_error_free(x->err);
}

static int start(CURLM *m, struct xfer *x, berth_error **err)
{
        setup_handle(x, err);
        if (sym_curl_multi_add_handle(m, x->h) != CURLM_OK)
                return berth_err(err, 0, "curl: cannot add a transfer");
        x->active = true;
        return 0;
}

static int collect(CURLM *m, struct xfer *xs, berth_error **err)
{
        CURLMsg *msg;
        int left;
        while ((msg = sym_curl_multi_info_read(m, &left))) {
                if (msg->msg != CURLMSG_DONE)
                        continue;
                struct xfer *x = NULL;
                sym_curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &x);
                CURLcode rc = msg->data.result;
                sym_curl_multi_remove_handle(m, x->h);
                x->active = false;
                int r = judge(x, rc, err);
                if (r < 0)
                        return berth_error_wrap(err, "layer %zu", x->job->index + 1);
                if (r == 0) {
                        x->done = true;
                        x->job->ok = true;
                        emit(x, IMAGES_EV_PROGRESS, 0, NULL);
                        if (x->job->on_published)
                                x->job->on_published(x->job, x->job->userdata);
                }
        }
        return 0;
}

/* A layer that has not received 1 MiB within the deadline is given up, in
 * the middle of an attempt or of a wait: this bounds what a dead server
 * costs, whatever it answers and however often the attempts are retried. */
static int check_deadline(CURLM *m, struct xfer *x, uint64_t now, uint64_t *wait, berth_error **err)
{
        uint64_t limit = (uint64_t) x->opts->limits.deadline_s * 1000, left = limit - (now - x->mark_ms);
        if (now - x->mark_ms < limit) {
                if (left < *wait)
                        *wait = left;
                return 0;
        }
        if (x->active) {
                sym_curl_multi_remove_handle(m, x->h);
                x->active = false;
        }
        x->done = true;
        _cleanup_free_ char *why = x->attempts ? xasprintf("%u attempts, the last failed: %s", x->attempts,
                                                           x->last_failure)
                                               : xstrdup("the server is stalled or too slow");
        berth_err(err, 0, "GET %s: gave up: less than 1 MiB arrived in %u s (BERTH_IMAGE_DEADLINE); %s", x->job->url,
                  x->opts->limits.deadline_s, why);
        return berth_error_wrap(err, "layer %zu", x->job->index + 1);
}

static bool all_finished(const struct xfer *xs, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!xs[i].done)
                        return false;
        return true;
}

static int run_loop(CURLM *m, struct xfer *xs, size_t n, berth_error **err)
{
        for (;;) {
                bool pending = false;
                uint64_t now = now_ms(), wait = 1000;
                for (size_t i = 0; i < n; i++) {
                        struct xfer *x = &xs[i];
                        if (!x->done && check_deadline(m, x, now, &wait, err) < 0)
                                return -1;
                        if (x->done || x->active) {
                                pending |= x->active;
                                if (x->active && now - x->last_event_ms >= 200)
                                        emit(x, IMAGES_EV_PROGRESS, 0, NULL);
                                continue;
                        }
                        pending = true;
                        if (x->next_try_ms <= now) {
                                if (start(m, x, err) < 0)
                                        return -1;
                        } else if (x->next_try_ms - now < wait) {
                                wait = x->next_try_ms - now;
                        }
                }
                if (!pending)
                        return 0;
                int running = 0;
                if (sym_curl_multi_perform(m, &running) != CURLM_OK)
                        return berth_err(err, 0, "curl: transfer loop failed");
                if (collect(m, xs, err) < 0)
                        return -1;
                if (running == 0 && all_finished(xs, n))
                        return 0;
                if (sym_curl_multi_poll(m, NULL, 0, (int) (wait < 200 ? wait : 200), NULL) != CURLM_OK)
                        return berth_err(err, 0, "curl: poll failed");
        }
}

int fetch_all(struct store *s, const struct images_opts *opts, struct fetch_job *jobs, size_t n, berth_error **err)
{
        if (dl_curl_load(err) < 0)
                return -1;
        _cleanup_(curl_multi_cleanupp) CURLM *m = sym_curl_multi_init();
        if (!m)
                return berth_err(err, ENOMEM, "curl_multi_init");
        sym_curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 6L);
        struct xfer *xs = xcalloc(n ? n : 1, sizeof(*xs));
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
                xs[i] = (struct xfer) { .job = &jobs[i], .opts = opts, .store = s, .fd = -1, .start_ms = now_ms() };
                xs[i].mark_ms = xs[i].start_ms;
                xs[i].h = sym_curl_easy_init();
                if (!xs[i].h)
                        rc = berth_err(err, ENOMEM, "curl_easy_init");
                else if (open_partial(&xs[i], err) < 0)
                        rc = berth_error_wrap(err, "layer %zu", jobs[i].index + 1);
                else
                        emit(&xs[i], IMAGES_EV_START, 0, NULL);
        }
        if (rc == 0)
                rc = run_loop(m, xs, n, err);
        for (size_t i = 0; i < n; i++) {
                if (xs[i].active)
                        sym_curl_multi_remove_handle(m, xs[i].h);
                xfer_done(&xs[i]);
        }
        free(xs);
        return rc;
}
