/* `berth down`: what an environment holds on the host between runs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>

#include "envs-private.h"
#include "sandbox/sandbox.h"

/* "berth run" or "berth-supervise", from the holder's command name. */
static const char *holder_name(pid_t pid)
{
        static char name[64];
        _cleanup_free_ char *p = xasprintf("/proc/%d/comm", (int) pid), *text = NULL;
        _cleanup_error_ berth_error *e = NULL;
        if (pid <= 0 || read_file_bounded(AT_FDCWD, p, sizeof(name), "comm", &text, NULL, &e) < 0)
                return "another process";
        snprintf(name, sizeof(name), "%.*s", (int) strcspn(text, "\n"), text);
        return name;
}

/* The write lock on every volume (held until we exit), or an error naming
 * the first one a process has bound: then none is removed. */
static int lock_volumes(const char *state, const char *vols, berth_error **err)
{
        _cleanup_closedir_ DIR *d = opendir(vols);
        struct dirent *de;
        if (!d)
                return berth_err(err, errno, "open `%s`", vols);
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                int fd;
                pid_t holder = 0;
                int busy = envs_lock_volume(state, de->d_name, &fd, &holder, err);
                if (busy < 0)
                        return -1;
                if (busy > 0)
                        return berth_error_make(err, BERTH_E_FAILED, 0, "volume %s is in use by %s (pid %d); "
                                                "no volume was removed", de->d_name, holder_name(holder),
                                                (int) holder);
        }
        return 0;
}

int envs_down(const struct spec *s, bool volumes, struct envs_down_result *ret, berth_error **err)
{
        _cleanup_free_ char *base = NULL;
        *ret = (struct envs_down_result) {};
        if (berth_state_dir(&base, err) < 0)
                return -1;
        _cleanup_free_ char *state = envs_dir_path(base, s);
        _cleanup_free_ char *keep_at = envs_kept_root_path(state);
        int r = sandbox_root_release(keep_at, err);
        if (r < 0)
                return -1;
        ret->root_released = r > 0;
        if (!volumes)
                return 0;
        _cleanup_free_ char *vols = xasprintf("%s/volumes", state);
        if (access(vols, F_OK) < 0)
                return 0;
        if (lock_volumes(state, vols, err) < 0)
                return -1;
        if (rm_rf_at(AT_FDCWD, vols, err) < 0)
                return berth_error_wrap(err, "remove the volumes of %s", s->name);
        ret->volumes_removed = true;
        return 0;
}
