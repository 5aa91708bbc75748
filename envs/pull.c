/* Archives: fetched, verified and unpacked by images/. */
#include <limits.h>
#include <stdlib.h>

#include "envs-private.h"
#include "images/images.h"

/* layers[i] is already set for local folders; pull the rest in one go, so
 * several archives download in parallel. */
int envs_pull_layers(const struct spec *s, char **layers, berth_error **err)
{
        _cleanup_free_ struct image_ref *refs = xcalloc(s->n_image, sizeof(*refs));
        _cleanup_free_ size_t *slot = xcalloc(s->n_image, sizeof(*slot));
        size_t n = 0;
        for (size_t i = 0; i < s->n_image; i++) {
                if (layers[i])
                        continue;
                refs[n] = (struct image_ref) { s->image[i].url, s->image[i].sha256 };
                slot[n++] = i;
        }
        if (n == 0)
                return 0;

        struct images_opts opts;
        if (images_opts_init(&opts, err) < 0)
                return -1;
        /* The spec is what names these layers: gc keeps them while it exists. */
        char owner[PATH_MAX];
        opts.owner = realpath(s->path, owner) ? owner : NULL;
        _cleanup_strv_ char **dirs = NULL;
        if (images_pull(&opts, refs, n, &dirs, err) < 0)
                return -1;
        for (size_t j = 0; j < n; j++)
                layers[slot[j]] = TAKE_PTR(dirs[j]);
        return 0;
}
