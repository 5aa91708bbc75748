/* The default filter against Docker's default profile, run through a small
 * classic-BPF interpreter: every call Docker's default does not allow must
 * be refused by berth's too. Also: profile import, the BPF cache, TIOCSTI. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <cmocka.h>

#include "sandbox/sandbox.h"

static const char *profiles_dir(void)
{
        const char *d = getenv("SECCOMP_DIR");
        return d ? d : "tests/sandbox/profiles";
}

/* Evaluate a seccomp program on one call; fails the test on an opcode the
 * interpreter does not know, so it cannot silently pass. */
static uint32_t bpf_run(const struct sandbox_bpf *b, int nr, const uint64_t args[6])
{
        struct seccomp_data d = { .nr = nr, .arch = seccomp_arch_native() };
        memcpy(d.args, args, sizeof(d.args));
        const struct sock_filter *f = b->insns;
        uint32_t A = 0, X = 0, mem[BPF_MEMWORDS] = {};
        for (size_t pc = 0; pc < b->n_insns; pc++) {
                const struct sock_filter *i = &f[pc];
                uint32_t v;
                switch (i->code) {
                case BPF_LD | BPF_W | BPF_ABS:
                        assert_true(i->k + 4 <= sizeof(d));
                        memcpy(&A, (const char *) &d + i->k, 4);
                        break;
                case BPF_LD | BPF_IMM: A = i->k; break;
                case BPF_LDX | BPF_IMM: X = i->k; break;
                case BPF_LD | BPF_MEM: A = mem[i->k]; break;
                case BPF_LDX | BPF_MEM: X = mem[i->k]; break;
                case BPF_ST: mem[i->k] = A; break;
                case BPF_STX: mem[i->k] = X; break;
                case BPF_MISC | BPF_TAX: X = A; break;
                case BPF_MISC | BPF_TXA: A = X; break;
                case BPF_ALU | BPF_AND | BPF_K: A &= i->k; break;
                case BPF_ALU | BPF_OR | BPF_K: A |= i->k; break;
                case BPF_JMP | BPF_JA: pc += i->k; break;
                case BPF_JMP | BPF_JEQ | BPF_K: pc += (A == i->k) ? i->jt : i->jf; break;
                case BPF_JMP | BPF_JGT | BPF_K: pc += (A > i->k) ? i->jt : i->jf; break;
                case BPF_JMP | BPF_JGE | BPF_K: pc += (A >= i->k) ? i->jt : i->jf; break;
                case BPF_JMP | BPF_JSET | BPF_K: pc += (A & i->k) ? i->jt : i->jf; break;
                case BPF_JMP | BPF_JEQ | BPF_X: pc += (A == X) ? i->jt : i->jf; break;
                case BPF_JMP | BPF_JGT | BPF_X: pc += (A > X) ? i->jt : i->jf; break;
                case BPF_JMP | BPF_JGE | BPF_X: pc += (A >= X) ? i->jt : i->jf; break;
                case BPF_RET | BPF_K: return i->k;
                case BPF_RET | BPF_A: return A;
                default:
                        v = i->code;
                        fail_msg("unknown BPF opcode 0x%x at %zu", v, pc);
                }
        }
        fail_msg("program ran off its end");
        return 0;
}

static bool is_allow(uint32_t r) { return (r & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ALLOW; }
static bool is_errno(uint32_t r, int e) { return (r & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO && (int) (r & 0xffff) == e; }

static const uint64_t zero[6] = {};
static const uint64_t ones[6] = { ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull };

static int nr_of(const char *name)
{
        int nr = seccomp_syscall_resolve_name(name);
        assert_int_not_equal(nr, __NR_SCMP_ERROR);
        return nr;
}

static struct sandbox_bpf default_filter(void)
{
        struct sandbox_bpf b;
        berth_error *e = NULL;
        assert_int_equal(sandbox_seccomp_compile(SANDBOX_SECCOMP_DEFAULT, NULL, NULL, &b, NULL, &e), 0);
        return b;
}

/* Docker's default caps: what its default profile is evaluated with. */
static bool docker_has_caps(json_t *caps)
{
        static const char *const dflt[] = { "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                                            "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                                            "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE" };
        size_t i;
        json_t *c;
        json_array_foreach(caps, i, c) {
                bool found = false;
                for (size_t k = 0; k < ARRAY_SIZE(dflt); k++)
                        found |= streq(json_string_value(c), dflt[k]);
                if (!found)
                        return false;
        }
        return true;
}

static bool entry_applies(json_t *s)
{
        json_t *inc = json_object_get(s, "includes");
        json_t *arches = json_object_get(inc, "arches");
        size_t i;
        json_t *a;
        bool arch_ok = !json_array_size(arches);
        json_array_foreach(arches, i, a)
                arch_ok |= streq(json_string_value(a), "amd64");
        return arch_ok && docker_has_caps(json_object_get(inc, "caps"));
}

/* Names Docker's default allows at all (unconditionally or on some args). */
static json_t *docker_allowed(void)
{
        _cleanup_free_ char *path = xasprintf("%s/docker-default.json", profiles_dir());
        json_error_t je;
        json_t *root = json_load_file(path, 0, &je);
        assert_non_null(root);
        json_t *out = json_object();
        size_t i, k;
        json_t *s, *n;
        json_array_foreach(json_object_get(root, "syscalls"), i, s) {
                if (!streq(json_string_value(json_object_get(s, "action")), "SCMP_ACT_ALLOW") || !entry_applies(s))
                        continue;
                json_array_foreach(json_object_get(s, "names"), k, n)
                        json_object_set_new(out, json_string_value(n), json_true());
        }
        json_decref(root);
        return out;
}

static void test_stricter_than_docker(void **state)
{
        struct sandbox_bpf b = default_filter();
        json_t *allowed = docker_allowed();
        int checked = 0;
        for (int nr = 0; nr < 1024; nr++) {
                char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
                if (!name)
                        continue;
                if (!json_object_get(allowed, name)) {
                        if (is_allow(bpf_run(&b, nr, zero)) || is_allow(bpf_run(&b, nr, ones)))
                                fail_msg("%s (%d) is refused by Docker's default but allowed by berth's", name, nr);
                        checked++;
                }
                free(name);
        }
        json_decref(allowed);
        assert_true(checked > 30);
        sandbox_bpf_done(&b);
}

static void test_named_calls(void **state)
{
        struct sandbox_bpf b = default_filter();
        static const char *const refused[] = { "keyctl", "add_key", "request_key", "bpf", "unshare", "mount",
                                               "umount2", "pivot_root", "open_by_handle_at", "perf_event_open",
                                               "kexec_load", "init_module", "finit_module", "delete_module",
                                               "setns", "reboot", "swapon" };
        for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
                int nr = seccomp_syscall_resolve_name(refused[i]);
                /* Every name here is a real call: one libseccomp cannot
                 * resolve would test nothing. */
                if (nr == __NR_SCMP_ERROR)
                        fail_msg("%s: libseccomp knows no such call", refused[i]);
                if (!is_errno(bpf_run(&b, nr, zero), EPERM))
                        fail_msg("%s is not refused with EPERM", refused[i]);
        }
        assert_true(is_errno(bpf_run(&b, 999, zero), ENOSYS));
        /* Every number libseccomp has no name for is ENOSYS, gaps included
         * (335-423 on x86_64); every known call is allowed or EPERM. */
        for (int nr = 0; nr < 1024; nr++) {
                char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
                uint32_t r = bpf_run(&b, nr, zero);
                if (!name && !is_errno(r, ENOSYS))
                        fail_msg("unknown syscall %d is not ENOSYS", nr);
                if (name && !streq(name, "clone3") && !is_allow(r) && !is_errno(r, EPERM))
                        fail_msg("%s is neither allowed nor EPERM", name);
                free(name);
        }
        assert_true(is_errno(bpf_run(&b, 0x40000000 | nr_of("read"), zero), ENOSYS)); /* x32 */
        assert_true(is_allow(bpf_run(&b, nr_of("read"), zero)));
        uint64_t a[6] = {};
        a[0] = 0x10000000; /* CLONE_NEWUSER */
        assert_true(is_errno(bpf_run(&b, nr_of("clone"), a), EPERM));
        a[0] = 0x11 /* SIGCHLD */ | 0x00010000 /* CLONE_THREAD */;
        assert_true(is_allow(bpf_run(&b, nr_of("clone"), a)));
        assert_true(is_errno(bpf_run(&b, nr_of("clone3"), zero), ENOSYS));
        a[0] = 40; /* AF_VSOCK */
        assert_false(is_allow(bpf_run(&b, nr_of("socket"), a)));
        a[0] = 2; /* AF_INET */
        assert_true(is_allow(bpf_run(&b, nr_of("socket"), a)));
        a[0] = 0x0400000; /* READ_IMPLIES_EXEC */
        assert_false(is_allow(bpf_run(&b, nr_of("personality"), a)));
        sandbox_bpf_done(&b);
}

static void test_tiocsti_masked(void **state)
{
        struct sandbox_bpf b = default_filter();
        uint64_t a[6] = { 0, TIOCSTI };
        assert_true(is_errno(bpf_run(&b, nr_of("ioctl"), a), EPERM));
        a[1] = TIOCSTI | (1ull << 32);
        assert_true(is_errno(bpf_run(&b, nr_of("ioctl"), a), EPERM));
        a[1] = TIOCLINUX;
        assert_true(is_errno(bpf_run(&b, nr_of("ioctl"), a), EPERM));
        a[1] = TCGETS;
        assert_true(is_allow(bpf_run(&b, nr_of("ioctl"), a)));
        a[1] = TIOCSTI + 1;
        assert_true(is_allow(bpf_run(&b, nr_of("ioctl"), a)));
        sandbox_bpf_done(&b);
}

static void test_import_profiles(void **state)
{
        static const char *const files[] = { "docker-default.json", "docker-default-old-format.json",
                                             "docker-conditional_include.json", "docker-example.json" };
        for (size_t i = 0; i < ARRAY_SIZE(files) + 1; i++) {
                _cleanup_free_ char *p = i < ARRAY_SIZE(files) ? xasprintf("%s/%s", profiles_dir(), files[i])
                                                               : xstrdup("/usr/share/containers/seccomp.json");
                if (i == ARRAY_SIZE(files) && access(p, R_OK) < 0)
                        continue; /* podman's profile is optional on the host */
                struct sandbox_bpf b;
                berth_error *e = NULL;
                if (sandbox_seccomp_compile(SANDBOX_SECCOMP_PROFILE, p, NULL, &b, NULL, &e) < 0)
                        fail_msg("%s: %s", p, e->msg);
                assert_true(b.n_insns > 8);
                /* The prologue guards every profile. */
                uint64_t a[6] = { 0, TIOCSTI };
                assert_true(is_errno(bpf_run(&b, nr_of("ioctl"), a), EPERM));
                if (i == 0) {
                        assert_true(is_allow(bpf_run(&b, nr_of("read"), zero)));
                        assert_false(is_allow(bpf_run(&b, nr_of("keyctl"), zero)));
                        assert_false(is_allow(bpf_run(&b, nr_of("kexec_load"), zero)));
                }
                sandbox_bpf_done(&b);
        }
}

static void test_bad_profiles(void **state)
{
        char dir[] = "/tmp/berth-seccomp-XXXXXX";
        assert_non_null(mkdtemp(dir));
        static const char *const bad[] = { "{", "[]", "{\"defaultAction\": \"SCMP_ACT_NOPE\"}",
                                           "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
                                           "\"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 9, \"value\": 1, "
                                           "\"op\": \"SCMP_CMP_EQ\"}]}]}" };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                _cleanup_free_ char *p = xasprintf("%s/p.json", dir);
                FILE *f = fopen(p, "w");
                fputs(bad[i], f);
                fclose(f);
                struct sandbox_bpf b;
                berth_error *e = NULL;
                assert_int_equal(sandbox_seccomp_compile(SANDBOX_SECCOMP_PROFILE, p, NULL, &b, NULL, &e), -1);
                assert_int_equal(e->kind, BERTH_E_INVALID);
                berth_error_free(e);
        }
        berth_error *e = NULL;
        assert_int_equal(rm_rf_at(AT_FDCWD, dir, &e), 0);
}

static void test_cache(void **state)
{
        char dir[] = "/tmp/berth-seccomp-XXXXXX";
        assert_non_null(mkdtemp(dir));
        struct sandbox_bpf a, b;
        bool hit = true;
        berth_error *e = NULL;
        assert_int_equal(sandbox_seccomp_compile(SANDBOX_SECCOMP_DEFAULT, NULL, dir, &a, &hit, &e), 0);
        assert_false(hit);
        assert_int_equal(sandbox_seccomp_compile(SANDBOX_SECCOMP_DEFAULT, NULL, dir, &b, &hit, &e), 0);
        assert_true(hit);
        assert_int_equal(a.n_insns, b.n_insns);
        assert_memory_equal(a.insns, b.insns, a.n_insns * sizeof(struct sock_filter));
        sandbox_bpf_done(&b);
        /* A profile has its own entry; a corrupt entry is a miss, not an error. */
        _cleanup_free_ char *p = xasprintf("%s/docker-default.json", profiles_dir());
        assert_int_equal(sandbox_seccomp_compile(SANDBOX_SECCOMP_PROFILE, p, dir, &b, &hit, &e), 0);
        assert_false(hit);
        sandbox_bpf_done(&b);
        _cleanup_free_ char *cmd = xasprintf("for f in %s/seccomp/*.bpf; do printf garbage > $f; done", dir);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(sandbox_seccomp_compile(SANDBOX_SECCOMP_DEFAULT, NULL, dir, &b, &hit, &e), 0);
        assert_false(hit);
        assert_memory_equal(a.insns, b.insns, a.n_insns * sizeof(struct sock_filter));
        sandbox_bpf_done(&a);
        sandbox_bpf_done(&b);
        assert_int_equal(rm_rf_at(AT_FDCWD, dir, &e), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_stricter_than_docker), cmocka_unit_test(test_named_calls),
                cmocka_unit_test(test_tiocsti_masked),       cmocka_unit_test(test_import_profiles),
                cmocka_unit_test(test_bad_profiles),         cmocka_unit_test(test_cache),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
