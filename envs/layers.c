/* The image's layer folders, bottom first. */
#include <errno.h>
#include <sys/stat.h>

#include "envs-private.h"

/* A layer given as a local folder is used as it is (it is trusted like the
 * spec that names it); archives are fetched and unpacked by images/. */
static char *local_folder(const char *url)
{
        const char *p = startswith(url, "file://") ? url + 7 : url;
        struct stat st;
        if (p[0] == '/' && stat(p, &st) == 0 && S_ISDIR(st.st_mode))
                return xstrdup(p);
        return NULL;
}

/* An image layer named as an OCI image or archive. */
static const char *oci_source(const struct spec_layer *l)
{
        return l->oci ? l->oci : l->oci_archive ? l->oci_archive : l->docker_archive;
}

int envs_check_layer_sources(const struct spec *s, berth_error **err)
{
        for (size_t i = 0; i <= s->n_services; i++) {
                const struct spec_layer *ls = i == 0 ? s->image : s->services[i - 1].image;
                size_t nl = i == 0 ? s->n_image : s->services[i - 1].n_image;
                for (size_t j = 0; j < nl; j++)
                        if (!ls[j].url)
                                return berth_error_make(err, BERTH_E_NOTIMPL, 0,
                                                        "%s:%d:%d: %s: pulling OCI images is not built yet",
                                                        ls[j].pos.file, ls[j].pos.line, ls[j].pos.col,
                                                        oci_source(&ls[j]));
        }
        return 0;
}

int envs_layers(const struct spec *s, const char *state, bool keep_record, char ***ret, berth_error **err)
{
        if (s->n_image == 0)
                return berth_error_make(err, BERTH_E_INVALID, 0, "%s: the environment has no image", s->path);
        if (envs_check_layer_sources(s, err) < 0)
                return -1;
        _cleanup_strv_ char **dirs = xcalloc(s->n_image + 1, sizeof(char *));
        for (size_t i = 0; i < s->n_image; i++)
                dirs[i] = local_folder(s->image[i].url);
        if (envs_pull_layers(s, state, keep_record, dirs, err) < 0)
                return -1;
        *ret = TAKE_PTR(dirs);
        return 0;
}
