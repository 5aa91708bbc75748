#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "specs/spec-internal.h"
#include "specs/specs.h"
#include "invalid-cases.h"

static int parse_with(const char *yaml, size_t len, const struct spec_limits *lim, struct spec **ret,
                      berth_error **err)
{
        return spec_parse("t.yaml", yaml, len, "/base", lim, ret, err);
}

static struct spec *parse_ok(const char *yaml)
{
        struct spec *s = NULL;
        _cleanup_error_ berth_error *err = NULL;
        if (parse_with(yaml, strlen(yaml), NULL, &s, &err) < 0)
                fail_msg("unexpected error: %s", err->msg);
        return s;
}

/* The message of a failed parse; the caller frees it. */
static char *parse_fail(const char *yaml, size_t len, const struct spec_limits *lim, int *ret_kind)
{
        struct spec *s = NULL;
        berth_error *err = NULL;
        assert_int_equal(parse_with(yaml, len, lim, &s, &err), -1);
        assert_null(s);
        assert_non_null(err);
        char *msg = xstrdup(err->msg);
        *ret_kind = err->kind;
        berth_error_free(err);
        return msg;
}

static int setup_env(void **state)
{
        unsetenv("BERTH_TEST_UNSET");
        setenv("BERTH_TEST_MEM", "lots", 1);
        setenv("BERTH_TEST_VAR", "hello", 1);
        setenv("BERTH_TEST_EMPTY", "", 1);
        return 0;
}

static void invalid_specs(void **state)
{
        size_t failed = 0;
        assert_true(ARRAY_SIZE(invalid_cases) >= 40);
        for (size_t i = 0; i < ARRAY_SIZE(invalid_cases); i++) {
                const struct invalid_case *c = &invalid_cases[i];
                int kind;
                _cleanup_free_ char *msg = parse_fail(c->yaml, strlen(c->yaml), NULL, &kind);
                int want = c->kind ? c->kind : BERTH_E_INVALID;
                if (!streq(msg, c->msg) || kind != want) {
                        print_error("case %zu:\n  want [%d] %s\n  got  [%d] %s\n", i, want, c->msg, kind, msg);
                        failed++;
                }
        }
        assert_int_equal(failed, 0);
}

static void yaml_syntax_error(void **state)
{
        int kind;
        _cleanup_free_ char *msg = parse_fail("berth: 1\nname: [x\n", 18, NULL, &kind);
        assert_int_equal(kind, BERTH_E_INVALID);
        assert_string_equal(msg, "t.yaml:3:1: invalid YAML: while parsing a flow sequence did not find expected ',' "
                                 "or ']'");
        free(msg);
        msg = parse_fail("a: b: c\n", 8, NULL, &kind);
        assert_string_equal(msg, "t.yaml:1:5: invalid YAML: mapping values are not allowed in this context");
}

static void null_values(void **state)
{
        int kind;
        static const char y1[] = "berth: 1\nname:\n";
        _cleanup_free_ char *m1 = parse_fail(y1, strlen(y1), NULL, &kind);
        assert_string_equal(m1, "t.yaml:2:6: name: " NAME_RULE ", got nothing");
        static const char y2[] = B "env: {A: }\n";
        _cleanup_free_ char *m2 = parse_fail(y2, strlen(y2), NULL, &kind);
        assert_string_equal(m2, "t.yaml:4:10: env.A: expected a string (quote it: \"\" for empty), got nothing");
        /* Quoted, the same text is a string. */
        _cleanup_spec_ struct spec *s = parse_ok(B "env: {A: \"\", B: '~', C: 12, D: true}\n");
        assert_int_equal(s->n_env, 4);
        assert_string_equal(s->env[0].value, "");
        assert_string_equal(s->env[1].value, "~");
        assert_string_equal(s->env[2].value, "12");
        assert_string_equal(s->env[3].value, "true");
}

/* ---- bounds ------------------------------------------------------------ */

static void depth_limit(void **state)
{
        _cleanup_dynbuf_ dynbuf y, want;
        dynbuf_init(&y, SIZE_MAX, NULL);
        dynbuf_init(&want, SIZE_MAX, NULL);
        dynbuf_add(&y, "a: ", 3, NULL);
        for (int i = 0; i < 10000; i++)
                dynbuf_add(&y, "[", 1, NULL);
        /* The root mapping is level 1, so the 64th bracket is one too many. */
        dynbuf_printf(&want, NULL, "t.yaml:1:67: a");
        for (int i = 0; i < 63; i++)
                dynbuf_add(&want, "[0]", 3, NULL);
        dynbuf_printf(&want, NULL, ": nesting deeper than the limit of 64 levels");
        int kind;
        _cleanup_free_ char *msg = parse_fail(y.buf, y.len, NULL, &kind);
        assert_int_equal(kind, BERTH_E_LIMIT);
        assert_string_equal(msg, want.buf);
}

static void node_limit_counts_aliases(void **state)
{
        struct spec_limits lim;
        spec_limits_default(&lim);
        lim.max_nodes = 20;
        int kind;
        /* root 1, a 1, [..] 6 = 8; b 1, [ 1 = 10; each *a adds 6: 16, 22. */
        static const char y[] = "a: &a [x, x, x, x, x]\nb: [*a, *a, *a]\n";
        _cleanup_free_ char *msg = parse_fail(y, strlen(y), &lim, &kind);
        assert_int_equal(kind, BERTH_E_LIMIT);
        assert_string_equal(msg, "t.yaml:2:9: b[1]: document has more than the limit of 20 nodes (aliases count as "
                                 "expanded)");
}

static void alias_bomb_default_limits(void **state)
{
        _cleanup_dynbuf_ dynbuf y;
        dynbuf_init(&y, SIZE_MAX, NULL);
        dynbuf_add(&y, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n", 39, NULL);
        for (int i = 1; i < 9; i++)
                dynbuf_printf(&y, NULL, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i,
                              i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
        int kind;
        _cleanup_free_ char *msg = parse_fail(y.buf, y.len, NULL, &kind);
        assert_int_equal(kind, BERTH_E_LIMIT);
        assert_non_null(strstr(msg, "document has more than the limit of 100000 nodes"));
        /* a4 is 1 + 10 * 11111 nodes: its 9th alias goes past the bound. */
        assert_true(startswith(msg, "t.yaml:5:"));
}

static void file_size_limit(void **state)
{
        struct spec_limits lim;
        spec_limits_default(&lim);
        lim.max_file_size = 10;
        int kind;
        _cleanup_free_ char *msg = parse_fail("berth: 1\nname: x\n", 17, &lim, &kind);
        assert_int_equal(kind, BERTH_E_LIMIT);
        assert_string_equal(msg, "t.yaml:1:1: spec file is larger than the limit of 10 bytes");
}

static void list_limit(void **state)
{
        _cleanup_dynbuf_ dynbuf y;
        dynbuf_init(&y, SIZE_MAX, NULL);
        dynbuf_add(&y, B "mounts: [", strlen(B) + 9, NULL);
        for (int i = 0; i < 257; i++)
                dynbuf_printf(&y, NULL, "%s{volume: v, target: /x%d}", i ? ", " : "", i);
        dynbuf_add(&y, "]\n", 2, NULL);
        int kind;
        _cleanup_free_ char *msg = parse_fail(y.buf, y.len, NULL, &kind);
        assert_int_equal(kind, BERTH_E_LIMIT);
        assert_string_equal(msg, "t.yaml:4:9: mounts: more than the limit of 256 entries");
}

static void expansion_limit(void **state)
{
        /* 64 KiB variable used 100 times: 6.4 MiB, past the 4 MiB bound. */
        _cleanup_free_ char *big = xmalloc(65537);
        memset(big, 'x', 65536);
        big[65536] = '\0';
        setenv("BERTH_TEST_BIG", big, 1);
        _cleanup_dynbuf_ dynbuf y;
        dynbuf_init(&y, SIZE_MAX, NULL);
        dynbuf_add(&y, B "env:\n", strlen(B) + 5, NULL);
        for (int i = 0; i < 100; i++)
                dynbuf_printf(&y, NULL, "  V%d: ${BERTH_TEST_BIG}\n", i);
        int kind;
        _cleanup_free_ char *msg = parse_fail(y.buf, y.len, NULL, &kind);
        unsetenv("BERTH_TEST_BIG");
        assert_int_equal(kind, BERTH_E_LIMIT);
        /* name and url took 10 bytes, so 63 values fit and the 64th (line 68) does not. */
        assert_string_equal(msg, "t.yaml:68:8: env.V63: values after ${VAR} expansion are larger than the limit of "
                                 "4194304 bytes in total");
}

/* ---- valid specs ------------------------------------------------------- */

static const char full_spec[] =
        "berth: 1\n"
        "name: payments-api\n"
        "version: 1.4.0-rc.1+build.5\n"
        "description: Payments API\n"
        "image:\n"
        "  - url: https://artifacts.example.com/debian.tar.zst\n"
        "    sha256: 6F1D6F1D6F1D6F1D6F1D6F1D6F1D6F1D6F1D6F1D6F1D6F1D6F1D6F1D6F1D6F1D\n"
        "  - name: python\n"
        "    version: 3.11.7\n"
        "    url: ../layers/./python.tar\n"
        "    check: [python3, --version]\n"
        "  - url: file:///srv/x.tar\n"
        "workdir: /workspace/\n"
        "mounts:\n"
        "  - {source: ., target: /workspace}\n"
        "  - {source: ./fixtures, target: /fixtures, read_only: true}\n"
        "  - {type: tmpfs, target: /tmp, size: 256MiB}\n"
        "  - {volume: cache, target: /root/.cache}\n"
        "  - {type: bind, source: /abs, target: /abs}\n"
        "env: {APP_ENV: development, GREETING: \"${BERTH_TEST_VAR} $$USER costs $5\", D: \"${BERTH_TEST_UNSET:-dflt}\", "
        "E: \"${BERTH_TEST_EMPTY:-was empty}\", F: \"${BERTH_TEST_EMPTY}\"}\n"
        "user: \"1000:1000\"\n"
        "resources: {memory: 2GiB, cpus: 1.5, pids: 512, nofile: 4096}\n"
        "network: host\n"
        "ports: [\"127.0.0.1:8080:8080\", \"[::1]:8081:81\", \"fe80::1:8082:82\", 8083:83, \"8083:83/udp\"]\n"
        "security:\n"
        "  seccomp: unconfined\n"
        "  capabilities: {add: [net_admin, CAP_SYS_PTRACE], drop: [ALL]}\n"
        "  read_only: True\n"
        "services:\n"
        "  web:\n"
        "    command: [python3, -m, web]\n"
        "    depends_on: [worker, postgres]\n"
        "  worker:\n"
        "    command: [python3, -m, worker]\n"
        "    depends_on: [postgres]\n"
        "    restart: always\n"
        "  postgres:\n"
        "    image: [{url: ./pg.tar}]\n"
        "    command: [postgres, -D, /data]\n"
        "    user: postgres\n"
        "    workdir: /data\n"
        "    env: {POSTGRES_HOST_AUTH_METHOD: trust}\n"
        "    mounts: [{volume: pgdata, target: /data}]\n"
        "    ports: [\"127.0.0.1:5432:5432\"]\n"
        "    healthcheck: {command: [pg_isready], interval: 1m30s, timeout: 250ms, retries: 30, start_period: 0s}\n"
        "    restart: on-failure\n"
        "    stop_timeout: 1.5s\n"
        "    resources: {memory: 512M}\n";

static void full_spec_model(void **state)
{
        _cleanup_spec_ struct spec *s = parse_ok(full_spec);
        assert_int_equal(s->schema, 1);
        assert_string_equal(s->name, "payments-api");
        assert_string_equal(s->version, "1.4.0-rc.1+build.5");
        assert_string_equal(s->description, "Payments API");
        assert_null(s->extends);
        assert_int_equal(s->n_image, 3);
        assert_string_equal(s->image[0].sha256, "6f1d6f1d6f1d6f1d6f1d6f1d6f1d6f1d6f1d6f1d6f1d6f1d6f1d6f1d6f1d6f1d");
        assert_int_equal(s->image[0].pos.line, 6);
        assert_int_equal(s->image[0].pos.col, 5);
        assert_string_equal(s->image[0].pos.file, "t.yaml");
        assert_string_equal(s->image[1].url, "/layers/python.tar");
        assert_string_equal(s->image[1].name, "python");
        assert_string_equal(s->image[1].check[1], "--version");
        assert_null(s->image[1].sha256);
        assert_string_equal(s->image[2].url, "file:///srv/x.tar");
        assert_string_equal(s->workdir, "/workspace");
        assert_int_equal(s->n_mounts, 5);
        assert_int_equal(s->mounts[0].type, SPEC_MOUNT_BIND);
        assert_string_equal(s->mounts[0].source, "/base");
        assert_string_equal(s->mounts[1].source, "/base/fixtures");
        assert_true(s->mounts[1].read_only);
        assert_int_equal(s->mounts[2].type, SPEC_MOUNT_TMPFS);
        assert_null(s->mounts[2].source);
        assert_int_equal(s->mounts[2].size, 256ULL << 20);
        assert_int_equal(s->mounts[3].type, SPEC_MOUNT_VOLUME);
        assert_string_equal(s->mounts[3].source, "cache");
        assert_string_equal(s->mounts[4].source, "/abs");
        assert_int_equal(s->n_env, 5);
        assert_string_equal(s->env[1].value, "hello $USER costs $5");
        assert_string_equal(s->env[2].value, "dflt");
        assert_string_equal(s->env[3].value, "was empty");
        assert_string_equal(s->env[4].value, "");
        assert_string_equal(s->user, "1000:1000");
        assert_int_equal(s->resources.memory, 2ULL << 30);
        assert_int_equal(s->resources.millicpus, 1500);
        assert_int_equal(s->resources.pids, 512);
        assert_int_equal(s->resources.nofile, 4096);
        assert_int_equal(s->network, SPEC_NET_HOST);
        assert_int_equal(s->n_ports, 5);
        assert_string_equal(s->ports[0].host_ip, "127.0.0.1");
        assert_string_equal(s->ports[1].host_ip, "::1");
        assert_int_equal(s->ports[1].host_port, 8081);
        assert_int_equal(s->ports[1].container_port, 81);
        assert_string_equal(s->ports[2].host_ip, "fe80::1");
        assert_null(s->ports[3].host_ip);
        assert_false(s->ports[3].udp);
        assert_true(s->ports[4].udp);
        assert_int_equal(s->security.seccomp, SPEC_SECCOMP_UNCONFINED);
        assert_string_equal(s->security.cap_add[0], "NET_ADMIN");
        assert_string_equal(s->security.cap_add[1], "SYS_PTRACE");
        assert_null(s->security.cap_add[2]);
        assert_string_equal(s->security.cap_drop[0], "ALL");
        assert_true(s->security.read_only);
}

static void services_in_start_order(void **state)
{
        _cleanup_spec_ struct spec *s = parse_ok(full_spec);
        assert_int_equal(s->n_services, 3);
        assert_string_equal(s->services[0].name, "postgres");
        assert_string_equal(s->services[1].name, "worker");
        assert_string_equal(s->services[2].name, "web");
        const struct spec_service *pg = &s->services[0];
        assert_string_equal(pg->image[0].url, "/base/pg.tar");
        assert_string_equal(pg->command[0], "postgres");
        assert_string_equal(pg->user, "postgres");
        assert_string_equal(pg->workdir, "/data");
        assert_string_equal(pg->env[0].value, "trust");
        assert_string_equal(pg->mounts[0].source, "pgdata");
        assert_int_equal(pg->ports[0].host_port, 5432);
        assert_string_equal(pg->healthcheck.command[0], "pg_isready");
        assert_int_equal(pg->healthcheck.interval_ms, 90000);
        assert_int_equal(pg->healthcheck.timeout_ms, 250);
        assert_int_equal(pg->healthcheck.retries, 30);
        assert_int_equal(pg->healthcheck.start_period_ms, 0);
        assert_int_equal(pg->restart, SPEC_RESTART_ON_FAILURE);
        assert_int_equal(pg->stop_timeout_ms, 1500);
        assert_int_equal(pg->resources.memory, 512ULL << 20);
        assert_int_equal(pg->pos.line, 37);
        const struct spec_service *web = &s->services[2];
        assert_string_equal(web->depends_on[0], "worker");
        assert_int_equal(web->depends_on_pos[1].line, 32);
        assert_int_equal(web->depends_on_pos[1].col, 26);
        assert_int_equal(web->restart, SPEC_RESTART_NO);
        assert_int_equal(web->stop_timeout_ms, 10000);
        assert_null(web->healthcheck.command);
        assert_int_equal(s->services[1].restart, SPEC_RESTART_ALWAYS);
}

static void healthcheck_defaults(void **state)
{
        _cleanup_spec_ struct spec *s = parse_ok(B SVC "healthcheck: {command: [true]}}\n");
        assert_int_equal(s->services[0].healthcheck.interval_ms, 1000);
        assert_int_equal(s->services[0].healthcheck.timeout_ms, 5000);
        assert_int_equal(s->services[0].healthcheck.retries, 60);
}

static void anchors_and_aliases(void **state)
{
        _cleanup_spec_ struct spec *s = parse_ok("berth: 1\nname: app\nimage: &img [{url: ./a.tar}]\n"
                                                 "services:\n  a: {command: &cmd [x, y], image: *img}\n"
                                                 "  b: {command: *cmd}\n");
        assert_string_equal(s->services[0].image[0].url, "/base/a.tar");
        assert_string_equal(s->services[1].command[1], "y");
}

static void paths_with_spaces(void **state)
{
        _cleanup_spec_ struct spec *s = parse_ok("berth: 1\nname: app\nimage: [{url: \"./my layers/a.tar\"}]\n"
                                                 "mounts: [{source: ../my src, target: /my src}]\n");
        assert_string_equal(s->image[0].url, "/base/my layers/a.tar");
        assert_string_equal(s->mounts[0].source, "/my src");
        assert_string_equal(s->mounts[0].target, "/my src");
}

/* ---- values ------------------------------------------------------------ */

static void sizes(void **state)
{
        static const struct { const char *in; uint64_t out; } ok[] = {
                { "0", 0 }, { "512", 512 }, { "512B", 512 }, { "1K", 1024 }, { "1KiB", 1024 },
                { "2M", 2ULL << 20 }, { "256MiB", 256ULL << 20 }, { "1.5GiB", 3ULL << 29 }, { "3G", 3ULL << 30 },
                { "0.5KiB", 512 },
        };
        static const char *const bad[] = { "", "lots", "1.5", "1 MiB", "1mib", "1KB", "-1", "1.GiB", ".5GiB",
                                           "99999999999999999999", "18446744073709551616", "17179869184GiB" };
        for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
                uint64_t v = 7;
                assert_int_equal(spec_parse_size(ok[i].in, &v), 0);
                assert_int_equal(v, ok[i].out);
        }
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                uint64_t v = 7;
                assert_int_equal(spec_parse_size(bad[i], &v), -1);
                assert_int_equal(v, 7);
        }
}

static void durations(void **state)
{
        static const struct { const char *in; uint64_t out; } ok[] = {
                { "0s", 0 }, { "250ms", 250 }, { "1s", 1000 }, { "1.5s", 1500 }, { "2m", 120000 },
                { "1h", 3600000 }, { "1h30m", 5400000 }, { "1m30s250ms", 90250 },
        };
        static const char *const bad[] = { "", "10", "1d", "s", "1.5", "1 s", "-1s", "1S", "1sec" };
        for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
                uint64_t v = 7;
                assert_int_equal(spec_parse_duration(ok[i].in, &v), 0);
                assert_int_equal(v, ok[i].out);
        }
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                uint64_t v = 7;
                assert_int_equal(spec_parse_duration(bad[i], &v), -1);
                assert_int_equal(v, 7);
        }
}

static void versions_and_names(void **state)
{
        static const char *const ok[] = { "1.4.0", "0.0.0", "10.20.30", "1.0.0-alpha", "1.0.0-alpha.1",
                                          "1.0.0-0.3.7", "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85" };
        static const char *const bad[] = { "1", "1.4", "01.4.0", "1.4.0-", "1.4.0+", "1.4.0-01", "v1.4.0",
                                           "1.4.0.1", "1..0", "" };
        for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
                assert_true(spec_valid_semver(ok[i]));
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                assert_false(spec_valid_semver(bad[i]));
        static const char *const ranges_ok[] = { "^2", "^2.1", "~1.2.3", "1.4.0", "^0.0.1", ">=1.0", "1.4" };
        static const char *const ranges_bad[] = { "^", "^2.", "~1.2.3.4", "^x", "~*" };
        for (size_t i = 0; i < ARRAY_SIZE(ranges_ok); i++)
                assert_true(spec_valid_range(ranges_ok[i]));
        for (size_t i = 0; i < ARRAY_SIZE(ranges_bad); i++)
                assert_false(spec_valid_range(ranges_bad[i]));
        assert_true(spec_valid_name("a"));
        assert_true(spec_valid_name("0-x"));
        assert_false(spec_valid_name("-x"));
        assert_false(spec_valid_name("a_b"));
        assert_false(spec_valid_name(""));
}

static void ports(void **state)
{
        char *ip = NULL;
        uint16_t h = 0, c = 0;
        bool udp = true;
        assert_int_equal(spec_parse_port("1:65535", &ip, &h, &c, &udp), 0);
        assert_null(ip);
        assert_int_equal(h, 1);
        assert_int_equal(c, 65535);
        assert_false(udp);
        assert_int_equal(spec_parse_port("[::1]:5353:53/udp", &ip, &h, &c, &udp), 0);
        assert_string_equal(ip, "::1");
        assert_int_equal(h, 5353);
        assert_int_equal(c, 53);
        assert_true(udp);
        free(ip);
        ip = NULL;
        assert_int_equal(spec_parse_port("8080:80/tcp", &ip, &h, &c, &udp), 0);
        assert_false(udp);
        static const char *const bad[] = { "0:80", "80:0", "80", ":80", "80:", "a:80", "1.2.3.4::80:80",
                                           "300.1.1.1:80:80", "[::1:80:80", "80:80/sctp", "80:80/", "80:80/UDP",
                                           "80/udp:80", "80:80/udp/tcp", "65536:1" };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                assert_int_equal(spec_parse_port(bad[i], &ip, &h, &c, &udp), -1);
}

static void users_and_targets(void **state)
{
        assert_true(spec_valid_user("1000"));
        assert_true(spec_valid_user("1000:1000"));
        assert_true(spec_valid_user("postgres"));
        assert_true(spec_valid_user("www-data:www-data"));
        assert_false(spec_valid_user("4294967295"));
        assert_false(spec_valid_user("1000:"));
        assert_false(spec_valid_user("Root"));
        assert_true(spec_valid_target("/"));
        assert_true(spec_valid_target("/a/..b/c"));
        assert_false(spec_valid_target("/a/.."));
        assert_false(spec_valid_target("a"));
}

static void path_join(void **state)
{
        _cleanup_free_ char *a = spec_path_join("/base", "./x/../y//z/.");
        assert_string_equal(a, "/base/y/z");
        _cleanup_free_ char *b = spec_path_join("/base", "../../..");
        assert_string_equal(b, "/");
        _cleanup_free_ char *c = spec_path_join("/base", "/abs/./p");
        assert_string_equal(c, "/abs/p");
}

/* ---- spec_load: a real file in a real folder --------------------------- */

static void load_from_file(void **state)
{
        char dir[] = "/tmp/berth-test-specs-XXXXXX";
        assert_non_null(mkdtemp(dir));
        _cleanup_free_ char *spec = xasprintf("%s/berth.yaml", dir), *prof = xasprintf("%s/prof.json", dir);
        static const char y[] = B "security: {seccomp: prof.json}\nmounts: [{source: src, target: /src}]\n";
        _cleanup_error_ berth_error *err = NULL;
        assert_int_equal(write_file_atomic(AT_FDCWD, spec, y, strlen(y), 0644, &err), 0);
        /* The profile is checked to exist. */
        _cleanup_spec_ struct spec *s = NULL;
        assert_int_equal(spec_load(spec, &s, &err), -1);
        assert_int_equal(err->kind, BERTH_E_INVALID);
        _cleanup_free_ char *want = xasprintf("%s:4:21: security.seccomp: seccomp profile %s: No such file or "
                                              "directory", spec, prof);
        assert_string_equal(err->msg, want);
        berth_error_freep(&err);
        assert_int_equal(write_file_atomic(AT_FDCWD, prof, "{}", 2, 0644, &err), 0);
        assert_int_equal(spec_load(spec, &s, &err), 0);
        assert_string_equal(s->dir, dir);
        assert_int_equal(s->security.seccomp, SPEC_SECCOMP_PROFILE);
        assert_string_equal(s->security.seccomp_profile, prof);
        _cleanup_free_ char *src = xasprintf("%s/src", dir);
        assert_string_equal(s->mounts[0].source, src);
        assert_string_equal(s->mounts[0].pos.file, spec);
        assert_int_equal(rm_rf_at(AT_FDCWD, dir, &err), 0);
}

static void load_errors(void **state)
{
        char dir[] = "/tmp/berth-test-specs-XXXXXX";
        assert_non_null(mkdtemp(dir));
        _cleanup_error_ berth_error *err = NULL;
        _cleanup_spec_ struct spec *s = NULL;
        _cleanup_free_ char *missing = xasprintf("%s/none.yaml", dir), *big = xasprintf("%s/big.yaml", dir);
        assert_int_equal(spec_load(missing, &s, &err), -1);
        assert_int_equal(err->kind, BERTH_E_NOTFOUND);
        assert_int_equal(err->errnum, ENOENT);
        berth_error_freep(&err);
        size_t n = (1u << 20) + 1;
        _cleanup_free_ char *buf = xmalloc(n);
        memset(buf, '#', n);
        assert_int_equal(write_file_atomic(AT_FDCWD, big, buf, n, 0644, &err), 0);
        assert_int_equal(spec_load(big, &s, &err), -1);
        assert_int_equal(err->kind, BERTH_E_LIMIT);
        _cleanup_free_ char *want = xasprintf("%s:1:1: spec file is larger than the limit of 1048576 bytes", big);
        assert_string_equal(err->msg, want);
        berth_error_freep(&err);
        assert_int_equal(rm_rf_at(AT_FDCWD, dir, &err), 0);
}

/* index.json is read by a scanner of its own: JSON's syntax in full, the
 * index's shape, and the errors, each named with its line. */
#define IDX_SHA "\"e3c52b31087114276857f3f67e06983771f6f825c505d43e9abdc22f50fbdcbd\""
#define IDX_ENTRY "{\"sha256\": " IDX_SHA ", \"yanked\": false, \"published\": \"2026-01-01T00:00:00Z\"}"

static void index_scanner(void **state)
{
        static const struct {
                const char *json, *error; /* error: a part of the message, or NULL for valid */
        } cases[] = {
                { "{\"berth_index\": 1, \"sequence\": 3, \"specs\": {\"a\": {\"1.0.0\": " IDX_ENTRY "}}}", NULL },
                /* any order, unknown keys and values of every kind skipped, escapes decoded */
                { " {\"x\": [1, -2.5e3, true, null, {\"y\": \"\\u00e9\\ud83d\\ude00\"}], \"specs\": {\"\\u0061\": "
                  "{\"1.0.0\": {\"published\": \"2026-01-01T00:00:00Z\", \"sha256\": " IDX_SHA ", \"note\": {}}}},"
                  "\r\n\t\"sequence\": 0, \"berth_index\": 1} ", NULL },
                { "", "line 1: no JSON value" },
                { "[]", "expected an object with \"berth_index\": 1" },
                { "{\"berth_index\": 1, \"sequence\": 0, \"specs\": {}} x", "line 1: text after the index" },
                { "{\"berth_index\": 1, \"berth_index\": 1, \"sequence\": 0, \"specs\": {}}", "duplicate key \"berth_index\"" },
                { "{\"berth_index\": 1, \"sequence\": 0, \"specs\": {\"a\": {}, \"a\": {}}}", "duplicate key \"a\"" },
                { "{\"berth_index\": 1, \"sequence\": 0, \"specs\": {\"a\": {\"1.0.0\": " IDX_ENTRY ", \"1.0.0\": " IDX_ENTRY "}}}",
                  "a: version 1.0.0 is listed twice" },
                { "{\"berth_index\": 1, \"sequence\": 0, \"specs\": {\"a\": {\"1.0.0\": {\"sha256\": " IDX_SHA ", \"sha256\": "
                  IDX_SHA "}}}}", "duplicate key \"sha256\"" },
                { "{\"berth_index\": 2, \"sequence\": 0, \"specs\": {}}", "\"berth_index\": 1" },
                { "{\"berth_index\": 1.0, \"sequence\": 0, \"specs\": {}}", "\"berth_index\": 1" },
                { "{\"berth_index\": 1, \"sequence\": -1, \"specs\": {}}", "\"sequence\" must be a whole number" },
                { "{\"berth_index\": 1, \"sequence\": 01, \"specs\": {}}", "bad number" },
                { "{\"berth_index\": 1, \"sequence\": 0}", "\"specs\" must be an object" },
                { "{\"berth_index\": 1, \"sequence\": 0, \"specs\": {\"a\": {\"1.0.0\": " IDX_ENTRY "},}}", "expected '\"'" },
                { "{\"berth_index\": 1,\n\"sequence\": 0,\n \"specs\": {\"a\x01\": {}}}", "line 3: control character" },
                { "{\"berth_index\": 1, \"sequence\": 0, \"specs\": {\"\xc3\x28\": {}}}", "not valid UTF-8" },
                { "{\"berth_index\": 1, \"sequence\": 0, \"specs\": {\"\xed\xa0\x80\": {}}}", "not valid UTF-8" },
                { "{\"berth_index\": 1, \"sequence\": 0, \"specs\": {\"\\ud800\": {}}}", "lone high surrogate" },
                { "{\"berth_index\": 1, \"sequence\": 0, \"specs\": {\"a\\u0000\": {}}}", "\\u0000" },
                { "{\"berth_index\": 1, \"sequence\": 0, \"specs\": {\"a", "unterminated string" },
                { "{\"berth_index\": 1, \"sequence\": 0, \"specs\": {\"A!\": {}}}", "\"A!\" is not a spec name" },
                { "{\"berth_index\": 1, \"sequence\": 0, \"specs\": {\"a\": {\"1.0\": " IDX_ENTRY "}}}",
                  "\"1.0\" is not a semantic version" },
                { "{\"berth_index\": 1, \"sequence\": 0, \"specs\": {\"a\": {\"1.0.0\": {\"sha256\": \"AB\", "
                  "\"published\": \"2026-01-01T00:00:00Z\"}}}}", "sha256 must be 64 lowercase hex digits" },
                { "{\"berth_index\": 1, \"sequence\": 0, \"specs\": {\"a\": {\"1.0.0\": {\"sha256\": " IDX_SHA
                  ", \"yanked\": 0, \"published\": \"2026-01-01T00:00:00Z\"}}}}", "yanked must be true or false" },
                { "{\"berth_index\": 1, \"sequence\": 0, \"specs\": {\"a\": {\"1.0.0\": {\"sha256\": " IDX_SHA "}}}}",
                  "published must be a time" },
                { "{\"berth_index\": 1, \"sequence\": 0, \"specs\": {\"a\": []}}", "a: expected an object of versions" },
                { "{\"x\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
                  "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]], \"berth_index\": 1, \"sequence\": 0, \"specs\": {}}",
                  "nested too deeply" },
        };
        (void) state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct spec_index *idx = NULL;
                berth_error *err = NULL;
                int r = spec_index_parse(cases[i].json, strlen(cases[i].json), "r", &idx, &err);
                if (!cases[i].error) {
                        if (r < 0)
                                fail_msg("case %zu: %s", i, err->msg);
                        assert_int_equal(idx->n, 1);
                        assert_string_equal(idx->entries[0].name, "a");
                        assert_memory_equal(idx->entries[0].sha256, IDX_SHA + 1, 64);
                        spec_index_free(idx);
                        continue;
                }
                if (r == 0)
                        fail_msg("case %zu: accepted", i);
                if (!strstr(err->msg, cases[i].error) || !startswith(err->msg, "r: malformed index: "))
                        fail_msg("case %zu: %s", i, err->msg);
                assert_int_equal(err->kind, BERTH_E_INVALID);
                berth_error_free(err);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(invalid_specs),
                cmocka_unit_test(index_scanner),
                cmocka_unit_test(yaml_syntax_error),
                cmocka_unit_test(null_values),
                cmocka_unit_test(depth_limit),
                cmocka_unit_test(node_limit_counts_aliases),
                cmocka_unit_test(alias_bomb_default_limits),
                cmocka_unit_test(file_size_limit),
                cmocka_unit_test(list_limit),
                cmocka_unit_test(expansion_limit),
                cmocka_unit_test(full_spec_model),
                cmocka_unit_test(services_in_start_order),
                cmocka_unit_test(healthcheck_defaults),
                cmocka_unit_test(anchors_and_aliases),
                cmocka_unit_test(paths_with_spaces),
                cmocka_unit_test(sizes),
                cmocka_unit_test(durations),
                cmocka_unit_test(versions_and_names),
                cmocka_unit_test(ports),
                cmocka_unit_test(users_and_targets),
                cmocka_unit_test(path_join),
                cmocka_unit_test(load_from_file),
                cmocka_unit_test(load_errors),
        };
        return cmocka_run_group_tests(tests, setup_env, NULL);
}
