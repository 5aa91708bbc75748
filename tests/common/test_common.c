#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <linux/openat2.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <cmocka.h>

#include "common/common.h"
#include "no-openat2.h"

static void error_wrap_chain(void **state)
{
        _cleanup_error_ berth_error *err = NULL;
        assert_int_equal(berth_err(&err, ENOENT, "open `%s`", "x"), -1);
        assert_int_equal(berth_error_wrap(&err, "pull %s", "layer 2"), -1);
        _cleanup_free_ char *text = berth_error_text(err);
        assert_string_equal(text, "pull layer 2: open `x`: No such file or directory");
        assert_int_equal(err->kind, BERTH_E_FAILED);
        /* The first error wins: later ones do not overwrite it. */
        berth_error_make(&err, BERTH_E_LIMIT, 0, "other");
        assert_int_equal(err->kind, BERTH_E_FAILED);
}

/* An error kept aside (by a callback or a thread) joins the caller's only if
 * the caller has none yet: the first error wins, and neither leaks. */
static void error_move_keeps_the_first(void **state)
{
        _cleanup_error_ berth_error *err = NULL;
        berth_error *aside = NULL;
        berth_err(&aside, EIO, "write");
        assert_int_equal(berth_error_move(&err, &aside), -1);
        assert_null(aside);
        assert_string_equal(err->msg, "write");
        berth_error_make(&aside, BERTH_E_DIGEST, 0, "later");
        assert_int_equal(berth_error_move(&err, &aside), -1);
        assert_null(aside);
        assert_string_equal(err->msg, "write");
        assert_int_equal(err->kind, BERTH_E_FAILED);
        berth_err(&aside, 0, "nobody wants it");
        assert_int_equal(berth_error_move(NULL, &aside), -1);
        assert_null(aside);
}

static void dynbuf_limit(void **state)
{
        _cleanup_error_ berth_error *err = NULL;
        _cleanup_dynbuf_ dynbuf b;
        dynbuf_init(&b, 8, "test input");
        assert_int_equal(dynbuf_add(&b, "12345678", 8, &err), 0);
        assert_string_equal(b.buf, "12345678");
        assert_int_equal(dynbuf_add(&b, "9", 1, &err), -1);
        assert_int_equal(err->kind, BERTH_E_LIMIT);
        assert_string_equal(err->msg, "test input is larger than the limit of 8 bytes");
}

/* The published FNV-1a test vectors; fed in pieces, the same as at once. */
static void fnv1a64_vectors(void **state)
{
        assert_true(fnv1a64(FNV1A64_INIT, "", 0) == 0xcbf29ce484222325ull);
        assert_true(fnv1a64(FNV1A64_INIT, "a", 1) == 0xaf63dc4c8601ec8cull);
        assert_true(fnv1a64(FNV1A64_INIT, "foobar", 6) == 0x85944171f73967e8ull);
        assert_true(fnv1a64(fnv1a64(FNV1A64_INIT, "foo", 3), "bar", 3) == 0x85944171f73967e8ull);
}

static void distance_and_suggestion(void **state)
{
        assert_int_equal(string_distance("kitten", "sitting", 5), 3);
        assert_int_equal(string_distance("abc", "abc", 2), 0);
        assert_int_equal(string_distance("a", "abcdef", 2), 3);
        const char *const keys[] = { "resources", "services", "security", NULL };
        assert_string_equal(closest_match("resource", keys), "resources");
        assert_string_equal(closest_match("servces", keys), "services");
        assert_null(closest_match("zzzzzzz", keys));
}

static void atomic_write_and_bounded_read(void **state)
{
        char dir[] = "/tmp/berth-test-XXXXXX";
        assert_non_null(mkdtemp(dir));
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY);
        _cleanup_error_ berth_error *err = NULL;
        assert_int_equal(write_file_atomic(dfd, "f", "hello", 5, 0600, &err), 0);
        assert_int_equal(write_file_atomic(dfd, "f", "world!", 6, 0600, &err), 0);
        char *buf = NULL;
        size_t len = 0;
        assert_int_equal(read_file_bounded(dfd, "f", 100, "test file", &buf, &len, &err), 0);
        assert_int_equal(len, 6);
        assert_string_equal(buf, "world!");
        free(buf);
        assert_int_equal(read_file_bounded(dfd, "f", 3, "test file", &buf, &len, &err), -1);
        assert_int_equal(err->kind, BERTH_E_LIMIT);
        berth_error_freep(&err);
        assert_int_equal(read_file_bounded(dfd, "missing", 3, "test file", &buf, &len, &err), -1);
        assert_int_equal(err->kind, BERTH_E_NOTFOUND);
        berth_error_freep(&err);
        /* No temporary file is left beside the result. */
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;
        while ((de = readdir(d)))
                n += de->d_name[0] != '.';
        assert_int_equal(n, 1);
        assert_int_equal(rm_rf_at(AT_FDCWD, dir, &err), 0);
        assert_int_equal(access(dir, F_OK), -1);
}

static void rm_rf_does_not_follow_symlinks(void **state)
{
        char dir[] = "/tmp/berth-test-XXXXXX", outside[] = "/tmp/berth-out-XXXXXX";
        assert_non_null(mkdtemp(dir));
        assert_non_null(mkdtemp(outside));
        _cleanup_free_ char *victim = xasprintf("%s/keep", outside);
        _cleanup_free_ char *link = xasprintf("%s/link", dir);
        _cleanup_free_ char *sub = xasprintf("%s/sub", dir);
        assert_int_equal(mkdir(sub, 0500), 0);
        int fd = open(victim, O_CREAT | O_WRONLY, 0600);
        close(fd);
        assert_int_equal(symlink(outside, link), 0);
        _cleanup_error_ berth_error *err = NULL;
        assert_int_equal(rm_rf_at(AT_FDCWD, dir, &err), 0);
        assert_int_equal(access(victim, F_OK), 0);
        assert_int_equal(rm_rf_at(AT_FDCWD, outside, &err), 0);
}

static void berth_dirs_are_private(void **state)
{
        char dir[] = "/tmp/berth-test-XXXXXX";
        assert_non_null(mkdtemp(dir));
        _cleanup_free_ char *cache = xasprintf("%s/c/d", dir);
        setenv("BERTH_CACHE_DIR", cache, 1);
        _cleanup_error_ berth_error *err = NULL;
        _cleanup_free_ char *got = NULL;
        assert_int_equal(berth_cache_dir(&got, &err), 0);
        assert_string_equal(got, cache);
        struct stat st;
        assert_int_equal(stat(cache, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);
        unsetenv("BERTH_CACHE_DIR");
        assert_int_equal(rm_rf_at(AT_FDCWD, dir, &err), 0);
}

/* ---- paths inside a root (beneath.c) ------------------------------------ */

struct tree {
        char dir[32];           /* holds root/, outside/ and layers */
        int root;
};

static void put(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
}

static char *at(const struct tree *t, const char *rel)
{
        return xasprintf("%s/%s", t->dir, rel);
}

static void mk(const struct tree *t, const char *rel)
{
        _cleanup_free_ char *p = at(t, rel);
        assert_int_equal(mkdir(p, 0755), 0);
}

static void ln(const struct tree *t, const char *target, const char *rel)
{
        _cleanup_free_ char *p = at(t, rel);
        assert_int_equal(symlink(target, p), 0);
}

static void file(const struct tree *t, const char *rel, const char *text)
{
        _cleanup_free_ char *p = at(t, rel);
        put(p, text);
}

static int tree_setup(void **state)
{
        struct tree *t = xcalloc(1, sizeof(*t));
        strcpy(t->dir, "/tmp/berth-beneath-XXXXXX");
        assert_non_null(mkdtemp(t->dir));
        mk(t, "root");
        mk(t, "root/etc");
        mk(t, "root/dev");
        mk(t, "root/d");
        mk(t, "outside");
        file(t, "outside/secret", "secret\n");
        file(t, "root/etc/passwd", "root:x:0:0::/:/bin/sh\n");
        _cleanup_free_ char *fifo = at(t, "root/etc/fifo"), *escape = at(t, "outside/secret");
        assert_int_equal(mkfifo(fifo, 0644), 0);
        ln(t, "/dev/zero", "root/etc/zero");
        ln(t, "../../../../../../../../..", "root/up");
        _cleanup_free_ char *up = xasprintf("/up%s", escape);
        ln(t, up, "root/etc/escape");
        ln(t, escape, "root/etc/escape-abs");
        ln(t, "/etc/passwd", "root/etc/abs");
        ln(t, "../etc/./passwd", "root/etc/rel");
        ln(t, "loop", "root/etc/loop");
        ln(t, "/d", "root/dlink");
        _cleanup_free_ char *root = at(t, "root");
        t->root = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(t->root >= 0);
        *state = t;
        return 0;
}

static int tree_teardown(void **state)
{
        struct tree *t = *state;
        berth_error *err = NULL;
        close(t->root);
        assert_int_equal(rm_rf_at(AT_FDCWD, t->dir, &err), 0);
        free(t);
        return 0;
}

/* Read path in the root: its text, or NULL with *ret_err. */
static char *read_in(const struct tree *t, const char *path, berth_error **ret_err)
{
        char *buf = NULL;
        if (beneath_read(t->root, path, 4096, &buf, NULL, ret_err) < 0)
                return NULL;
        return buf;
}

static void expect_error(berth_error *err, int kind, const char *text)
{
        assert_non_null(err);
        _cleanup_free_ char *got = berth_error_text(err);
        if (!strstr(got, text))
                fail_msg("expected \"%s\" in \"%s\"", text, got);
        if (kind)
                assert_int_equal(err->kind, kind);
        berth_error_free(err);
}

static void beneath_symlinks_stay_inside(void **state)
{
        struct tree *t = *state;
        berth_error *err = NULL;
        const char *same[] = { "etc/passwd", "/etc/passwd", "etc/abs", "etc/rel", "../../etc/passwd",
                               "d/../../etc/passwd", "dlink/../etc/passwd", "up/etc/passwd" };
        for (size_t i = 0; i < ARRAY_SIZE(same); i++) {
                _cleanup_free_ char *text = read_in(t, same[i], &err);
                if (!text)
                        fail_msg("%s: %s", same[i], err->msg);
                assert_string_equal(text, "root:x:0:0::/:/bin/sh\n");
        }
        /* Out of the root by .. or by an absolute host path: resolved inside, where nothing is. */
        assert_null(read_in(t, "etc/escape", &err));
        expect_error(err, BERTH_E_NOTFOUND, "open `tmp`");
        err = NULL;
        assert_null(read_in(t, "etc/escape-abs", &err));
        expect_error(err, BERTH_E_NOTFOUND, "open `tmp`");
        err = NULL;
        assert_null(read_in(t, "etc/loop", &err));
        expect_error(err, 0, "more than 40 symlinks");
}

static void beneath_reads_refuse_what_is_not_a_file(void **state)
{
        struct tree *t = *state;
        berth_error *err = NULL;
        /* A FIFO with no writer: opening it for reading would block. */
        assert_null(read_in(t, "etc/fifo", &err));
        expect_error(err, BERTH_E_FAILED, "`etc/fifo` is a fifo, not a regular file");
        err = NULL;
        assert_null(read_in(t, "etc/zero", &err));
        expect_error(err, BERTH_E_NOTFOUND, "open `dev/zero`");
        err = NULL;
        assert_null(read_in(t, "etc", &err));
        expect_error(err, 0, "`etc` is a folder, not a regular file");
        /* A socket, and (as root) a device where the symlink points. */
        _cleanup_free_ char *sock = at(t, "root/etc/sock");
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        strncpy(a.sun_path, sock, sizeof(a.sun_path) - 1);
        _cleanup_close_ int s = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_int_equal(bind(s, (struct sockaddr *) &a, sizeof(a)), 0);
        err = NULL;
        assert_null(read_in(t, "etc/sock", &err));
        expect_error(err, 0, "is a socket, not a regular file");
        _cleanup_free_ char *zero = at(t, "root/dev/zero");
        if (mknod(zero, S_IFCHR | 0666, makedev(1, 5)) == 0) {
                err = NULL;
                assert_null(read_in(t, "etc/zero", &err));
                expect_error(err, 0, "`etc/zero` is a character device, not a regular file");
        }
        /* What is returned reads as usual: O_NONBLOCK only guarded the open. */
        err = NULL;
        _cleanup_close_ int fd = -1;
        assert_int_equal(beneath_open(t->root, "etc/abs", O_RDONLY, BENEATH_REGULAR, &fd, &err), 0);
        assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
        char *buf = NULL;
        assert_int_equal(beneath_read(t->root, "etc/passwd", 4, &buf, NULL, &err), -1);
        expect_error(err, BERTH_E_LIMIT, "larger than the limit of 4 bytes");
}

static void beneath_creates_only_inside(void **state)
{
        struct tree *t = *state;
        berth_error *err = NULL;
        int fd = -1;
        assert_int_equal(beneath_open(t->root, "/new/a/b", O_PATH, BENEATH_CREATE | BENEATH_DIRECTORY, &fd, &err),
                         0);
        close(fd);
        assert_int_equal(beneath_open(t->root, "new/a/file", O_PATH, BENEATH_CREATE, &fd, &err), 0);
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        close(fd);
        /* Symlinks are followed inside the root, but nothing is made through one. */
        assert_int_equal(beneath_open(t->root, "dlink", O_PATH, BENEATH_DIRECTORY, &fd, &err), 0);
        close(fd);
        assert_int_equal(beneath_open(t->root, "dlink/x", O_PATH, BENEATH_CREATE, &fd, &err), -1);
        expect_error(err, 0, "`d/x` is missing, and berth makes nothing through the symlink `dlink`");
        err = NULL;
        assert_int_equal(beneath_open(t->root, "etc/escape-abs", O_PATH, BENEATH_CREATE, &fd, &err), -1);
        expect_error(err, 0, "berth makes nothing through the symlink `etc/escape-abs`");
        err = NULL;
        assert_int_equal(beneath_open(t->root, "etc/passwd/x", O_PATH, BENEATH_CREATE, &fd, &err), -1);
        expect_error(err, 0, "`etc/passwd` is not a folder");
        err = NULL;
        assert_int_equal(beneath_open(t->root, "dlink/y", O_PATH, BENEATH_NO_SYMLINKS, &fd, &err), -1);
        expect_error(err, 0, "goes through the symlink `dlink`");
        /* O_NOFOLLOW: the symlink itself. */
        err = NULL;
        assert_int_equal(beneath_open(t->root, "etc/abs", O_PATH | O_NOFOLLOW, 0, &fd, &err), 0);
        assert_int_equal(fstat(fd, &st), 0);
        assert_true(S_ISLNK(st.st_mode));
        close(fd);
        _cleanup_free_ char *outside = at(t, "outside");
        _cleanup_closedir_ DIR *d = opendir(outside);
        struct dirent *de;
        int n = 0;
        while ((de = readdir(d)))
                n += de->d_name[0] != '.';
        assert_int_equal(n, 1);
}

/* Layers, topmost first: whiteouts and opaque folders as overlay shows them. */
static void beneath_layers_as_overlay(void **state)
{
        struct tree *t = *state;
        const char *dirs[] = { "l1", "l1/etc", "l1/op", "l2", "l2/etc", "l3", "l3/op", "l4", "l4/etc" };
        for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
                mk(t, dirs[i]);
        file(t, "l1/etc/passwd", "l1\n");
        file(t, "l1/etc/group", "g1\n");
        file(t, "l1/etc/real", "real\n");
        file(t, "l1/op/old", "old\n");
        file(t, "l3/op/new", "new\n");
        _cleanup_free_ char *wh = at(t, "l2/etc/passwd"), *op = at(t, "l3/op"), *fifo = at(t, "l4/etc/group");
        assert_int_equal(mknod(wh, S_IFCHR | 0600, makedev(0, 0)), 0);
        assert_int_equal(setxattr(op, OVERLAY_OPAQUE_XATTR, "y", 1, 0), 0);
        assert_int_equal(mkfifo(fifo, 0644), 0);
        ln(t, "real", "l4/etc/passwd");
        int fd[4];
        for (int i = 0; i < 4; i++) {
                _cleanup_free_ char *p = xasprintf("%s/l%d", t->dir, i + 1);
                fd[i] = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
                assert_true(fd[i] >= 0);
        }
        berth_error *err = NULL;
        char *buf = NULL;
        /* l2 over l1: passwd whited out, group seen through the merged etc. */
        int l21[] = { fd[1], fd[0] };
        assert_int_equal(beneath_read_layers(l21, 2, "/etc/passwd", 4096, &buf, NULL, &err), -1);
        expect_error(err, BERTH_E_NOTFOUND, "open `etc/passwd`");
        err = NULL;
        assert_int_equal(beneath_read_layers(l21, 2, "/etc/group", 4096, &buf, NULL, &err), 0);
        assert_string_equal(buf, "g1\n");
        free(buf);
        /* l3's opaque op hides l1's. */
        int l31[] = { fd[2], fd[0] };
        assert_int_equal(beneath_read_layers(l31, 2, "op/old", 4096, &buf, NULL, &err), -1);
        expect_error(err, BERTH_E_NOTFOUND, "open `op/old`");
        err = NULL;
        assert_int_equal(beneath_read_layers(l31, 2, "op/new", 4096, &buf, NULL, &err), 0);
        free(buf);
        /* l4's symlink resolves in the merged view; its FIFO is refused. */
        int l421[] = { fd[3], fd[1], fd[0] };
        assert_int_equal(beneath_read_layers(l421, 3, "etc/passwd", 4096, &buf, NULL, &err), 0);
        assert_string_equal(buf, "real\n");
        free(buf);
        assert_int_equal(beneath_read_layers(l421, 3, "etc/group", 4096, &buf, NULL, &err), -1);
        expect_error(err, 0, "`etc/group` is a fifo, not a regular file");
        /* A lone whiteout hides nothing below but is no file either. */
        err = NULL;
        assert_int_equal(beneath_read_layers(&fd[1], 1, "etc/passwd", 4096, &buf, NULL, &err), -1);
        expect_error(err, BERTH_E_NOTFOUND, "open `etc/passwd`");
        for (int i = 0; i < 4; i++)
                close(fd[i]);
}

static void openat2_fails_here(void **state)
{
        struct open_how how = { .flags = O_PATH, .resolve = RESOLVE_IN_ROOT };
        assert_int_equal(syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how)), -1);
        assert_int_equal(errno, ENOSYS);
}

static const struct CMUnitTest beneath_tests[] = {
        cmocka_unit_test_setup_teardown(beneath_symlinks_stay_inside, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(beneath_reads_refuse_what_is_not_a_file, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(beneath_creates_only_inside, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(beneath_layers_as_overlay, tree_setup, tree_teardown),
};

/* The same tests where openat2() fails with ENOSYS: the fallback walk. */
static int run_without_openat2(void)
{
        pid_t pid = fork();
        if (pid == 0) {
                const struct CMUnitTest check[] = { cmocka_unit_test(openat2_fails_here) };
                if (no_openat2_install() < 0)
                        _exit(1);
                _exit(cmocka_run_group_tests_name("without openat2", check, NULL, NULL) ||
                      cmocka_run_group_tests_name("beneath without openat2", beneath_tests, NULL, NULL));
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) < 0)
                return 1;
        return !WIFEXITED(status) || WEXITSTATUS(status) != 0;
}

/* Without BERTH_*_DIR: $XDG_*_HOME/berth, else under $HOME; each made 0700. */
static void berth_dirs_fall_back_to_xdg_then_home(void **state)
{
        char dir[] = "/tmp/berth-test-XXXXXX";
        assert_non_null(mkdtemp(dir));
        _cleanup_free_ char *xc = xasprintf("%s/xc", dir), *xs = xasprintf("%s/xs", dir);
        _cleanup_error_ berth_error *err = NULL;
        unsetenv("BERTH_CACHE_DIR");
        unsetenv("BERTH_STATE_DIR");
        setenv("HOME", dir, 1);
        setenv("XDG_CACHE_HOME", xc, 1);
        setenv("XDG_STATE_HOME", xs, 1);
        const char *want[] = { "%s/xc/berth", "%s/xs/berth", "%s/.cache/berth", "%s/.local/state/berth" };
        for (int i = 0; i < 4; i++) {
                if (i == 2) {
                        unsetenv("XDG_CACHE_HOME");
                        unsetenv("XDG_STATE_HOME");
                }
                _cleanup_free_ char *got = NULL, *w = xasprintf(want[i], dir);
                assert_int_equal(i % 2 ? berth_state_dir(&got, &err) : berth_cache_dir(&got, &err), 0);
                assert_string_equal(got, w);
                struct stat st;
                assert_int_equal(stat(w, &st), 0);
                assert_int_equal(st.st_mode & 0777, 0700);
        }
        assert_int_equal(rm_rf_at(AT_FDCWD, dir, &err), 0);
}

static void warnings_are_data(void **state)
{
        berth_warnings w = {};
        berth_warn(NULL, "dropped", "nobody asked for %d", 1);
        berth_warn(&w, NULL, "a fallback was taken");
        berth_warn_at(&w, "berth.yaml", 6, 1, "ports", "not acted on yet");
        berth_warn(&w, "resources", "cpus not enforced");
        assert_int_equal(w.n, 3);
        const char *want[] = { "berth: warning: a fallback was taken", "berth.yaml:6:1: warning: ports: not acted on yet",
                               "berth: warning: resources: cpus not enforced" };
        for (size_t i = 0; i < w.n; i++) {
                _cleanup_free_ char *t = berth_warning_text(&w.v[i]);
                assert_string_equal(t, want[i]);
        }
        berth_warnings to = {};
        berth_warnings_move(&to, &w);
        assert_int_equal(w.n, 0);
        assert_int_equal(to.n, 3);
        assert_int_equal(to.v[1].line, 6);
        assert_string_equal(to.v[1].file, "berth.yaml");
        berth_warnings_clear(&to);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(error_wrap_chain),
                cmocka_unit_test(dynbuf_limit),
                cmocka_unit_test(fnv1a64_vectors),
                cmocka_unit_test(distance_and_suggestion),
                cmocka_unit_test(atomic_write_and_bounded_read),
                cmocka_unit_test(rm_rf_does_not_follow_symlinks),
                cmocka_unit_test(berth_dirs_are_private),
                cmocka_unit_test(berth_dirs_fall_back_to_xdg_then_home),
                cmocka_unit_test(warnings_are_data),
                cmocka_unit_test(error_move_keeps_the_first),
        };
        int failed = cmocka_run_group_tests(tests, NULL, NULL);
        failed |= cmocka_run_group_tests_name("beneath", beneath_tests, NULL, NULL);
        failed |= run_without_openat2();
        return failed;
}
