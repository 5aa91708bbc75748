#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "common/common.h"

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

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(error_wrap_chain),
                cmocka_unit_test(dynbuf_limit),
                cmocka_unit_test(distance_and_suggestion),
                cmocka_unit_test(atomic_write_and_bounded_read),
                cmocka_unit_test(rm_rf_does_not_follow_symlinks),
                cmocka_unit_test(berth_dirs_are_private),
                cmocka_unit_test(error_move_keeps_the_first),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
