/* The default filter against Docker's default profile, run through a small
 * classic-BPF interpreter for every ABI the filter holds (x86-64, x86 and
 * x32 on amd64): every call Docker's default does not allow must be refused
 * by berth's too, but for the calls listed in docker_exceptions. Also:
 * profile import, the BPF cache, TIOCSTI. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "sandbox/seccomp-private.h"

static const char *profiles_dir(void)
{
        const char *d = getenv("SECCOMP_DIR");
        return d ? d : "tests/sandbox/profiles";
}

/* The ABIs the native kernel runs (Docker's archMap). */
static size_t abis(uint32_t ret[3])
{
        ret[0] = seccomp_arch_native();
        if (ret[0] != SCMP_ARCH_X86_64)
                return 1;
        ret[1] = SCMP_ARCH_X86;
        ret[2] = SCMP_ARCH_X32;
        return 3;
}

static const char *abi_name(uint32_t abi)
{
        return abi == SCMP_ARCH_X86 ? "x86" : abi == SCMP_ARCH_X32 ? "x32" : "native";
}

/* Evaluate a seccomp program on one call of one ABI (x32 calls carry
 * x86-64's arch value and bit 30 in the number, which libseccomp's numbers
 * include); fails the test on an opcode the interpreter does not know, so
 * it cannot silently pass. */
static uint32_t bpf_run_abi(const struct sandbox_bpf *b, uint32_t abi, int nr, const uint64_t args[6])
{
        struct seccomp_data d = { .nr = nr, .arch = abi == SCMP_ARCH_X32 ? AUDIT_ARCH_X86_64 : abi };
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

/* The number of a call on one ABI; for x86's socket calls, which
 * libseccomp names by their socketcall(2) form, the direct call's. */
static int nr_abi(uint32_t abi, const char *name)
{
        int nr = seccomp_syscall_resolve_name_arch(abi, name);
        int base = abi == SCMP_ARCH_X32 ? 0x40000000 : 0;
        for (int k = base; nr < 0 && k < base + 1024; k++) {
                char *n = seccomp_syscall_resolve_num_arch(abi, k);
                if (n && streq(n, name))
                        nr = k;
                free(n);
        }
        if (nr < 0)
                fail_msg("%s has no %s", abi_name(abi), name);
        return nr;
}

/* Calls Docker's default refuses (without CAP_SYS_ADMIN or CAP_SYS_NICE)
 * that berth's allows, each for a reason given in docs/SANDBOX.md. */
static const char *const docker_exceptions[] = {
        /* nested sandboxes: the kernel checks them against the capabilities
         * of a user namespace the command made itself */
        "chroot", "clone3", "fsconfig", "fsmount", "fsopen", "fspick", "mount", "mount_setattr", "move_mount",
        "open_tree", "pivot_root", "setdomainname", "sethostname", "setns", "umount", "umount2", "unshare",
        /* the NUMA policy of the caller's own memory */
        "get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node",
};

static bool is_exception(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(docker_exceptions); i++)
                if (streq(name, docker_exceptions[i]))
                        return true;
        return false;
}

/* The default filter with every ABI of the machine, x32 included. */
static struct sandbox_bpf default_filter(void)
{
        struct sandbox_bpf b;
        berth_error *e = NULL;
        assert_int_equal(seccomp_compile_default(true, &b, &e), 0);
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
        uint32_t abi[3];
        size_t n_abis = abis(abi);
        for (size_t a = 0; a < n_abis; a++) {
                int checked = 0, base = abi[a] == SCMP_ARCH_X32 ? 0x40000000 : 0;
                for (int nr = base; nr < base + 1024; nr++) {
                        char *name = seccomp_syscall_resolve_num_arch(abi[a], nr);
                        if (!name)
                                continue;
                        if (!json_object_get(allowed, name) && !is_exception(name)) {
                                if (is_allow(bpf_run_abi(&b, abi[a], nr, zero)) ||
                                    is_allow(bpf_run_abi(&b, abi[a], nr, ones)))
                                        fail_msg("%s: %s (%d) is refused by Docker's default but allowed by berth's",
                                                 abi_name(abi[a]), name, nr);
                                checked++;
                        }
                        free(name);
                }
                assert_true(checked > 30);
        }
        json_decref(allowed);
        sandbox_bpf_done(&b);
}

/* Every number libseccomp has no name for is ENOSYS (gaps included, such as
 * 335-423 on x86-64); every known call is allowed, EPERM, or one of the
 * ENOSYS calls. x32 has more gaps than the prologue keeps ranges for: there
 * an unknown number may be EPERM. */
static void check_numbers(const struct sandbox_bpf *b, uint32_t abi)
{
        int base = abi == SCMP_ARCH_X32 ? 0x40000000 : 0;
        for (int nr = base; nr < base + 1024; nr++) {
                char *name = seccomp_syscall_resolve_num_arch(abi, nr);
                uint32_t r = bpf_run_abi(b, abi, nr, zero);
                bool feature = name && (startswith(name, "io_uring_") || startswith(name, "lsm_"));
                if (!name && !is_errno(r, ENOSYS) && !(abi == SCMP_ARCH_X32 && is_errno(r, EPERM)))
                        fail_msg("%s: unknown syscall %d is not ENOSYS", abi_name(abi), nr);
                if (name && !feature && !is_allow(r) && !is_errno(r, EPERM))
                        fail_msg("%s: %s is neither allowed nor EPERM", abi_name(abi), name);
                if (feature && !is_errno(r, ENOSYS))
                        fail_msg("%s: %s is not ENOSYS", abi_name(abi), name);
                free(name);
        }
        assert_true(is_errno(bpf_run_abi(b, abi, base + 999, zero), ENOSYS));
}

static void test_named_calls(void **state)
{
        struct sandbox_bpf b = default_filter();
        static const char *const refused[] = { "keyctl", "add_key", "request_key", "bpf", "open_by_handle_at",
                                               "perf_event_open", "kexec_load", "init_module", "finit_module",
                                               "delete_module", "reboot", "swapon", "migrate_pages", "move_pages",
                                               "vm86", "iopl", "ioperm", "userfaultfd" };
        static const char *const allowed[] = { "read", "unshare", "setns", "mount", "umount2", "pivot_root",
                                               "chroot", "clone3", "get_mempolicy", "set_mempolicy", "mbind",
                                               "socketpair", "set_thread_area" };
        uint32_t abi[3];
        size_t n_abis = abis(abi);
        /* Every name is a real call on some ABI: one libseccomp cannot
         * resolve anywhere would test nothing. */
        for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
                bool known = false;
                for (size_t a = 0; a < n_abis; a++)
                        known |= seccomp_syscall_resolve_name_arch(abi[a], refused[i]) >= 0;
                if (!known)
                        fail_msg("%s: libseccomp knows no such call", refused[i]);
        }
        for (size_t a = 0; a < n_abis; a++) {
                for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
                        int nr = seccomp_syscall_resolve_name_arch(abi[a], refused[i]);
                        if (nr >= 0 && !is_errno(bpf_run_abi(&b, abi[a], nr, zero), EPERM))
                                fail_msg("%s: %s is not refused with EPERM", abi_name(abi[a]), refused[i]);
                }
                for (size_t i = 0; i < ARRAY_SIZE(allowed); i++) {
                        int nr = seccomp_syscall_resolve_name_arch(abi[a], allowed[i]);
                        if (nr >= 0 && !is_allow(bpf_run_abi(&b, abi[a], nr, zero)))
                                fail_msg("%s: %s is not allowed", abi_name(abi[a]), allowed[i]);
                }
                assert_true(is_errno(bpf_run_abi(&b, abi[a], nr_abi(abi[a], "io_uring_setup"), zero), ENOSYS));
                check_numbers(&b, abi[a]);
                uint64_t arg[6] = {};
                arg[0] = 0x10000000 /* CLONE_NEWUSER */ | 0x00020000 /* CLONE_NEWNS */ | 0x11 /* SIGCHLD */;
                assert_true(is_allow(bpf_run_abi(&b, abi[a], nr_abi(abi[a], "clone"), arg)));
                assert_true(is_allow(bpf_run_abi(&b, abi[a], nr_abi(abi[a], "unshare"), arg)));
                /* socket(2) itself, on every ABI; x86's socketcall(2) cannot be checked */
                arg[0] = 40; /* AF_VSOCK */
                assert_true(is_errno(bpf_run_abi(&b, abi[a], nr_abi(abi[a], "socket"), arg), EPERM));
                arg[0] = 38; /* AF_ALG */
                assert_true(is_errno(bpf_run_abi(&b, abi[a], nr_abi(abi[a], "socket"), arg), EPERM));
                arg[0] = 2; /* AF_INET */
                assert_true(is_allow(bpf_run_abi(&b, abi[a], nr_abi(abi[a], "socket"), arg)));
                arg[0] = 0x0400000; /* READ_IMPLIES_EXEC */
                assert_true(is_errno(bpf_run_abi(&b, abi[a], nr_abi(abi[a], "personality"), arg), EPERM));
                arg[0] = 0x0020008; /* UNAME26 | PER_LINUX32 */
                assert_true(is_allow(bpf_run_abi(&b, abi[a], nr_abi(abi[a], "personality"), arg)));
        }
        if (n_abis == 3) { /* x86's and x32's numbers: not native ones */
                assert_true(is_allow(bpf_run_abi(&b, SCMP_ARCH_X32, 0x40000000 | nr_of("read"), zero)));
                assert_true(is_errno(bpf_run_abi(&b, SCMP_ARCH_X86, 999, zero), ENOSYS));
                assert_true(is_allow(bpf_run_abi(&b, SCMP_ARCH_X86, 102 /* socketcall */, zero)));
        }
        sandbox_bpf_done(&b);
}

/* TIOCSTI and TIOCLINUX refused on every ABI; the high 32 bits of the
 * argument, which the kernel ignores, do not hide them. */
static void check_tiocsti(const struct sandbox_bpf *b, size_t n_abis_wanted, bool ioctl_allowed)
{
        uint32_t abi[3];
        size_t n_abis = abis(abi);
        assert_true(n_abis >= n_abis_wanted);
        for (size_t a = 0; a < n_abis_wanted; a++) {
                int nr = nr_abi(abi[a], "ioctl");
                uint64_t arg[6] = { 0, TIOCSTI };
                if (!is_errno(bpf_run_abi(b, abi[a], nr, arg), EPERM))
                        fail_msg("%s: TIOCSTI is not refused", abi_name(abi[a]));
                arg[1] = TIOCSTI | (1ull << 32);
                assert_true(is_errno(bpf_run_abi(b, abi[a], nr, arg), EPERM));
                arg[1] = TIOCLINUX;
                assert_true(is_errno(bpf_run_abi(b, abi[a], nr, arg), EPERM));
                arg[1] = TCGETS;
                assert_true(is_allow(bpf_run_abi(b, abi[a], nr, arg)) == ioctl_allowed);
                arg[1] = TIOCSTI + 1;
                assert_true(is_allow(bpf_run_abi(b, abi[a], nr, arg)) == ioctl_allowed);
        }
}

static void test_tiocsti_masked(void **state)
{
        struct sandbox_bpf b = default_filter();
        uint32_t abi[3];
        check_tiocsti(&b, abis(abi), true);
        sandbox_bpf_done(&b);
}

/* x32 is in the filter berth compiles only where the kernel runs it;
 * elsewhere its numbers are ENOSYS, as from such a kernel. */
static void test_x32_where_the_kernel_runs_it(void **state)
{
        if (seccomp_arch_native() != SCMP_ARCH_X86_64)
                skip();
        pid_t pid = fork();
        if (pid == 0)
                _exit(syscall(0x40000000L | 39 /* x32 getpid */) == getpid() ? 0 : 1);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        bool runs = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        struct sandbox_bpf b;
        berth_error *e = NULL;
        assert_int_equal(sandbox_seccomp_compile(SANDBOX_SECCOMP_DEFAULT, NULL, NULL, &b, NULL, &e), 0);
        uint32_t r = bpf_run_abi(&b, SCMP_ARCH_X32, 0x40000000 | nr_of("read"), zero);
        assert_true(runs ? is_allow(r) : is_errno(r, ENOSYS));
        assert_true(is_allow(bpf_run_abi(&b, SCMP_ARCH_X86, 3 /* read */, zero)));
        uint64_t a[6] = { 0, TIOCSTI };
        assert_true(is_errno(bpf_run_abi(&b, SCMP_ARCH_X86, 54 /* ioctl */, a), EPERM));
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
                /* Docker's (either format) and podman's list x86 and x32 on
                 * amd64: their rules hold there too, and so does the
                 * prologue, which guards every profile. */
                bool all_abis = i <= 1 || i == ARRAY_SIZE(files);
                uint32_t abi[3];
                size_t n_abis = all_abis ? abis(abi) : 1;
                check_tiocsti(&b, n_abis, all_abis);
                for (size_t k = 0; all_abis && k < n_abis; k++) {
                        if (!is_allow(bpf_run_abi(&b, abi[k], nr_abi(abi[k], "read"), zero)))
                                fail_msg("%s: %s: read is not allowed", p, abi_name(abi[k]));
                        assert_false(is_allow(bpf_run_abi(&b, abi[k], nr_abi(abi[k], "kexec_load"), zero)));
                        if (i <= 1)
                                assert_false(is_allow(bpf_run_abi(&b, abi[k], nr_abi(abi[k], "keyctl"), zero)));
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
                                           "\"op\": \"SCMP_CMP_EQ\"}]}]}",
                                           "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [\"x86\"]}" };
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
                cmocka_unit_test(test_x32_where_the_kernel_runs_it),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
