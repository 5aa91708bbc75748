#include <errno.h>
#include <inttypes.h>

#include "private.h"

#define GiB (UINT64_C(1) << 30)

/* Accepts plain bytes or a K/M/G/T suffix (binary), like the spec's sizes. */
static int parse_u64(const char *name, const char *s, bool size, uint64_t *ret, berth_error **err)
{
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || s[0] == '-')
                return berth_error_make(err, BERTH_E_USAGE, 0, "%s: expected a number, got \"%s\"", name, s);
        unsigned shift = 0;
        if (size && *end) {
                const char *units = "KMGT";
                const char *u = strchr(units, *end);
                if (!u)
                        return berth_error_make(err, BERTH_E_USAGE, 0, "%s: expected a size like 8GiB, got \"%s\"",
                                                name, s);
                shift = 10 * (unsigned) (u - units + 1);
                end++;
                if (streq(end, "iB") || streq(end, "B"))
                        end += strlen(end);
        }
        if (*end)
                return berth_error_make(err, BERTH_E_USAGE, 0, "%s: unexpected \"%s\" in \"%s\"", name, end, s);
        if (shift && v > (UINT64_MAX >> shift))
                return berth_error_make(err, BERTH_E_USAGE, 0, "%s: \"%s\" is too large", name, s);
        *ret = (uint64_t) v << shift;
        return 0;
}

static int env_u64(const char *name, bool size, uint64_t *val, berth_error **err)
{
        const char *s = getenv(name);
        if (!s || !*s)
                return 0;
        return parse_u64(name, s, size, val, err);
}

static int env_uint(const char *name, unsigned *val, berth_error **err)
{
        uint64_t v = *val;
        if (env_u64(name, false, &v, err) < 0)
                return -1;
        if (v > 1000000)
                return berth_error_make(err, BERTH_E_USAGE, 0, "%s: %" PRIu64 " is too large", name, v);
        *val = (unsigned) v;
        return 0;
}

int images_opts_init(struct images_opts *ret, berth_error **err)
{
        struct images_limits l = {
                .max_download = 16 * GiB,
                .max_unpacked = 16 * GiB,
                .max_entries = 4000000,
                .max_redirects = 5,
                .retries = 5,
                .connect_timeout_s = 30,
                /* A dead server costs at most (retries + 1) x 15 s + 7.75 s of
                 * backoff = 98 s, and never more than the 120 s deadline. */
                .low_speed_time_s = 15,
                .deadline_s = 120,
                .max_retry_after_s = 60,
        };
        if (env_u64("BERTH_IMAGE_MAX_DOWNLOAD", true, &l.max_download, err) < 0 ||
            env_u64("BERTH_IMAGE_MAX_UNPACKED", true, &l.max_unpacked, err) < 0 ||
            env_u64("BERTH_IMAGE_MAX_ENTRIES", false, &l.max_entries, err) < 0 ||
            env_uint("BERTH_IMAGE_MAX_REDIRECTS", &l.max_redirects, err) < 0 ||
            env_uint("BERTH_IMAGE_RETRIES", &l.retries, err) < 0 ||
            env_uint("BERTH_IMAGE_CONNECT_TIMEOUT", &l.connect_timeout_s, err) < 0 ||
            env_uint("BERTH_IMAGE_LOW_SPEED_TIME", &l.low_speed_time_s, err) < 0 ||
            env_uint("BERTH_IMAGE_DEADLINE", &l.deadline_s, err) < 0 ||
            env_uint("BERTH_IMAGE_MAX_RETRY_AFTER", &l.max_retry_after_s, err) < 0)
                return -1;
        const char *ca = getenv("BERTH_CA_BUNDLE");
        *ret = (struct images_opts) { .limits = l, .ca_bundle = ca && *ca ? ca : NULL };
        return 0;
}
