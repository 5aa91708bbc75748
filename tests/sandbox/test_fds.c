/* No fd is left behind when starting a sandbox fails half way: the fd
 * limit is set so that each of berth's fds in turn is the one that cannot
 * be opened, and the process's fds are compared before and after. Also the
 * fd-passing helper, which must close fds that came with a short message. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "sandbox/sandbox-private.h"

#define MAX_FD 256

static void open_fds(bool out[MAX_FD])
{
        for (int fd = 0; fd < MAX_FD; fd++)
                out[fd] = fcntl(fd, F_GETFD) >= 0;
}

static int lowest_free(void)
{
        int fd = 0;
        while (fd < MAX_FD && fcntl(fd, F_GETFD) >= 0)
                fd++;
        return fd;
}

static void test_short_message_closes_its_fds(void **state)
{
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        int passed = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_int_equal(send_fds(sv[0], "ab", 2, &passed, 1), 0);
        close(passed);
        close(sv[0]);
        bool before[MAX_FD], after[MAX_FD];
        open_fds(before);
        struct join_msg j;
        int fds[MAX_PASSED_FDS];
        size_t n = 7;
        assert_int_equal(recv_fds(sv[1], &j, sizeof(j), fds, &n), -1);
        assert_int_equal(n, 0);
        open_fds(after);
        assert_memory_equal(before, after, sizeof(before));
        close(sv[1]);
}

static void test_failed_start_leaks_no_fd(void **state)
{
        char root[] = "/tmp/berth-fds-XXXXXX";
        assert_non_null(mkdtemp(root));
        chmod(root, 0755);
        char *argv[] = { "/bin/true", NULL };
        struct sandbox_config c = { .root.dir = root, .argv = argv, .seccomp = SANDBOX_SECCOMP_UNCONFINED,
                                    .tty = true };
        struct rlimit saved;
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
        bool before[MAX_FD], after[MAX_FD];
        open_fds(before);
        int base = lowest_free();
        for (int k = 0; k <= 16; k++) {
                struct rlimit l = { .rlim_cur = (rlim_t) (base + k), .rlim_max = saved.rlim_max };
                assert_int_equal(setrlimit(RLIMIT_NOFILE, &l), 0);
                int status;
                berth_error *e = NULL;
                if (sandbox_run(&c, &status, &e) < 0)
                        berth_error_free(e);
                assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
                open_fds(after);
                for (int fd = 0; fd < MAX_FD; fd++)
                        if (before[fd] != after[fd])
                                fail_msg("with %d fds free, fd %d was %s", k, fd, after[fd] ? "left open" : "closed");
        }
        berth_error *e = NULL;
        rm_rf_at(AT_FDCWD, root, &e);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_short_message_closes_its_fds),
                cmocka_unit_test(test_failed_start_leaks_no_fd),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
