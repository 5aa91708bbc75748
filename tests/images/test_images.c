/* Unit tests for images/: path rules, limits from the environment, digests, the
 * hashing pipeline, stacking and the refs/gc bookkeeping, on real temp folders. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <cmocka.h>

#include "images/images.h"
#include "images/private.h"
#include "images/fetch.h"

static char *normalized(const char *name)
{
        _cleanup_error_ berth_error *err = NULL;
        char *out = NULL;
        if (path_normalize(name, &out, &err) < 0)
                return NULL;
        return out;
}

static void normalize_paths(void **state)
{
        static const char *const ok[][2] = {
                { "a/b", "a/b" },       { "./a//b/", "a/b" }, { "/etc/passwd", "etc/passwd" },
                { "./", "" },           { "a/./b", "a/b" },   { "..a/b..", "..a/b.." },
                { "///x", "x" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
                _cleanup_free_ char *got = normalized(ok[i][0]);
                assert_non_null(got);
                assert_string_equal(got, ok[i][1]);
        }
        static const char *const bad[] = { "..", "../x", "a/../../b", "a/..", "/.." };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                assert_null(normalized(bad[i]));
}

static void normalize_limits(void **state)
{
        char name[300];
        memset(name, 'n', 256);
        name[256] = '\0';
        _cleanup_error_ berth_error *err = NULL;
        char *out = NULL;
        assert_int_equal(path_normalize(name, &out, &err), -1);
        assert_int_equal(err->kind, BERTH_E_LIMIT);
        name[255] = '\0';
        _cleanup_free_ char *fine = normalized(name);
        assert_non_null(fine);
}

static void limits_from_env(void **state)
{
        struct images_opts o;
        _cleanup_error_ berth_error *err = NULL;
        setenv("BERTH_IMAGE_MAX_UNPACKED", "2GiB", 1);
        setenv("BERTH_IMAGE_MAX_ENTRIES", "10", 1);
        assert_int_equal(images_opts_init(&o, &err), 0);
        assert_int_equal(o.limits.max_unpacked, 2ULL << 30);
        assert_int_equal(o.limits.max_entries, 10);
        assert_int_equal(o.limits.max_redirects, 5);
        setenv("BERTH_IMAGE_MAX_UNPACKED", "12X", 1);
        assert_int_equal(images_opts_init(&o, &err), -1);
        assert_non_null(strstr(err->msg, "BERTH_IMAGE_MAX_UNPACKED"));
        unsetenv("BERTH_IMAGE_MAX_UNPACKED");
        unsetenv("BERTH_IMAGE_MAX_ENTRIES");
        /* The defaults let a real 2 GiB image through. */
        berth_error_freep(&err);
        assert_int_equal(images_opts_init(&o, &err), 0);
        assert_true(o.limits.max_unpacked >= (2ULL << 30) && o.limits.max_download >= (2ULL << 30));
}

/* With the defaults, a dead server (stalled, dripping, refusing, or asking to
 * retry later) costs a layer at most two minutes: every attempt used up by
 * the low-speed window plus the backoff between them stays under it, and
 * the deadline stops whatever else (connect timeouts, Retry-After) at 120 s. */
static void defaults_give_up_within_two_minutes(void **state)
{
        struct images_opts o;
        _cleanup_error_ berth_error *err = NULL;
        const char *vars[] = { "BERTH_IMAGE_RETRIES", "BERTH_IMAGE_LOW_SPEED_TIME", "BERTH_IMAGE_DEADLINE" };
        for (size_t i = 0; i < ARRAY_SIZE(vars); i++)
                unsetenv(vars[i]);
        assert_int_equal(images_opts_init(&o, &err), 0);
        uint64_t worst_ms = 0;
        for (unsigned a = 0; a <= o.limits.retries; a++)
                worst_ms += o.limits.low_speed_time_s * 1000ULL + (a < o.limits.retries ? fetch_backoff_ms(a) : 0);
        assert_true(worst_ms <= 120000);
        assert_true(o.limits.deadline_s > 0 && o.limits.deadline_s <= 120);
        setenv("BERTH_IMAGE_DEADLINE", "5", 1);
        setenv("BERTH_IMAGE_LOW_SPEED_TIME", "2", 1);
        assert_int_equal(images_opts_init(&o, &err), 0);
        assert_int_equal(o.limits.deadline_s, 5);
        assert_int_equal(o.limits.low_speed_time_s, 2);
        unsetenv("BERTH_IMAGE_DEADLINE");
        unsetenv("BERTH_IMAGE_LOW_SPEED_TIME");
}

static void digests(void **state)
{
        sha256_ctx c;
        char hex[65];
        sha256_init(&c);
        sha256_update(&c, "abc", 3);
        sha256_final_hex(&c, hex);
        assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_true(sha256_valid_hex(hex));
        assert_false(sha256_valid_hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
        assert_false(sha256_valid_hex("abc"));
}

/* The threaded hasher gives the plain digest, across chunk boundaries and resets. */
static void hasher_matches(void **state)
{
        size_t n = 5 * 1024 * 1024 + 17;
        _cleanup_free_ char *buf = xmalloc(n);
        for (size_t i = 0; i < n; i++)
                buf[i] = (char) (i * 7 + 3);
        sha256_ctx c;
        char want[65], got[65];
        sha256_init(&c);
        sha256_update(&c, buf, n);
        sha256_final_hex(&c, want);
        char tmpl[] = "/tmp/berth-hasher-XXXXXX";
        _cleanup_close_ int fd = mkstemp(tmpl);
        assert_true(fd >= 0);
        unlink(tmpl);
        struct hasher *h = hasher_new();
        hasher_update(h, "garbage", 7);
        hasher_reset(h);
        hasher_set_fd(h, fd);
        for (size_t off = 0; off < n; off += 12345)
                hasher_update(h, buf + off, n - off < 12345 ? n - off : 12345);
        hasher_final_hex(h, got);
        assert_int_equal(hasher_error(h), 0);
        hasher_free(h);
        assert_string_equal(got, want);
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(st.st_size, n);
}

static char *tmpdir(void)
{
        char tmpl[] = "/tmp/berth-images-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        return xstrdup(tmpl);
}

/* A path in one of a few rotating static buffers: test code stays readable. */
static const char *P(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *P(const char *fmt, ...)
{
        static char bufs[4][4096];
        static unsigned next;
        char *b = bufs[next++ % 4];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b, sizeof(bufs[0]), fmt, ap);
        va_end(ap);
        return b;
}

static void write_text(const char *path, const char *s)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write_all(fd, s, strlen(s)), 0);
}

/* Lower: a/x, a/y, d/z. Upper: whiteout a/x, opaque d with d/new. */
static void stack_copy_whiteouts(void **state)
{
        _cleanup_free_ char *t = tmpdir();
        _cleanup_free_ char *l0 = xasprintf("%s/l0", t), *l1 = xasprintf("%s/l1", t);
        _cleanup_error_ berth_error *err = NULL;
        assert_int_equal(mkdir_p(P("%s/a", l0), 0755, &err), 0);
        assert_int_equal(mkdir_p(P("%s/d", l0), 0755, &err), 0);
        assert_int_equal(mkdir_p(P("%s/a", l1), 0755, &err), 0);
        assert_int_equal(mkdir_p(P("%s/d", l1), 0755, &err), 0);
        write_text(P("%s/a/x", l0), "x");
        write_text(P("%s/a/y", l0), "y");
        write_text(P("%s/d/z", l0), "z");
        assert_int_equal(mknod(P("%s/a/x", l1), S_IFCHR | 0, makedev(0, 0)), 0);
        write_text(P("%s/d/new", l1), "n");
        assert_int_equal(setxattr(P("%s/d", l1), OVERLAY_OPAQUE_XATTR, "y", 1, 0), 0);
        assert_int_equal(setxattr(P("%s/d", l1), "user.note", "kept", 4, 0), 0);
        char *layers[] = { l0, l1 };
        _cleanup_free_ char *dest = xasprintf("%s/merged", t);
        assert_int_equal(images_stack_copy(layers, 2, dest, &(struct images_stack_opts) { .link = true }, &err), 0);
        struct stat st;
        assert_int_equal(stat(P("%s/a/y", dest), &st), 0);
        assert_int_equal(stat(P("%s/a/x", dest), &st), -1);
        assert_int_equal(stat(P("%s/d/z", dest), &st), -1);
        assert_int_equal(stat(P("%s/d/new", dest), &st), 0);
        /* Folder xattrs come along, overlay markers do not. */
        char v[8] = "";
        assert_int_equal(getxattr(P("%s/d", dest), "user.note", v, sizeof(v)), 4);
        assert_int_equal(getxattr(P("%s/d", dest), OVERLAY_OPAQUE_XATTR, v, sizeof(v)), -1);
        /* The lower layer keeps what the upper one hides. */
        assert_int_equal(stat(P("%s/a/x", l0), &st), 0);
        /* dest must not exist yet */
        assert_int_equal(images_stack_copy(layers, 2, dest, &(struct images_stack_opts) { .link = true }, &err), -1);
        berth_error_freep(&err);
        assert_int_equal(rm_rf_at(AT_FDCWD, t, &err), 0);
}

static void refs_and_gc(void **state)
{
        _cleanup_free_ char *t = tmpdir();
        _cleanup_free_ char *cache = xasprintf("%s/cache", t), *owner = xasprintf("%s/spec.yaml", t);
        _cleanup_error_ berth_error *err = NULL;
        const char *d1 = "1111111111111111111111111111111111111111111111111111111111111111";
        const char *d2 = "2222222222222222222222222222222222222222222222222222222222222222";
        _cleanup_free_ char *b1 = xasprintf("%s/blobs/sha256/%s", cache, d1);
        _cleanup_free_ char *b2 = xasprintf("%s/blobs/sha256/%s", cache, d2);
        char *digests[] = { (char *) d1, NULL };
        write_text(owner, "x");
        assert_int_equal(images_refs_set(cache, owner, digests, 1, &err), 0);
        write_text(b1, "one");
        write_text(b2, "two!");
        struct images_entry *v = NULL;
        size_t n = 0;
        assert_int_equal(images_list(cache, &v, &n, &err), 0);
        assert_int_equal(n, 2);
        for (size_t i = 0; i < n; i++) {
                bool first = streq(v[i].sha256, d1);
                assert_int_equal(v[i].blob_size, first ? 3 : 4);
                if (first)
                        assert_string_equal(v[i].owners[0], owner);
                else
                        assert_null(v[i].owners[0]);
        }
        images_entries_free(v, n);
        struct images_gc_result r = {};
        assert_int_equal(images_gc(cache, NULL, true, &r, &err), 0);
        assert_int_equal(r.n_removed, 1);
        assert_string_equal(r.removed[0], d2);
        assert_int_equal(r.bytes_freed, 4);
        assert_int_equal(access(b2, F_OK), 0);
        images_gc_result_done(&r);
        char *keep[] = { (char *) d2, NULL };
        assert_int_equal(images_gc(cache, keep, false, &r, &err), 0);
        assert_int_equal(r.n_removed, 0);
        images_gc_result_done(&r);
        unlink(owner);
        assert_int_equal(images_gc(cache, NULL, false, &r, &err), 0);
        assert_int_equal(r.n_removed, 2);
        assert_int_equal(access(b1, F_OK), -1);
        images_gc_result_done(&r);
        assert_int_equal(rm_rf_at(AT_FDCWD, t, &err), 0);
}

/* The hasher reads written bytes back: a file it cannot read is an error, not a wrong digest. */
static void hasher_read_back_fails(void **state)
{
        char tmpl[] = "/tmp/berth-hasher-XXXXXX";
        _cleanup_close_ int rw = mkstemp(tmpl);
        assert_true(rw >= 0);
        _cleanup_close_ int wo = open(tmpl, O_WRONLY | O_CLOEXEC);
        unlink(tmpl);
        assert_true(wo >= 0);
        struct hasher *h = hasher_new();
        hasher_set_fd(h, wo);
        char buf[4096] = { 1 };
        for (int i = 0; i < 600; i++)
                hasher_update(h, buf, sizeof(buf));
        hasher_flush(h);
        assert_int_equal(hasher_error(h), EBADF);
        hasher_free(h);
}

/* libcurl, libarchive and libcrypto come through dlopen(): every symbol resolves and works. */
static void dl_tables_resolve(void **state)
{
        berth_error *err = NULL;
        assert_int_equal(dl_curl_load(&err), 0);
        assert_int_equal(dl_archive_load(&err), 0);
        assert_int_equal(dl_crypto_load(&err), 0);
        assert_int_equal(dl_curl_load(&err), 0); /* once, then the same outcome */
#define CHECK(sym) assert_non_null(sym_##sym);
        DL_CURL_SYMBOLS(CHECK)
        DL_ARCHIVE_SYMBOLS(CHECK)
        DL_CRYPTO_SYMBOLS(CHECK)
#undef CHECK
        CURL *h = sym_curl_easy_init();
        assert_non_null(h);
        assert_int_equal(sym_curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024), CURLE_OK);
        sym_curl_easy_cleanup(h);
        assert_string_equal(sym_curl_easy_strerror(CURLE_OK), "No error");
        struct archive *a = sym_archive_read_new();
        assert_non_null(a);
        assert_int_equal(sym_archive_read_support_filter_zstd(a), ARCHIVE_OK);
        sym_archive_read_free(a);
}

/* A missing library or symbol is an error naming it and the package; nothing is written. */
static void dl_missing_is_named(void **state)
{
        berth_error *err = NULL;
        void *p = NULL, *h = NULL;
        const struct dl_symbol bad_lib[] = { { "curl_easy_init", &p } };
        assert_int_equal(dl_open_table("libberth-none.so.9", "berth-none", bad_lib, 1, &h, &err), -1);
        assert_non_null(strstr(err->msg, "libberth-none.so.9 (install the Debian package berth-none)"));
        berth_error_free(err);
        err = NULL;
        void *q = NULL;
        const struct dl_symbol bad_sym[] = { { "curl_easy_init", &q }, { "berth_no_such_symbol", &p } };
        assert_int_equal(dl_open_table(DL_CURL_SONAME, DL_CURL_PACKAGE, bad_sym, 2, &h, &err), -1);
        assert_non_null(strstr(err->msg, "libcurl.so.4 has no symbol berth_no_such_symbol (install a current libcurl4)"));
        assert_null(q);
        assert_null(p);
        assert_null(h);
        berth_error_free(err);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(normalize_paths), cmocka_unit_test(normalize_limits),
                cmocka_unit_test(limits_from_env), cmocka_unit_test(digests),
                cmocka_unit_test(defaults_give_up_within_two_minutes),
                cmocka_unit_test(hasher_matches), cmocka_unit_test(hasher_read_back_fails),  cmocka_unit_test(stack_copy_whiteouts),
                cmocka_unit_test(refs_and_gc),
                cmocka_unit_test(dl_tables_resolve), cmocka_unit_test(dl_missing_is_named),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
