/* libFuzzer target for the unpacker. Besides crashes and sanitizer reports, it
 * checks the promises: nothing appears beside the layer folder, and nothing
 * inside it is a device (other than a whiteout), setuid/setgid, or carries a
 * security.*, trusted.* or forged overlay xattr... except the opaque marker. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "images/private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_xattrs(int fd)
{
        char names[4096];
        ssize_t n = flistxattr(fd, names, sizeof(names));
        for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t) strlen(names + off) + 1)
                if (!startswith(names + off, "user.") ||
                    (startswith(names + off, "user.overlay.") && !streq(names + off, OVERLAY_OPAQUE_XATTR)))
                        abort();
}

static void check_tree(int dirfd, int depth)
{
        if (depth > 512)
                abort();
        check_xattrs(dirfd);
        /* A new open, not dup(): a dup shares the read position. */
        int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d)
                abort();
        struct dirent *de;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                struct stat st;
                if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        abort();
                if ((st.st_mode & (S_ISUID | S_ISGID)) || S_ISBLK(st.st_mode) ||
                    (S_ISCHR(st.st_mode) && st.st_rdev != 0))
                        abort();
                if (S_ISDIR(st.st_mode)) {
                        fchmodat(dirfd, de->d_name, 0700, 0);
                        int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0)
                                abort();
                        check_tree(sub, depth + 1);
                        close(sub);
                }
        }
        closedir(d);
}

/* The parent holds only "layer" and "sentinel", and the sentinel is intact. */
static void check_parent(int pfd)
{
        int fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d)
                abort();
        struct dirent *de;
        size_t n = 0;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..")) {
                        if (!streq(de->d_name, "layer") && !streq(de->d_name, "sentinel"))
                                abort();
                        n++;
                }
        closedir(d);
        struct stat st;
        if (n != 2 || fstatat(pfd, "sentinel", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) || st.st_size != 4 ||
            st.st_nlink != 1)
                abort();
}

static char parent[] = "/tmp/berth-fuzz-unpack-XXXXXX";

static void remove_parent(void)
{
        berth_error *err = NULL;
        rm_rf_at(AT_FDCWD, parent, &err);
        berth_error_freep(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static int pfd = -1;
        if (pfd < 0) {
                if (!mkdtemp(parent))
                        abort();
                atexit(remove_parent);
                pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                int s = openat(pfd, "sentinel", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                if (pfd < 0 || s < 0 || write(s, "safe", 4) != 4)
                        abort();
                close(s);
        }
        int in = memfd_create("archive", MFD_CLOEXEC);
        if (in < 0 || write_all(in, data, size) < 0 || lseek(in, 0, SEEK_SET) < 0)
                abort();
        if (mkdirat(pfd, "layer", 0700) < 0)
                abort();
        int root = openat(pfd, "layer", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct images_limits lim = { .max_unpacked = 16u << 20, .max_entries = 4096 };
        berth_error *err = NULL;
        unpack_fd(in, root, &lim, NULL, &err);
        berth_error_freep(&err);
        check_parent(pfd);
        check_tree(root, 0);
        close(root);
        close(in);
        if (rm_rf_at(pfd, "layer", &err) < 0)
                abort();
        return 0;
}
