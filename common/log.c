#include "common.h"

#include <errno.h>

static int log_level = BERTH_LOG_WARN;

void berth_log_set_level(int level)
{
        log_level = level;
}

void berth_log(int level, const char *fmt, ...)
{
        static const char *const prefix[] = {
                [BERTH_LOG_ERROR] = "error: ",
                [BERTH_LOG_WARN] = "warning: ",
                [BERTH_LOG_INFO] = "",
                [BERTH_LOG_DEBUG] = "debug: ",
        };
        if (level > log_level)
                return;
        int saved = errno;
        va_list ap;
        va_start(ap, fmt);
        flockfile(stderr);
        fprintf(stderr, "berth: %s", prefix[level]);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        funlockfile(stderr);
        va_end(ap);
        errno = saved;
}
