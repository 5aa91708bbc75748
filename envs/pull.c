/* Archives: fetched, verified and unpacked by images/. */
#include "envs-private.h"

int envs_pull_layers(const struct spec *s, char ***ret, berth_error **err)
{
        /* images/ is not in the build yet: only folder layers run today. */
        return berth_error_make(err, BERTH_E_NOTIMPL, 0,
                                "image layer `%s`: fetching archives needs images/, not built yet; "
                                "point the layer at an unpacked folder",
                                s->image[0].url);
}
