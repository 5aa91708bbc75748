/* The image's layer folders, bottom first. */
#include <errno.h>
#include <sys/stat.h>

#include "envs-private.h"
#include "images/images.h"

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

int envs_pull_image(const struct images_opts *opts, const struct spec_layer *l, bool refresh,
                    struct images_oci_image *ret, berth_error **err)
{
        /* A tag that berth.lock pinned is pulled by that digest: no tag lookup. */
        _cleanup_free_ char *pinned = l->oci && l->sha256 && !strchr(l->oci, '@')
                                              ? xasprintf("%s@sha256:%s", l->oci, l->sha256)
                                              : NULL;
        int r = l->oci ? images_pull_oci(opts, pinned ? pinned : l->oci, l->platform, refresh, ret, err)
                       : images_pull_archive(opts, oci_source(l), l->sha256, l->docker_archive != NULL, l->ref,
                                             l->platform, ret, err);
        return r < 0 ? berth_error_wrap(err, "%s:%d:%d", l->pos.file, l->pos.line, l->pos.col) : 0;
}

void envs_image_config_done(struct envs_image_config *c)
{
        strv_free(c->env);
        strv_free(c->entrypoint);
        strv_free(c->cmd);
        free(c->workdir);
        free(c->user);
        *c = (struct envs_image_config){};
}

static void take_config(struct images_oci_image *im, struct envs_image_config *c)
{
        envs_image_config_done(c);
        c->env = TAKE_PTR(im->env);
        c->entrypoint = TAKE_PTR(im->entrypoint);
        c->cmd = TAKE_PTR(im->cmd);
        c->workdir = TAKE_PTR(im->workdir);
        c->user = TAKE_PTR(im->user);
}

int envs_image_config(const struct spec_layer *ls, size_t n, struct envs_image_config *ret, berth_error **err)
{
        *ret = (struct envs_image_config){};
        size_t i = n;
        while (i > 0 && ls[i - 1].url)
                i--;
        if (i == 0)
                return 0;
        struct images_opts opts;
        _cleanup_(images_oci_image_done) struct images_oci_image im = {};
        if (images_opts_init(&opts, err) < 0 || envs_pull_image(&opts, &ls[i - 1], false, &im, err) < 0)
                return -1;
        take_config(&im, ret);
        return 0;
}

/* An OCI image in the list stands for all its layers: what the last pull
 * resolved, if it is all cached, else a pull now. */
static int expand_oci(const struct spec *s, char **dirs, char ***ret, struct envs_image_config *config,
                      berth_error **err)
{
        struct images_opts opts;
        size_t n = 0;
        _cleanup_strv_ char **out = xcalloc(1, sizeof(char *));
        if (images_opts_init(&opts, err) < 0)
                return -1;
        for (size_t i = 0; i < s->n_image; i++) {
                const struct spec_layer *l = &s->image[i];
                _cleanup_(images_oci_image_done) struct images_oci_image im = {};
                bool oci = !l->url;
                if (oci && envs_pull_image(&opts, l, false, &im, err) < 0)
                        return -1;
                size_t add = oci ? im.n_layers : 1;
                out = xrealloc(out, (n + add + 1) * sizeof(char *));
                for (size_t j = 0; j < add; j++)
                        out[n++] = oci ? TAKE_PTR(im.layer_dirs[j]) : TAKE_PTR(dirs[i]);
                out[n] = NULL;
                if (oci)
                        take_config(&im, config);
        }
        *ret = TAKE_PTR(out);
        return 0;
}

int envs_layers(const struct spec *s, const char *state, bool keep_record, char ***ret,
                struct envs_image_config *ret_config, berth_error **err)
{
        if (s->n_image == 0)
                return berth_error_make(err, BERTH_E_INVALID, 0, "%s: the environment has no image", s->path);
        _cleanup_strv_ char **dirs = xcalloc(s->n_image + 1, sizeof(char *));
        /* "" holds an OCI image's place while the archives are pulled. */
        for (size_t i = 0; i < s->n_image; i++)
                dirs[i] = s->image[i].url ? local_folder(s->image[i].url) : xstrdup("");
        if (envs_pull_layers(s, state, keep_record, dirs, err) < 0)
                return -1;
        _cleanup_(envs_image_config_done) struct envs_image_config config = {};
        if (expand_oci(s, dirs, ret, &config, err) < 0)
                return -1;
        if (ret_config)
                *ret_config = config, config = (struct envs_image_config){};
        return 0;
}
