/* `berth down`: what an environment holds on the host between runs. */
#include <fcntl.h>

#include "envs-private.h"
#include "sandbox/sandbox.h"

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
        _cleanup_close_ int lock = -1;
        int busy = envs_lock_layer(state, &lock, err);
        if (busy > 0)
                return berth_error_make(err, BERTH_E_FAILED, 0, "a run of %s is using its volumes; they stay", s->name);
        if (busy < 0)
                return -1;
        if (rm_rf_at(AT_FDCWD, vols, err) < 0)
                return berth_error_wrap(err, "remove the volumes of %s", s->name);
        ret->volumes_removed = true;
        return 0;
}
