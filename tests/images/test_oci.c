/* Unit tests for OCI images: references and platforms (common/oci-ref.c), the
 * spec keys that name OCI images, and manifest/index/config parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common/oci-ref.h"
#include "specs/specs.h"

#define HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ---- references ---------------------------------------------------------- */

static void refs_canonical(void **state)
{
        static const char *const cases[][2] = {
                { "busybox", "docker.io/library/busybox:latest" },
                { "postgres:16", "docker.io/library/postgres:16" },
                { "team/tools:2.3", "docker.io/team/tools:2.3" },
                { "index.docker.io/busybox", "docker.io/library/busybox:latest" },
                { "docker.io/library/redis:7", "docker.io/library/redis:7" },
                { "localhost/app", "localhost/app:latest" },
                { "localhost:5000/redis:7", "localhost:5000/redis:7" },
                { "127.0.0.1:5000/a/b/c:v1.2-rc_3", "127.0.0.1:5000/a/b/c:v1.2-rc_3" },
                { "[::1]:5000/x", "[::1]:5000/x:latest" },
                { "registry.example.com/library/postgres:16@sha256:" HEX,
                  "registry.example.com/library/postgres:16@sha256:" HEX },
                { "r.example.com/a@sha256:" HEX, "r.example.com/a@sha256:" HEX },
                { "r.example.com/a__b/c.d/e--f", "r.example.com/a__b/c.d/e--f:latest" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                _cleanup_error_ berth_error *err = NULL;
                _cleanup_(oci_ref_donep) struct oci_ref r = {};
                if (oci_ref_parse(cases[i][0], &r, &err) < 0)
                        fail_msg("%s: %s", cases[i][0], err->msg);
                _cleanup_free_ char *s = oci_ref_string(&r);
                assert_string_equal(s, cases[i][1]);
        }
}

static void refs_parts(void **state)
{
        _cleanup_error_ berth_error *err = NULL;
        _cleanup_(oci_ref_donep) struct oci_ref r = {};
        assert_int_equal(oci_ref_parse("localhost:5000/team/app:1@sha256:" HEX, &r, &err), 0);
        assert_string_equal(r.registry, "localhost:5000");
        assert_string_equal(r.repository, "team/app");
        assert_string_equal(r.tag, "1");
        assert_string_equal(r.digest, "sha256:" HEX);
        assert_string_equal(oci_ref_api_host(&r), "localhost:5000");
        _cleanup_(oci_ref_donep) struct oci_ref d = {};
        assert_int_equal(oci_ref_parse("alpine@sha256:" HEX, &d, &err), 0);
        assert_null(d.tag);
        assert_string_equal(oci_ref_api_host(&d), "registry-1.docker.io");
}

static void refs_invalid(void **state)
{
        static const char *const cases[][2] = {
                { "", "expected a repository name before the tag or digest" },
                { ":tag", "expected a repository name before the tag or digest" },
                { "Busybox", "repository \"library/Busybox\": each part must be lowercase" },
                { "example.com/Team/app", "repository \"Team/app\": each part must be lowercase" },
                { "example.com/a//b", "repository \"a//b\"" },
                { "example.com/a-/b", "repository \"a-/b\"" },
                { "example.com/a___b", "repository \"a___b\"" },
                { "example.com/app:", "tag \"\"" },
                { "example.com/app:.x", "tag \".x\"" },
                { "example.com/app:a+b", "tag \"a+b\"" },
                { "example.com:0/app", "registry \"example.com:0\": the port must be a number from 1 to 65535" },
                { "example.com:99999/app", "the port must be a number" },
                { "exa_mple.com/app", "registry \"exa_mple.com\"" },
                { "-bad.com/app", "registry \"-bad.com\"" },
                { "app@sha256:abc", "digest \"sha256:abc\": expected sha256: and 64 lowercase hex digits" },
                { "app@sha512:" HEX, "only sha256 digests are supported" },
                { "app@" HEX, "digest \"" HEX "\": expected sha256:" },
                { "app@sha256:" "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
                  "64 lowercase hex digits" },
                { "https://example.com/app", "without a scheme" },
                { "example.com/a pp", "spaces or control characters" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                _cleanup_error_ berth_error *err = NULL;
                struct oci_ref r = {};
                if (oci_ref_parse(cases[i][0], &r, &err) == 0)
                        fail_msg("%s: accepted", cases[i][0]);
                assert_int_equal(err->kind, BERTH_E_INVALID);
                if (!strstr(err->msg, cases[i][1]))
                        fail_msg("%s: got \"%s\", want \"%s\"", cases[i][0], err->msg, cases[i][1]);
        }
        char tag[200] = "example.com/app:";
        memset(tag + strlen(tag), 't', 129);
        _cleanup_error_ berth_error *err = NULL;
        struct oci_ref r = {};
        assert_int_equal(oci_ref_parse(tag, &r, &err), -1);
        tag[strlen(tag) - 1] = '\0';
        _cleanup_(oci_ref_donep) struct oci_ref ok = {};
        assert_int_equal(oci_ref_parse(tag, &ok, NULL), 0);
        char name[300] = "example.com/";
        memset(name + strlen(name), 'n', 250);
        berth_error_freep(&err);
        assert_int_equal(oci_ref_parse(name, &r, &err), -1);
        assert_non_null(strstr(err->msg, "longer than 255"));
}

static void platforms(void **state)
{
        struct oci_platform p;
        assert_int_equal(oci_platform_parse("linux/amd64", &p, NULL), 0);
        assert_string_equal(p.os, "linux");
        assert_string_equal(p.arch, "amd64");
        assert_string_equal(p.variant, "");
        assert_int_equal(oci_platform_parse("linux/arm64/v8", &p, NULL), 0);
        assert_string_equal(p.variant, "v8");
        static const char *const bad[] = { "linux", "linux/", "/amd64", "Linux/amd64", "linux/amd64/v8/x",
                                           "linux/amd 64", "" };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                _cleanup_error_ berth_error *err = NULL;
                if (oci_platform_parse(bad[i], &p, &err) == 0)
                        fail_msg("%s: accepted", bad[i]);
        }
        oci_platform_host(&p);
        assert_string_equal(p.os, "linux");
#if defined(__x86_64__)
        assert_string_equal(p.arch, "amd64");
#endif
}

/* ---- spec keys ----------------------------------------------------------- */

#define TOP "berth: 1\nname: app\n"

static struct spec *parse_ok(const char *yaml)
{
        _cleanup_error_ berth_error *err = NULL;
        struct spec *s = NULL;
        if (spec_parse("t.yaml", yaml, strlen(yaml), "/base", NULL, &s, &err) < 0)
                fail_msg("%s", err->msg);
        return s;
}

static void spec_oci_layers(void **state)
{
        _cleanup_spec_ struct spec *s = parse_ok(
                TOP "image:\n"
                    "  - oci: registry.example.com/library/postgres:16@sha256:" HEX "\n"
                    "  - {oci: busybox, platform: linux/arm64/v8}\n"
                    "  - {oci-archive: ./img.tar, ref: app:1}\n"
                    "  - {docker-archive: https://h/save.tar, sha256: " HEX ", platform: linux/amd64}\n"
                    "services:\n  redis: {command: [redis-server], image: [{oci: \"localhost:5000/redis:7\"}]}\n");
        assert_int_equal(s->n_image, 4);
        assert_null(s->image[0].url);
        assert_string_equal(s->image[0].oci, "registry.example.com/library/postgres:16@sha256:" HEX);
        assert_string_equal(s->image[1].oci, "docker.io/library/busybox:latest");
        assert_string_equal(s->image[1].platform, "linux/arm64/v8");
        assert_string_equal(s->image[2].oci_archive, "/base/img.tar");
        assert_string_equal(s->image[2].ref, "app:1");
        assert_string_equal(s->image[3].docker_archive, "https://h/save.tar");
        assert_string_equal(s->image[3].sha256, HEX);
        assert_int_equal(s->image[1].pos.line, 5);
        assert_string_equal(s->services[0].image[0].oci, "localhost:5000/redis:7");
}

static void spec_oci_invalid(void **state)
{
        static const char *const cases[][2] = {
                { TOP "image: [{oci: \"Bad/Name\"}]\n",
                  "t.yaml:3:15: image[0].oci: \"Bad/Name\": repository \"Name\": each part must be lowercase" },
                { TOP "image:\n  - oci: \"x.io/a:b c\"\n",
                  "t.yaml:4:10: image[0].oci: \"x.io/a:b c\": a reference may not hold spaces" },
                { TOP "image: [{oci: \"app@sha256:12\"}]\n",
                  "t.yaml:3:15: image[0].oci: \"app@sha256:12\": digest \"sha256:12\": expected sha256: and 64 "
                  "lowercase hex digits" },
                { TOP "image: [{oci: \"\"}]\n",
                  "t.yaml:3:15: image[0].oci: expected an OCI reference like registry.example.com/team/name:tag" },
                { TOP "image: [{oci: a, url: ./a.tar}]\n",
                  "t.yaml:3:23: image[0].url: a layer has one source; oci is already given" },
                { TOP "image: [{url: ./a.tar, oci-archive: ./b.tar}]\n",
                  "t.yaml:3:37: image[0].oci-archive: a layer has one source; url is already given" },
                { TOP "image: [{oci: a, sha256: " HEX "}]\n",
                  "image[0].sha256: not used with oci: pin the image with @sha256:… in the reference" },
                { TOP "image: [{oci: a, ref: b}]\n",
                  "t.yaml:3:23: image[0].ref: only picks an image out of an oci-archive or a docker-archive" },
                { TOP "image: [{url: ./a.tar, platform: linux/amd64}]\n", "image[0].platform: only picks from" },
                { TOP "image: [{oci: a, platform: amd64}]\n",
                  "t.yaml:3:28: image[0].platform: expected a platform like linux/amd64 or linux/arm64/v8, "
                  "got \"amd64\"" },
                { TOP "image: [{docker-archive: http://h/x.tar}]\n",
                  "t.yaml:3:9: image[0].sha256: required key is missing (http and https layers need a digest)" },
                { TOP "image: [{ref: x}]\n",
                  "t.yaml:3:9: image[0].url: required key is missing (or oci, oci-archive, docker-archive)" },
                { TOP "image: [{oci-archive: ftp://h/x.tar}]\n", "image[0].oci-archive: expected an http, https" },
                { TOP "image: [{ocii: x}]\n", "image[0].ocii: unknown key; did you mean \"oci\"?" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                _cleanup_error_ berth_error *err = NULL;
                struct spec *s = NULL;
                if (spec_parse("t.yaml", cases[i][0], strlen(cases[i][0]), "/base", NULL, &s, &err) == 0) {
                        spec_free(s);
                        fail_msg("case %zu accepted", i);
                }
                if (!strstr(err->msg, cases[i][1]))
                        fail_msg("case %zu:\n  want %s\n  got  %s", i, cases[i][1], err->msg);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(refs_canonical), cmocka_unit_test(refs_parts),  cmocka_unit_test(refs_invalid),
                cmocka_unit_test(platforms),      cmocka_unit_test(spec_oci_layers),
                cmocka_unit_test(spec_oci_invalid),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
