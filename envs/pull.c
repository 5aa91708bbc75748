/* Archives: fetched, verified and unpacked by images/.
 *
 * A full pull costs every run libcrypto (loaded for the cache's names), the
 * cache's locks and a rewrite of the spec's refs with two fsyncs, a few
 * milliseconds although nothing changed. So the environment remembers, in
 * <state>/layers, what its last pull resolved: while the spec names the same
 * archives, each local archive without a digest is the same file (device,
 * inode, size, times) and each layer folder is still in the cache, a run
 * uses those folders as they are. The refs the pull recorded keep `image gc`
 * from removing them. An --ephemeral run's instance reads the environment's
 * record and writes none: it leaves nothing behind. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "envs-private.h"
#include "images/images.h"

#define LAYERS_MAGIC "berth layers 1\n"
#define MAX_RECORD (1024 * 1024)

/* What identifies a local archive's content when the spec gives no digest;
 * "-" where the digest does. */
static char *source_id(const struct image_ref *r)
{
        const char *p = startswith(r->url, "file://") ? r->url + 7 : r->url;
        struct stat st;
        if (r->sha256 || p[0] != '/')
                return xstrdup("-");
        if (stat(p, &st) < 0)
                return xstrdup("?");
        return xasprintf("%llu:%llu:%lld:%lld.%09ld:%lld.%09ld", (unsigned long long) st.st_dev,
                         (unsigned long long) st.st_ino, (long long) st.st_size, (long long) st.st_mtim.tv_sec,
                         st.st_mtim.tv_nsec, (long long) st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
}

static char *record_line(const struct image_ref *r, const char *dir)
{
        _cleanup_free_ char *id = source_id(r);
        return xasprintf("%s\t%s\t%s\t%s\n", r->url, r->sha256 ? r->sha256 : "-", id, dir);
}

static bool clean_field(const char *s)
{
        return !strpbrk(s, "\t\n");
}

/* The folders of the last pull, if it still holds; NULL otherwise. */
static char **remembered(const char *state, const char *owner, const struct image_ref *refs, size_t n)
{
        _cleanup_free_ char *path = xasprintf("%s/layers", state), *buf = NULL;
        _cleanup_error_ berth_error *e = NULL;
        if (read_file_bounded(AT_FDCWD, path, MAX_RECORD, "layers", &buf, NULL, &e) < 0)
                return NULL;
        _cleanup_free_ char *head = xasprintf(LAYERS_MAGIC "%s\n", owner);
        if (!startswith(buf, head))
                return NULL;
        _cleanup_strv_ char **dirs = xcalloc(n + 1, sizeof(char *));
        const char *p = buf + strlen(head);
        for (size_t i = 0; i < n; i++) {
                const char *nl = strchr(p, '\n'), *tab = nl;
                while (tab && tab > p && tab[-1] != '\t')
                        tab--;
                if (!nl || tab == p)
                        return NULL;
                _cleanup_free_ char *d = xstrndup(tab, (size_t) (nl - tab));
                _cleanup_free_ char *want = record_line(&refs[i], d);
                size_t len = (size_t) (nl + 1 - p);
                struct stat st;
                if (strlen(want) != len || memcmp(p, want, len) != 0 || stat(d, &st) < 0 || !S_ISDIR(st.st_mode))
                        return NULL;
                dirs[i] = TAKE_PTR(d);
                p = nl + 1;
        }
        if (*p)
                return NULL;
        for (size_t i = 0; i < n; i++)
                images_mark_used(dirs[i]);
        return TAKE_PTR(dirs);
}

static void remember(const char *state, const char *owner, const struct image_ref *refs, size_t n, char **dirs)
{
        _cleanup_free_ char *path = xasprintf("%s/layers", state);
        _cleanup_dynbuf_ dynbuf b;
        _cleanup_error_ berth_error *e = NULL;
        dynbuf_init(&b, MAX_RECORD, "layers");
        if (!clean_field(owner) || dynbuf_printf(&b, &e, LAYERS_MAGIC "%s\n", owner) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *line = NULL;
                if (!clean_field(refs[i].url) || !clean_field(dirs[i]))
                        return;
                line = record_line(&refs[i], dirs[i]);
                if (dynbuf_printf(&b, &e, "%s", line) < 0)
                        return;
        }
        if (write_file_atomic(AT_FDCWD, path, b.buf, b.len, 0600, &e) < 0)
                log_debug("%s", e->msg);
}

/* layers[i] is already set for local folders; pull the rest in one go, so
 * several archives download in parallel. */
int envs_pull_layers(const struct spec *s, const char *state, bool keep_record, char **layers, berth_error **err)
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

        /* The spec is what names these layers: gc keeps them while it exists. */
        char owner[PATH_MAX];
        bool have_owner = realpath(s->path, owner) != NULL;
        _cleanup_free_ char *record = envs_record_folder(state);
        _cleanup_strv_ char **dirs = have_owner ? remembered(record, owner, refs, n) : NULL;
        if (dirs)
                log_debug("layers: as the last pull found them (%s/layers)", record);
        else {
                struct images_opts opts;
                if (images_opts_init(&opts, err) < 0)
                        return -1;
                opts.owner = have_owner ? owner : NULL;
                if (images_pull(&opts, refs, n, &dirs, err) < 0)
                        return -1;
                if (have_owner && keep_record && streq(record, state))
                        remember(state, owner, refs, n, dirs);
        }
        for (size_t j = 0; j < n; j++)
                layers[slot[j]] = TAKE_PTR(dirs[j]);
        return 0;
}
