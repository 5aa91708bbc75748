#include "common.h"

#include <errno.h>
#include <pwd.h>
#include <sys/stat.h>

static const char *home_dir(void)
{
        const char *h = getenv("HOME");
        if (h && h[0] == '/')
                return h;
        struct passwd *pw = getpwuid(getuid());
        return pw && pw->pw_dir ? pw->pw_dir : NULL;
}

static int berth_dir(const char *env, const char *xdg_env, const char *home_sub, char **ret, berth_error **err)
{
        _cleanup_free_ char *path = NULL;
        const char *v = getenv(env);
        if (v && *v) {
                path = xstrdup(v);
        } else if ((v = getenv(xdg_env)) && v[0] == '/') {
                path = xasprintf("%s/berth", v);
        } else {
                const char *home = home_dir();
                if (!home)
                        return berth_err(err, 0, "cannot find the home folder: set %s", env);
                path = xasprintf("%s/%s/berth", home, home_sub);
        }
        if (mkdir_p(path, 0700, err) < 0)
                return -1;
        struct stat st;
        if (stat(path, &st) < 0)
                return berth_err(err, errno, "stat `%s`", path);
        if (st.st_uid != geteuid())
                return berth_err(err, 0, "`%s` belongs to uid %u, not to you", path, (unsigned) st.st_uid);
        if ((st.st_mode & 077) && chmod(path, 0700) < 0)
                return berth_err(err, errno, "chmod 0700 `%s`", path);
        *ret = TAKE_PTR(path);
        return 0;
}

int berth_cache_dir(char **ret, berth_error **err)
{
        return berth_dir("BERTH_CACHE_DIR", "XDG_CACHE_HOME", ".cache", ret, err);
}

int berth_state_dir(char **ret, berth_error **err)
{
        return berth_dir("BERTH_STATE_DIR", "XDG_STATE_HOME", ".local/state", ret, err);
}
