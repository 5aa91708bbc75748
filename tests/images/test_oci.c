/* Unit tests for OCI images: references and platforms (common/oci-ref.c), the
 * spec keys that name OCI images, and manifest/index/config parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common/oci-ref.h"
#include "images/oci.h"
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


/* ---- manifests, indexes, configs ------------------------------------------ */

#define HEX2 "1111111111111111111111111111111111111111111111111111111111111111"
#define HEX3 "2222222222222222222222222222222222222222222222222222222222222222"
#define OCI_M "application/vnd.oci.image.manifest.v1+json"
#define OCI_I "application/vnd.oci.image.index.v1+json"
#define DOCKER_M "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_L "application/vnd.docker.distribution.manifest.list.v2+json"
#define CFG "{\"mediaType\": \"application/vnd.oci.image.config.v1+json\", \"digest\": \"sha256:" HEX "\", \"size\": 7}"
#define LAYER(hex, size) "{\"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\", \"digest\": \"sha256:" hex \
                         "\", \"size\": " #size "}"
#define MANIFEST(layers) "{\"schemaVersion\": 2, \"mediaType\": \"" OCI_M "\", \"config\": " CFG ", \"layers\": [" layers "]}"

static char *parse_fails(const char *json, const char *declared, int *ret_kind)
{
        berth_error *err = NULL;
        struct oci_manifest m = {};
        if (oci_manifest_parse(json, strlen(json), declared, &m, &err) == 0) {
                oci_manifest_done(&m);
                return NULL;
        }
        if (ret_kind)
                *ret_kind = err->kind;
        char *msg = xstrdup(err->msg);
        berth_error_free(err);
        return msg;
}

static void manifest_oci(void **state)
{
        static const char doc[] = MANIFEST(LAYER(HEX2, 100) ", " LAYER(HEX3, 200));
        _cleanup_error_ berth_error *err = NULL;
        _cleanup_(oci_manifest_donep) struct oci_manifest m = {};
        assert_int_equal(oci_manifest_parse(doc, strlen(doc), OCI_M, &m, &err), 0);
        assert_int_equal(m.kind, OCI_KIND_MANIFEST);
        assert_string_equal(m.config.hex, HEX);
        assert_int_equal(m.config.size, 7);
        assert_int_equal(m.n_items, 2);
        assert_string_equal(m.items[0].hex, HEX2);
        assert_int_equal(m.items[1].size, 200);
        /* served as JSON, or with no type: the document says what it is */
        _cleanup_(oci_manifest_donep) struct oci_manifest g = {};
        assert_int_equal(oci_manifest_parse(doc, strlen(doc), "application/json", &g, &err), 0);
        assert_int_equal(g.kind, OCI_KIND_MANIFEST);
}

static void manifest_docker(void **state)
{
        static const char doc[] =
                "{\"schemaVersion\": 2, \"mediaType\": \"" DOCKER_M "\", \"config\": {\"mediaType\": "
                "\"application/vnd.docker.container.image.v1+json\", \"digest\": \"sha256:" HEX "\", \"size\": 1},"
                "\"layers\": [{\"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\", \"digest\": "
                "\"sha256:" HEX2 "\", \"size\": 3}]}";
        _cleanup_error_ berth_error *err = NULL;
        _cleanup_(oci_manifest_donep) struct oci_manifest m = {};
        assert_int_equal(oci_manifest_parse(doc, strlen(doc), DOCKER_M "; charset=utf-8", &m, &err), 0);
        assert_int_equal(m.kind, OCI_KIND_MANIFEST);
        assert_string_equal(m.media_type, DOCKER_M);
}

#define ENTRY(hex, plat) "{\"mediaType\": \"" OCI_M "\", \"digest\": \"sha256:" hex "\", \"size\": 5, \"platform\": " plat "}"
#define INDEX(entries) "{\"schemaVersion\": 2, \"mediaType\": \"" OCI_I "\", \"manifests\": [" entries "]}"

static void index_platforms(void **state)
{
        static const char doc[] = INDEX(
                ENTRY(HEX, "{\"os\": \"linux\", \"architecture\": \"arm\", \"variant\": \"v6\"}") ","
                ENTRY(HEX2, "{\"os\": \"linux\", \"architecture\": \"arm\", \"variant\": \"v7\"}") ","
                ENTRY(HEX3, "{\"os\": \"linux\", \"architecture\": \"arm64\"}") ","
                ENTRY("3333333333333333333333333333333333333333333333333333333333333333",
                      "{\"os\": \"linux\", \"architecture\": \"amd64\"}") ","
                ENTRY("4444444444444444444444444444444444444444444444444444444444444444",
                      "{\"os\": \"unknown\", \"architecture\": \"unknown\"}"));
        _cleanup_error_ berth_error *err = NULL;
        _cleanup_(oci_manifest_donep) struct oci_manifest m = {};
        assert_int_equal(oci_manifest_parse(doc, strlen(doc), OCI_I, &m, &err), 0);
        assert_int_equal(m.kind, OCI_KIND_INDEX);
        assert_int_equal(m.n_items, 5);
        static const char *const picks[][2] = {
                { "linux/amd64", "3333" }, { "linux/arm/v7", HEX2 }, { "linux/arm/v6", HEX },
                { "linux/arm64/v8", HEX3 }, { "linux/arm64", HEX3 },
        };
        for (size_t i = 0; i < ARRAY_SIZE(picks); i++) {
                struct oci_platform p;
                const struct oci_descriptor *d = NULL;
                assert_int_equal(oci_platform_parse(picks[i][0], &p, NULL), 0);
                if (oci_index_select(&m, &p, &d, &err) < 0)
                        fail_msg("%s: %s", picks[i][0], err->msg);
                assert_true(startswith(d->hex, picks[i][1]));
        }
        struct oci_platform want;
        const struct oci_descriptor *d = NULL;
        assert_int_equal(oci_platform_parse("linux/s390x", &want, NULL), 0);
        assert_int_equal(oci_index_select(&m, &want, &d, &err), -1);
        assert_int_equal(err->kind, BERTH_E_NOTFOUND);
        assert_string_equal(err->msg, "no image for platform linux/s390x in the index (it has linux/arm/v6, "
                                      "linux/arm/v7, linux/arm64, linux/amd64)");
        assert_null(d);
}

static void manifest_refused(void **state)
{
        static const struct {
                const char *doc, *declared, *msg;
                int kind;
        } cases[] = {
                { MANIFEST(LAYER(HEX2, 1)), OCI_I, "manifest: served as \"" OCI_I "\" but says it is \"" OCI_M "\"" },
                { MANIFEST(LAYER(HEX2, 1)), DOCKER_M, "but says it is" },
                { "{\"schemaVersion\": 1, \"name\": \"x\"}", NULL, "expected an object with schemaVersion 2" },
                { "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.docker.distribution.manifest.v1+prettyjws\"}",
                  NULL, "Docker schema 1 manifests are not supported" },
                { "{\"schemaVersion\": 2}", "application/vnd.example.thing", "manifest: unsupported media type "
                  "\"application/vnd.example.thing\"" },
                { "{\"schemaVersion\": 2, \"config\": {\"mediaType\": \"application/vnd.oci.empty.v1+json\", \"digest\": "
                  "\"sha256:" HEX "\", \"size\": 2}, \"layers\": [" LAYER(HEX2, 1) "]}", NULL,
                  "manifest: config (not a container image): unsupported media type \"application/vnd.oci.empty.v1+json\"" },
                { MANIFEST("{\"mediaType\": \"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\", \"digest\": "
                           "\"sha256:" HEX2 "\", \"size\": 1}"), NULL, "manifest: layers[0]: unsupported media type" },
                { MANIFEST(LAYER(HEX2, 1) "," LAYER(HEX, 7)), NULL,
                  "manifest: layers[1] is the config blob sha256:" HEX ", a JSON document declared as a layer" },
                { MANIFEST(""), NULL, "manifest: the image has no layers" },
                { MANIFEST("{\"mediaType\": \"application/vnd.oci.image.layer.v1.tar\", \"digest\": \"sha512:" HEX HEX
                           "\", \"size\": 1}"), NULL, "manifest: layers[0]: digest \"sha512:" },
                { MANIFEST("{\"mediaType\": \"application/vnd.oci.image.layer.v1.tar\", \"digest\": \"sha256:" HEX2
                           "\", \"size\": -1}"), NULL, "manifest: layers[0]: negative size" },
                { MANIFEST("{\"mediaType\": \"application/vnd.oci.image.layer.v1.tar\", \"digest\": \"sha256:" HEX2
                           "\"}"), NULL, "a descriptor needs mediaType, digest and size" },
                { "{\"schemaVersion\": 2, \"schemaVersion\": 2}", NULL, "manifest: not JSON: duplicate object key" },
                { "{\"schemaVersion\": 2, \"mediaType\": \"" OCI_I "\", \"manifests\": {}}", NULL,
                  "manifest: manifests: expected a list" },
                { "[1, 2", NULL, "manifest: not JSON" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                int kind = 0;
                _cleanup_free_ char *msg = parse_fails(cases[i].doc, cases[i].declared, &kind);
                if (!msg)
                        fail_msg("case %zu accepted", i);
                if (!strstr(msg, cases[i].msg))
                        fail_msg("case %zu:\n  want %s\n  got  %s", i, cases[i].msg, msg);
                assert_int_equal(kind, BERTH_E_INVALID);
        }
}

static void manifest_limits(void **state)
{
        size_t big = OCI_MANIFEST_MAX + 1;
        _cleanup_free_ char *doc = xmalloc(big + 1);
        memset(doc, ' ', big);
        doc[big] = '\0';
        doc[0] = '{';
        doc[big - 1] = '}';
        int kind = 0;
        _cleanup_free_ char *msg = parse_fails(doc, OCI_M, &kind);
        assert_int_equal(kind, BERTH_E_LIMIT);
        assert_string_equal(msg, "manifest: 4194305 bytes, more than the limit of 4194304");
        /* exactly at the cap it is read */
        doc[big - 2] = '}';
        doc[big - 1] = '\0';
        berth_error *err = NULL;
        struct oci_manifest m = {};
        assert_int_equal(oci_manifest_parse(doc, big - 1, OCI_M, &m, &err), -1);
        assert_int_equal(err->kind, BERTH_E_INVALID);
        berth_error_free(err);
        /* more layers than the cap */
        _cleanup_dynbuf_ dynbuf b;
        dynbuf_init(&b, OCI_MANIFEST_MAX, "test");
        assert_int_equal(dynbuf_printf(&b, NULL, "{\"schemaVersion\": 2, \"config\": " CFG ", \"layers\": ["), 0);
        for (int i = 0; i <= OCI_MAX_LAYERS; i++)
                assert_int_equal(dynbuf_printf(&b, NULL, "%s" LAYER(HEX2, 1), i ? "," : ""), 0);
        assert_int_equal(dynbuf_printf(&b, NULL, "]}"), 0);
        _cleanup_free_ char *many = parse_fails(b.buf, NULL, &kind);
        assert_int_equal(kind, BERTH_E_LIMIT);
        assert_string_equal(many, "manifest: 257 layers, more than the limit of 256");
}

static void blob_checks(void **state)
{
        static const char blob[] = "{\"a\":1}";
        struct oci_descriptor d = { .size = 7 };
        /* sha256 of {"a":1} */
        strcpy(d.hex, "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862");
        _cleanup_error_ berth_error *err = NULL;
        assert_int_equal(oci_check_blob("config", &d, blob, 7, &err), 0);
        assert_int_equal(oci_check_blob("config", &d, blob, 6, &err), -1);
        assert_int_equal(err->kind, BERTH_E_DIGEST);
        assert_string_equal(err->msg, "config sha256:015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862: "
                                      "6 bytes, but its descriptor says 7");
        berth_error_freep(&err);
        strcpy(d.hex, HEX);
        assert_int_equal(oci_check_blob("config", &d, blob, 7, &err), -1);
        assert_int_equal(err->kind, BERTH_E_DIGEST);
        assert_string_equal(err->msg, "config: digest mismatch: expected sha256:" HEX ", got sha256:"
                                      "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862");
}

static void config_defaults(void **state)
{
        static const char doc[] =
                "{\"architecture\": \"amd64\", \"os\": \"linux\", \"config\": {\"Env\": [\"PATH=/usr/bin\", \"A=b=c\"],"
                "\"Cmd\": [\"sh\", \"-c\", \"echo hi\"], \"Entrypoint\": null, \"WorkingDir\": \"/srv\", \"User\": \"1000:1000\"},"
                "\"rootfs\": {\"type\": \"layers\", \"diff_ids\": [\"sha256:" HEX "\", \"sha256:" HEX2 "\"]}}";
        _cleanup_error_ berth_error *err = NULL;
        _cleanup_(oci_config_donep) struct oci_config c = {};
        assert_int_equal(oci_config_parse(doc, strlen(doc), &c, &err), 0);
        assert_string_equal(c.env[1], "A=b=c");
        assert_null(c.env[2]);
        assert_string_equal(c.cmd[2], "echo hi");
        assert_null(c.entrypoint);
        assert_string_equal(c.workdir, "/srv");
        assert_string_equal(c.user, "1000:1000");
        assert_string_equal(c.arch, "amd64");
        assert_int_equal(c.n_diff_ids, 2);
        static const char *const bad[][2] = {
                { "{\"config\": {\"Env\": [\"NOEQUALS\"]}, \"rootfs\": {\"diff_ids\": []}}", "config: Env[0]: expected NAME=value" },
                { "{\"config\": {\"Cmd\": \"sh\"}, \"rootfs\": {\"diff_ids\": []}}", "config: Cmd: expected a list of strings" },
                { "{\"config\": {\"Cmd\": [1]}, \"rootfs\": {\"diff_ids\": []}}", "config: Cmd[0]: expected a string" },
                { "{\"config\": {}}", "config: rootfs.diff_ids: expected a list" },
                { "[]", "config: not a JSON object" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                _cleanup_error_ berth_error *e = NULL;
                struct oci_config x = {};
                if (oci_config_parse(bad[i][0], strlen(bad[i][0]), &x, &e) == 0)
                        fail_msg("case %zu accepted", i);
                assert_string_equal(e->msg, bad[i][1]);
        }
}

static void layer_sniffing(void **state)
{
        struct oci_descriptor d = { .media_type = (char *) "application/vnd.oci.image.layer.v1.tar+gzip" };
        strcpy(d.hex, HEX2);
        static const unsigned char gz[] = { 0x1f, 0x8b, 8, 0 }, zst[] = { 0x28, 0xb5, 0x2f, 0xfd };
        static const char json[] = "  {\"schemaVersion\": 2}";
        _cleanup_error_ berth_error *err = NULL;
        assert_int_equal(oci_layer_sniff(&d, gz, sizeof(gz), &err), 0);
        assert_int_equal(oci_layer_sniff(&d, (const unsigned char *) json, strlen(json), &err), -1);
        assert_string_equal(err->msg, "layer sha256:" HEX2 ": declared \"application/vnd.oci.image.layer.v1.tar+gzip\" "
                                      "but the blob is a JSON document");
        berth_error_freep(&err);
        d.media_type = (char *) "application/vnd.oci.image.layer.v1.tar+zstd";
        assert_int_equal(oci_layer_sniff(&d, zst, sizeof(zst), &err), 0);
        assert_int_equal(oci_layer_sniff(&d, gz, sizeof(gz), &err), -1);
        berth_error_freep(&err);
        d.media_type = (char *) "application/vnd.oci.image.layer.v1.tar";
        unsigned char tar[512] = {};
        assert_int_equal(oci_layer_sniff(&d, tar, sizeof(tar), &err), 0); /* an empty tar */
        memcpy(tar + 257, "ustar", 5);
        tar[0] = 'a';
        assert_int_equal(oci_layer_sniff(&d, tar, sizeof(tar), &err), 0);
        assert_int_equal(oci_layer_sniff(&d, gz, sizeof(gz), &err), -1);
        assert_string_equal(err->msg, "layer sha256:" HEX2 ": declared \"application/vnd.oci.image.layer.v1.tar\" "
                                      "but the blob is gzip");
        assert_int_equal(oci_media_kind("application/vnd.docker.image.rootfs.diff.tar.gzip"), OCI_KIND_LAYER);
        assert_int_equal(oci_media_kind("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"),
                         OCI_KIND_UNSUPPORTED);
        assert_int_equal(oci_media_kind(DOCKER_L), OCI_KIND_INDEX);
}

static int load_crypto(void **state)
{
        return dl_crypto_load(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(refs_canonical), cmocka_unit_test(refs_parts),  cmocka_unit_test(refs_invalid),
                cmocka_unit_test(platforms),      cmocka_unit_test(spec_oci_layers),
                cmocka_unit_test(spec_oci_invalid), cmocka_unit_test(manifest_oci),
                cmocka_unit_test(manifest_docker),  cmocka_unit_test(index_platforms),
                cmocka_unit_test(manifest_refused), cmocka_unit_test(manifest_limits),
                cmocka_unit_test(blob_checks),      cmocka_unit_test(config_defaults),
                cmocka_unit_test(layer_sniffing),
        };
        return cmocka_run_group_tests(tests, load_crypto, NULL);
}
