/* cgroup limit files, v2 and v1, written into a fake tree in a temp dir
 * (the file formats), and v2 delegation detection pointed at that tree.
 * The real hierarchies are exercised by sandbox.bats where the host has them. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "sandbox/sandbox-private.h"

static char *tree;

static void put(const char *name, const char *text)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", tree, name);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static char *get(const char *name)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", tree, name);
        char *buf;
        berth_error *e = NULL;
        assert_int_equal(read_file_bounded(AT_FDCWD, p, 4096, name, &buf, NULL, &e), 0);
        return buf;
}

static int setup(void **state)
{
        char t[] = "/tmp/berth-cgroup-XXXXXX";
        assert_non_null(mkdtemp(t));
        tree = xstrdup(t);
        return 0;
}

static int teardown(void **state)
{
        berth_error *e = NULL;
        rm_rf_at(AT_FDCWD, tree, &e);
        free(tree);
        unsetenv("BERTH_CGROUP2_ROOT");
        return 0;
}

static void test_v2_files(void **state)
{
        const char *files[] = { "memory.max", "memory.swap.max", "pids.max", "cpu.max" };
        for (size_t i = 0; i < ARRAY_SIZE(files); i++)
                put(files[i], "max\n");
        struct sandbox_limits l = { .memory = 64 << 20, .pids = 32, .millicpus = 1500 };
        int fd = open(tree, O_RDONLY | O_DIRECTORY);
        berth_error *e = NULL;
        assert_int_equal(cgroup2_write_limits(fd, &l, &e), 0);
        close(fd);
        _cleanup_free_ char *mem = get("memory.max"), *swap = get("memory.swap.max"), *pids = get("pids.max"),
                            *cpu = get("cpu.max");
        assert_string_equal(mem, "67108864");
        assert_string_equal(swap, "0");
        assert_string_equal(pids, "32");
        assert_string_equal(cpu, "150000 100000");
}

static void test_v2_missing_file_is_an_error(void **state)
{
        struct sandbox_limits l = { .pids = 10 };
        int fd = open(tree, O_RDONLY | O_DIRECTORY);
        berth_error *e = NULL;
        assert_int_equal(cgroup2_write_limits(fd, &l, &e), -1);
        assert_non_null(strstr(e->msg, "pids.max"));
        berth_error_free(e);
        close(fd);
}

static void test_v1_files(void **state)
{
        const char *files[] = { "memory.limit_in_bytes", "pids.max", "cpu.cfs_quota_us", "cpu.cfs_period_us" };
        for (size_t i = 0; i < ARRAY_SIZE(files); i++)
                put(files[i], "-1\n");
        struct sandbox_limits l = { .memory = 1 << 30, .pids = 512, .millicpus = 250 };
        int fd = open(tree, O_RDONLY | O_DIRECTORY);
        berth_error *e = NULL;
        assert_int_equal(cgroup1_write_limits("memory", fd, &l, &e), 0);
        assert_int_equal(cgroup1_write_limits("pids", fd, &l, &e), 0);
        assert_int_equal(cgroup1_write_limits("cpu", fd, &l, &e), 0);
        close(fd);
        _cleanup_free_ char *mem = get("memory.limit_in_bytes"), *pids = get("pids.max"),
                            *quota = get("cpu.cfs_quota_us"), *period = get("cpu.cfs_period_us");
        assert_string_equal(mem, "1073741824");
        assert_string_equal(pids, "512");
        assert_string_equal(quota, "25000");
        assert_string_equal(period, "100000");
}

static void test_v2_delegation_detected(void **state)
{
        enum sandbox_limit_mech mem, cpu, pids;
        char *dir = NULL;
        setenv("BERTH_CGROUP2_ROOT", tree, 1);
        put("cgroup.subtree_control", "cpu memory pids\n");
        limits_detect(&mem, &cpu, &pids, &dir);
        assert_int_equal(mem, SANDBOX_LIMIT_CGROUP2);
        assert_int_equal(pids, SANDBOX_LIMIT_CGROUP2);
        assert_int_equal(cpu, SANDBOX_LIMIT_CGROUP2);
        assert_string_equal(dir, tree);
        free(dir);
        put("cgroup.subtree_control", "memory pids\n");
        limits_detect(&mem, &cpu, &pids, NULL);
        assert_int_equal(cpu, SANDBOX_LIMIT_NONE);
        /* Without memory delegated, v2 is not used at all. */
        put("cgroup.subtree_control", "pids\n");
        limits_detect(&mem, &cpu, &pids, &dir);
        assert_null(dir);
        assert_int_not_equal(mem, SANDBOX_LIMIT_CGROUP2);
}

/* The kernel's counters of what a limit did, as the files read after a run. */
static void test_v2_outcome(void **state)
{
        struct cgroup_handle h = { .mech = SANDBOX_LIMIT_CGROUP2, .dirs = { tree }, .n_dirs = 1, .memory = true,
                                   .pids = true };
        struct sandbox_outcome o;
        cgroup_read_outcome(&h, &o);
        assert_int_equal(o.oom_kills, 0);
        assert_int_equal(o.pids_max, 0);
        put("memory.events", "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n");
        put("pids.events", "max 7\n");
        cgroup_read_outcome(&h, &o);
        assert_int_equal(o.oom_kills, 1);
        assert_int_equal(o.pids_max, 7);
        /* a limit the cgroup does not enforce says nothing */
        h.memory = false;
        cgroup_read_outcome(&h, &o);
        assert_int_equal(o.oom_kills, 0);
}

static void test_v1_outcome(void **state)
{
        _cleanup_free_ char *mem = xasprintf("%s/m", tree), *pids = xasprintf("%s/p", tree);
        assert_int_equal(mkdir(mem, 0755), 0);
        assert_int_equal(mkdir(pids, 0755), 0);
        put("m/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
        put("p/pids.events", "max 2\n");
        struct cgroup_handle h = { .mech = SANDBOX_LIMIT_CGROUP1, .dirs = { mem, pids }, .ctrl = { "memory", "pids" },
                                   .n_dirs = 2, .memory = true, .pids = true };
        struct sandbox_outcome o;
        cgroup_read_outcome(&h, &o);
        assert_int_equal(o.oom_kills, 3);
        assert_int_equal(o.pids_max, 2);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_v2_files, setup, teardown),
                cmocka_unit_test_setup_teardown(test_v2_missing_file_is_an_error, setup, teardown),
                cmocka_unit_test_setup_teardown(test_v1_files, setup, teardown),
                cmocka_unit_test_setup_teardown(test_v2_delegation_detected, setup, teardown),
                cmocka_unit_test_setup_teardown(test_v2_outcome, setup, teardown),
                cmocka_unit_test_setup_teardown(test_v1_outcome, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
