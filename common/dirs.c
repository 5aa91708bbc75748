#include "common.h"

#include <errno.h>
#include <pwd.h>
#include <sys/stat.h>

int berth_passwd(uid_t uid, char **ret_name, char **ret_home, berth_error **err)
{
        struct passwd *pw = getpwuid(uid);
        if (!pw)
                return berth_error_make(err, BERTH_E_NOTFOUND, errno, "no user with uid %u", (unsigned) uid);
        if (ret_name)
                *ret_name = xstrdup(pw->pw_name);
        if (ret_home)
                *ret_home = xstrdup(pw->pw_dir);
        return 0;
}

static int berth_dir(const char *env, const char *xdg_env, const char *home_sub, char **ret, berth_error **err)
{
        _cleanup_free_ char *path = NULL;
        const char *v = getenv(env);
        if (v && *v) {
                path = xstrdup(v);
        } else if ((v = getenv(xdg_env)) && v[0] == '/') {
                path = xasprintf("%s/berth", v);
        } else if ((v = getenv("HOME")) && v[0] == '/') {
                path = xasprintf("%s/%s/berth", v, home_sub);
        } else {
                _cleanup_free_ char *home = NULL;
                _cleanup_error_ berth_error *e = NULL;
                if (berth_passwd(getuid(), NULL, &home, &e) < 0)
                        return berth_err(err, 0, "cannot find the home folder (%s): set %s", e->msg, env);
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
