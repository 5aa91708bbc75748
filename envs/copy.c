/* Stacking without overlay: the root is a merged copy of the layers, every
 * file a reflink or a copy of its own (never a hardlink into the cache: a
 * write, chmod or truncate inside the sandbox would change the layer for every
 * environment). Kept per list of layers, or thrown away with the run. */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "envs-private.h"
#include "images/images.h"
#include "sandbox/sandbox.h"

/* As root the copy belongs to the sandbox's root, as an overlay's upper
 * folder does: a copy needs no idmapped mount, which the state folder's
 * filesystem may refuse (an overlayfs, as in a container). */
static int build_copy(char *const *layers, size_t n, const char *dest, berth_error **err)
{
        struct images_stack_opts o = { .owned = geteuid() == 0 };
        if (o.owned && sandbox_root_ids(&o.uid, &o.gid, err) < 0)
                return -1;
        return images_stack_copy(layers, n, dest, &o, err);
}

/* Which layers, as they are now: a folder replaced (re-pulled, a local folder
 * made anew) gives a new key. */
static uint64_t layers_key(char *const *layers, size_t n)
{
        /* "owned": copies made before they belonged to the sandbox's root
         * are not used. */
        uint64_t h = fnv1a64(FNV1A64_INIT, "owned\n", 6);
        for (size_t i = 0; i < n; i++) {
                struct stat st = {};
                (void) stat(layers[i], &st);
                _cleanup_free_ char *s = xasprintf("%s\n%llu:%llu:%lld.%ld\n", layers[i],
                                                   (unsigned long long) st.st_dev, (unsigned long long) st.st_ino,
                                                   (long long) st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
                h = fnv1a64(h, s, strlen(s));
        }
        return h;
}

/* Old copies (other layer lists) and builds a crash left behind. */
static void remove_stale(int dfd, const char *keep)
{
        _cleanup_closedir_ DIR *d = opendir_at(dfd, ".", 0);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d)))
                if ((startswith(de->d_name, "copy-") || startswith(de->d_name, ".copy-")) && !streq(de->d_name, keep)) {
                        _cleanup_error_ berth_error *e = NULL;
                        if (rm_rf_at(dfd, de->d_name, &e) < 0)
                                log_debug("remove an old root copy: %s", e->msg);
                }
}

static int build_kept(char *const *layers, size_t n, const char *dir, const char *name, berth_error **err)
{
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return berth_err(err, errno, "open `%s`", dir);
        remove_stale(dfd, name);
        _cleanup_free_ char *tmp = xasprintf("%s/.%s.tmp", dir, name), *final = xasprintf("%s/%s", dir, name);
        /* A kept root is published only once it is on disk. */
        int r = build_copy(layers, n, tmp, err);
        if (r == 0 && syncfs(dfd) < 0)
                r = berth_err(err, errno, "syncfs `%s`", dir);
        if (r == 0 && rename(tmp, final) < 0)
                r = berth_err(err, errno, "rename `%s`", tmp);
        if (r < 0) {
                /* A full disk must not keep what it filled; kill -9 leaves it
                 * to remove_stale() of the next build. */
                _cleanup_error_ berth_error *e = NULL;
                _cleanup_free_ char *base = xasprintf(".%s.tmp", name);
                if (rm_rf_at(dfd, base, &e) < 0)
                        log_debug("remove a failed root copy: %s", e->msg);
                return -1;
        }
        if (fsync(dfd) < 0)
                return berth_err(err, errno, "fsync `%s`", dir);
        return 0;
}

int envs_copy_root(char *const *layers, size_t n, const char *dir, bool throwaway, char **ret, berth_error **err)
{
        if (throwaway) {
                char *dest = xasprintf("%s/root", dir);
                if (build_copy(layers, n, dest, err) < 0) {
                        free(dest);
                        return berth_error_wrap(err, "copy of the layers");
                }
                *ret = dest;
                return 0;
        }
        char name[32];
        snprintf(name, sizeof(name), "copy-%016llx", (unsigned long long) layers_key(layers, n));
        if (mkdir_p(dir, 0700, err) < 0)
                return -1;
        /* Concurrent runs of one environment build its copy once. */
        _cleanup_free_ char *lock = xasprintf("%s/copy.lock", dir), *root = xasprintf("%s/%s", dir, name);
        _cleanup_close_ int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lfd < 0 || flock(lfd, LOCK_EX) < 0)
                return berth_err(err, errno, "lock `%s`", lock);
        struct stat st;
        if (stat(root, &st) < 0 && build_kept(layers, n, dir, name, err) < 0)
                return berth_error_wrap(err, "copy of the layers");
        *ret = TAKE_PTR(root);
        return 0;
}
