/* Seccomp: build the filter with libseccomp once, keep its BPF in the cache,
 * and hand the program to the sandbox, which loads it with seccomp(2).
 *
 * Cache key: a 64-bit FNV-1a hash of everything the filter depends on (mode,
 * profile bytes, kept capabilities, libseccomp version, architecture). The
 * cache file holds those inputs in full and the loader compares them byte for
 * byte, so a hash collision costs a recompile, never a wrong filter. sandbox/
 * may not use libcrypto, and a keyed digest buys nothing here: the cache dir
 * is private to the user. */
#include "seccomp-private.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/ioctl.h>

#include "sandbox-private.h"

#define CACHE_MAGIC "berth-bpf-1\n"
#define MAX_PROFILE_SIZE (4u << 20)
#define MAX_BPF_INSNS 65535u /* BPF_MAXINSNS is 4096, but be lenient when reading */

/* Docker's archMap: the compat ABIs each 64-bit kernel runs. */
static const uint32_t abi_families[][SECCOMP_MAX_ABIS] = {
        { SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32 },
        { SCMP_ARCH_AARCH64, SCMP_ARCH_ARM },
        { SCMP_ARCH_S390X, SCMP_ARCH_S390 },
        { SCMP_ARCH_PPC64, SCMP_ARCH_PPC },
        { SCMP_ARCH_MIPS64, SCMP_ARCH_MIPS64N32, SCMP_ARCH_MIPS },
        { SCMP_ARCH_MIPSEL64, SCMP_ARCH_MIPSEL64N32, SCMP_ARCH_MIPSEL },
};

static struct seccomp_abi abi_of(uint32_t token)
{
        bool x32 = token == SCMP_ARCH_X32;
        /* arm has private calls at 0xf0000, mips numbers start at 4000:
         * no ENOSYS ranges there. */
        bool odd = token == SCMP_ARCH_ARM || token == SCMP_ARCH_MIPS || token == SCMP_ARCH_MIPSEL ||
                   token == SCMP_ARCH_MIPS64 || token == SCMP_ARCH_MIPSEL64 || token == SCMP_ARCH_MIPS64N32 ||
                   token == SCMP_ARCH_MIPSEL64N32;
        return (struct seccomp_abi) {
                .token = token,
                .audit = x32 ? AUDIT_ARCH_X86_64 : token,
                .base = x32 ? 0x40000000u : 0,
                .known_base = !odd,
        };
}

size_t seccomp_native_abis(struct seccomp_abi ret[SECCOMP_MAX_ABIS])
{
        uint32_t native = seccomp_arch_native();
        for (size_t i = 0; i < ARRAY_SIZE(abi_families); i++) {
                if (abi_families[i][0] != native)
                        continue;
                size_t n = 0;
                for (size_t k = 0; k < SECCOMP_MAX_ABIS && abi_families[i][k]; k++)
                        ret[n++] = abi_of(abi_families[i][k]);
                return n;
        }
        ret[0] = abi_of(native);
        return 1;
}

static int rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n, const struct scmp_arg_cmp *cmp,
                berth_error **err)
{
        int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR)
                return 0; /* this libseccomp does not know it: the prologue answers ENOSYS */
        int r = seccomp_rule_add_array(ctx, action, nr, n, cmp);
        if (r == -EACCES)
                return 0; /* the same as the default action: nothing to add */
        if (r < 0)
                return berth_err(err, -r, "seccomp rule for %s", name);
        return 0;
}

/* On x86 the C library makes sockets through socketcall(2), whose
 * arguments seccomp cannot read: there only the direct socket(2) is
 * checked, as under Docker (see docs/SANDBOX.md). */
static int add_socket_rules(scmp_filter_ctx ctx, berth_error **err)
{
        enum { AF_ALG_ = 38, AF_VSOCK_ = 40 };
        struct scmp_arg_cmp allow[] = {
                SCMP_A0(SCMP_CMP_LT, AF_ALG_), SCMP_A0(SCMP_CMP_EQ, AF_ALG_ + 1), SCMP_A0(SCMP_CMP_GT, AF_VSOCK_),
        };
        for (size_t i = 0; i < ARRAY_SIZE(allow); i++)
                if (rule(ctx, SCMP_ACT_ALLOW, "socket", 1, &allow[i], err) < 0)
                        return -1;
        return 0; /* AF_ALG and AF_VSOCK: the default EPERM */
}

static int add_personality_rules(scmp_filter_ctx ctx, berth_error **err)
{
        static const uint64_t ok[] = { 0, 0x8, 0x20000, 0x20008, 0xffffffff };
        for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
                struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_EQ, ok[i]);
                if (rule(ctx, SCMP_ACT_ALLOW, "personality", 1, &c, err) < 0)
                        return -1;
        }
        return 0;
}

/* Whether this kernel runs x32 programs: most build it out or leave it off
 * (syscall.x32=n), and its part of the filter would make every start load a
 * third more instructions for nothing. Asked by a child, since a filter
 * around berth itself may kill an x32 call; asked only when the filter is
 * compiled: a cached filter made before a reboot that turned x32 on
 * refuses x32 calls with ENOSYS until the cache is cleared. */
static bool kernel_runs_x32(void)
{
        if (seccomp_arch_native() != SCMP_ARCH_X86_64)
                return false;
        pid_t pid = fork();
        if (pid == 0) {
                prctl(PR_SET_DUMPABLE, 0); /* no core file if a filter kills it */
                long r = syscall(0x40000000L | 39 /* x32 getpid */);
                _exit(r == (long) getpid() ? 0 : 1);
        }
        int st;
        if (pid < 0 || waitpid(pid, &st, 0) != pid)
                return false;
        return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Every ABI the kernel runs, as Docker's archMap: a 32-bit program is
 * allowed under the same rules (libseccomp adds each rule to each ABI). */
static int add_native_abis(scmp_filter_ctx ctx, bool with_x32, berth_error **err)
{
        struct seccomp_abi abis[SECCOMP_MAX_ABIS];
        size_t n = seccomp_native_abis(abis);
        for (size_t i = 1; i < n; i++) {
                if (abis[i].token == SCMP_ARCH_X32 && !with_x32)
                        continue; /* its numbers get ENOSYS, as from such a kernel */
                int r = seccomp_arch_add(ctx, abis[i].token);
                if (r < 0 && r != -EEXIST)
                        return berth_err(err, -r, "seccomp: add architecture %#x", abis[i].token);
        }
        return 0;
}

static int add_default_rules(scmp_filter_ctx ctx, bool with_x32, berth_error **err)
{
        if (add_native_abis(ctx, with_x32, err) < 0)
                return -1;
        for (size_t i = 0; seccomp_default_allow[i]; i++)
                if (rule(ctx, SCMP_ACT_ALLOW, seccomp_default_allow[i], 0, NULL, err) < 0)
                        return -1;
        for (size_t i = 0; seccomp_default_enosys[i]; i++)
                if (rule(ctx, SCMP_ACT_ERRNO(ENOSYS), seccomp_default_enosys[i], 0, NULL, err) < 0)
                        return -1;
        /* ioctl is allowed here; the prologue refuses TIOCSTI and TIOCLINUX. */
        if (rule(ctx, SCMP_ACT_ALLOW, "ioctl", 0, NULL, err) < 0)
                return -1;
        return add_socket_rules(ctx, err) < 0 || add_personality_rules(ctx, err) < 0 ? -1 : 0;
}

/* The default filter refuses what it does not allow with EPERM, and numbers
 * no syscall had when libseccomp was built with ENOSYS, as the kernel would:
 * a range check here instead of an EPERM rule for each of some hundred known
 * calls keeps the program a third shorter, and loading it is a tenth of a
 * start. Ranges found from libseccomp's table of each ABI; the last one ends
 * where the next ABI sharing the arch value begins (x32 after x86-64), or
 * nowhere. Past MAX_UNKNOWN_RANGES, the largest are kept. */
#define MAX_SYSCALL_NR 1024
#define MAX_UNKNOWN_RANGES 8
struct nr_range {
        uint32_t first, end;    /* end exclusive; 0 for open-ended */
};

static uint64_t range_size(const struct nr_range *r) { return (r->end ? (uint64_t) r->end : 1ull << 32) - r->first; }

static void keep_range(struct nr_range *r, size_t *n, struct nr_range add)
{
        if (*n < MAX_UNKNOWN_RANGES) {
                r[(*n)++] = add;
                return;
        }
        size_t smallest = 0;
        for (size_t i = 1; i < *n; i++)
                if (range_size(&r[i]) < range_size(&r[smallest]))
                        smallest = i;
        if (range_size(&add) > range_size(&r[smallest]))
                r[smallest] = add;
}

static size_t unknown_ranges(const struct seccomp_abi *a, uint32_t next_base, struct nr_range *r)
{
        size_t n = 0;
        int64_t start = -1;
        for (uint32_t i = 0; i <= MAX_SYSCALL_NR; i++) {
                uint32_t nr = a->base + i;
                bool known = false;
                if (i < MAX_SYSCALL_NR) {
                        char *name = seccomp_syscall_resolve_num_arch(a->token, (int) nr);
                        known = name != NULL;
                        free(name);
                }
                if (!known && start < 0 && i < MAX_SYSCALL_NR)
                        start = nr;
                else if ((known || i == MAX_SYSCALL_NR) && start >= 0) {
                        keep_range(r, &n, (struct nr_range) { (uint32_t) start, known ? nr : next_base });
                        start = -1;
                }
        }
        return n;
}

/* What the prologue checks for one ABI. */
struct abi_plan {
        struct seccomp_abi abi;
        int ioctl_nr;
        struct nr_range ranges[MAX_UNKNOWN_RANGES];
        size_t n_ranges;
};

/* The ABIs in the filter, those sharing an arch value next to each other. */
static size_t plan_abis(scmp_filter_ctx ctx, bool enosys_ranges, struct abi_plan *p)
{
        struct seccomp_abi abis[SECCOMP_MAX_ABIS];
        bool placed[SECCOMP_MAX_ABIS] = {};
        size_t n_abis = seccomp_native_abis(abis), n = 0;
        for (size_t i = 0; i < n_abis; i++)
                for (size_t k = i; k < n_abis; k++)
                        if (!placed[k] && abis[k].audit == abis[i].audit) {
                                placed[k] = true;
                                if (seccomp_arch_exist(ctx, abis[k].token) == 0)
                                        p[n++] = (struct abi_plan) { .abi = abis[k] };
                        }
        for (size_t i = 0; i < n; i++) {
                uint32_t next_base = 0;
                for (size_t k = 0; k < n; k++)
                        if (p[k].abi.audit == p[i].abi.audit && p[k].abi.base > p[i].abi.base &&
                            (!next_base || p[k].abi.base < next_base))
                                next_base = p[k].abi.base;
                p[i].ioctl_nr = seccomp_syscall_resolve_name_arch(p[i].abi.token, "ioctl");
                if (enosys_ranges && p[i].abi.known_base)
                        p[i].n_ranges = unknown_ranges(&p[i].abi, next_base, p[i].ranges);
        }
        return n;
}

static size_t abi_len(const struct abi_plan *a)
{
        size_t len = a->ioctl_nr >= 0;
        for (size_t k = 0; k < a->n_ranges; k++)
                len += a->ranges[k].end ? 2 : 1;
        return len;
}

/* The instructions for the ABIs from i on that share its arch value. */
static size_t group_len(const struct abi_plan *p, size_t n, size_t i)
{
        size_t len = 3; /* jeq arch, ld nr, ja end */
        for (size_t k = i; k < n && p[k].abi.audit == p[i].abi.audit; k++)
                len += abi_len(&p[k]);
        return len;
}

/* libseccomp cannot refuse one ioctl request while allowing the rest (its
 * overlapping rules let the ALLOW win), so a hand-written prologue does it,
 * for every ABI in the filter, comparing only the 32 bits the kernel reads:
 * TIOCSTI | 1<<32 is refused too. Prepended to every filter, Docker
 * profiles included; the ENOSYS ranges only to the default one. Returns the
 * number of instructions. */
#define MAX_PROLOGUE_LEN (6 + SECCOMP_MAX_ABIS * (4 + 2 * MAX_UNKNOWN_RANGES))
static size_t write_prologue(struct sock_filter *f, const struct abi_plan *p, size_t n)
{
        uint32_t lo = offsetof(struct seccomp_data, args[1]) + (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? 4 : 0);
        size_t len = 1 + 5;
        for (size_t i = 0; i < n; i++)
                if (i == 0 || p[i].abi.audit != p[i - 1].abi.audit)
                        len += group_len(p, n, i);
        /* Jump offsets count from the next instruction. */
        size_t k = 0, chk = len - 5, ret_eperm = len - 2, ret_enosys = len - 1, end = len;
#define AT(target) ((uint8_t) ((target) - k - 1))
        f[k++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
        for (size_t i = 0; i < n; i++) {
                const struct abi_plan *a = &p[i];
                if (i == 0 || a->abi.audit != p[i - 1].abi.audit) {
                        size_t next = k + group_len(p, n, i);
                        f[k] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, a->abi.audit, 0,
                                                             AT(next == chk ? end : next)), k++;
                        f[k++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
                }
                for (size_t r = 0; r < a->n_ranges; r++) {
                        const struct nr_range *g = &a->ranges[r];
                        if (g->end) /* first <= nr < end */
                                f[k] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, g->end, 1, 0), k++;
                        f[k] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, g->first, AT(ret_enosys), 0), k++;
                }
                if (a->ioctl_nr >= 0)
                        f[k] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t) a->ioctl_nr, AT(chk), 0), k++;
                if (i == n - 1 || p[i + 1].abi.audit != a->abi.audit)
                        f[k] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JA, (uint32_t) (end - k - 1), 0, 0), k++;
        }
        f[k++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, lo);
        f[k] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI, AT(ret_eperm), 0), k++;
        f[k] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCLINUX, AT(ret_eperm), AT(end)), k++;
#undef AT
        f[k++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
        f[k++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
        return k;
}

static int export_bpf(scmp_filter_ctx ctx, bool enosys_ranges, struct sandbox_bpf *ret, berth_error **err)
{
        _cleanup_close_ int fd = memfd_create("berth-bpf", MFD_CLOEXEC);
        if (fd < 0)
                return berth_err(err, errno, "memfd_create");
        int r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return berth_err(err, -r, "export seccomp filter");
        if (lseek(fd, 0, SEEK_SET) < 0)
                return berth_err(err, errno, "lseek");
        _cleanup_free_ char *buf = NULL;
        size_t len;
        if (read_fd_bounded(fd, MAX_BPF_INSNS * sizeof(struct sock_filter), "seccomp program", &buf, &len, err) < 0)
                return -1;
        if (len == 0 || len % sizeof(struct sock_filter))
                return berth_err(err, 0, "seccomp program has a bad size (%zu bytes)", len);
        size_t n = len / sizeof(struct sock_filter);
        struct abi_plan plan[SECCOMP_MAX_ABIS];
        size_t n_abis = plan_abis(ctx, enosys_ranges, plan);
        struct sock_filter p[MAX_PROLOGUE_LEN];
        size_t np = write_prologue(p, plan, n_abis);
        if (n + np > BPF_MAXINSNS)
                return berth_error_make(err, BERTH_E_LIMIT, 0, "seccomp program: %zu instructions, the kernel takes %d",
                                        n + np, BPF_MAXINSNS);
        struct sock_filter *f = xcalloc(n + np, sizeof(*f));
        memcpy(f, p, np * sizeof(*f));
        memcpy(f + np, buf, len);
        ret->insns = f;
        ret->n_insns = n + np;
        return 0;
}

/* We set no_new_privs ourselves and load the program with seccomp(2). A
 * binary tree of syscall numbers instead of a list: every call the command
 * makes runs this program. */
static int finish_filter(scmp_filter_ctx ctx, bool enosys_ranges, struct sandbox_bpf *ret, berth_error **err)
{
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        return export_bpf(ctx, enosys_ranges, ret, err);
}

int seccomp_compile_default(bool with_x32, struct sandbox_bpf *ret, berth_error **err)
{
        _cleanup_seccomp_ scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
        if (!ctx)
                return berth_err(err, ENOMEM, "seccomp_init");
        if (add_default_rules(ctx, with_x32, err) < 0)
                return -1;
        return finish_filter(ctx, true, ret, err);
}

static int build_filter(enum sandbox_seccomp mode, const char *profile, size_t profile_len, uint64_t caps,
                        struct sandbox_bpf *ret, berth_error **err)
{
        if (mode != SANDBOX_SECCOMP_PROFILE)
                return seccomp_compile_default(kernel_runs_x32(), ret, err);
        _cleanup_seccomp_ scmp_filter_ctx ctx = NULL;
        if (seccomp_from_json(profile, profile_len, caps, &ctx, err) < 0)
                return -1;
        return finish_filter(ctx, false, ret, err);
}

/* The exact inputs of a filter: what the cache file must match. */
static char *filter_inputs(enum sandbox_seccomp mode, const char *profile, size_t profile_len, uint64_t caps,
                           size_t *ret_len)
{
        const struct scmp_version *v = seccomp_version();
        dynbuf b;
        dynbuf_init(&b, SIZE_MAX, "seccomp inputs");
        berth_error *e = NULL;
        dynbuf_printf(&b, &e, "prologue=3 optimize=2 mode=%d caps=%016llx libseccomp=%u.%u.%u arch=%u\n", (int) mode,
                      (unsigned long long) caps, v->major, v->minor, v->micro, seccomp_arch_native());
        if (mode == SANDBOX_SECCOMP_PROFILE)
                dynbuf_add(&b, profile, profile_len, &e);
        else
                for (size_t i = 0; seccomp_default_allow[i]; i++)
                        dynbuf_printf(&b, &e, "%s\n", seccomp_default_allow[i]);
        if (mode != SANDBOX_SECCOMP_PROFILE)
                for (size_t i = 0; seccomp_default_enosys[i]; i++)
                        dynbuf_printf(&b, &e, "enosys %s\n", seccomp_default_enosys[i]);
        berth_error_free(e); /* unbounded: cannot fail */
        return dynbuf_take(&b, ret_len);
}

struct cache_header {
        char magic[12];
        uint64_t inputs_len;
        uint64_t n_insns;
};

/* Returns 1 on a hit, 0 on a miss (any unreadable or stale file is a miss). */
static int cache_load(const char *path, const char *inputs, size_t inputs_len, struct sandbox_bpf *ret)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        _cleanup_error_ berth_error *e = NULL;
        size_t max = sizeof(struct cache_header) + inputs_len + MAX_BPF_INSNS * sizeof(struct sock_filter);
        if (read_file_bounded(AT_FDCWD, path, max, "seccomp cache", &buf, &len, &e) < 0)
                return 0;
        struct cache_header h;
        if (len < sizeof(h))
                return 0;
        memcpy(&h, buf, sizeof(h));
        if (memcmp(h.magic, CACHE_MAGIC, sizeof(h.magic)) || h.inputs_len != inputs_len || h.n_insns == 0 ||
            h.n_insns > MAX_BPF_INSNS || len != sizeof(h) + inputs_len + h.n_insns * sizeof(struct sock_filter))
                return 0;
        if (memcmp(buf + sizeof(h), inputs, inputs_len))
                return 0;
        size_t n = h.n_insns * sizeof(struct sock_filter);
        ret->insns = xmalloc(n);
        memcpy(ret->insns, buf + sizeof(h) + inputs_len, n);
        ret->n_insns = h.n_insns;
        return 1;
}

static int cache_store(const char *dir, const char *path, const char *inputs, size_t inputs_len,
                       const struct sandbox_bpf *b, berth_error **err)
{
        struct cache_header h = { .inputs_len = inputs_len, .n_insns = b->n_insns };
        memcpy(h.magic, CACHE_MAGIC, sizeof(h.magic));
        size_t n = b->n_insns * sizeof(struct sock_filter);
        size_t total = sizeof(h) + inputs_len + n;
        _cleanup_free_ char *buf = xmalloc(total);
        memcpy(buf, &h, sizeof(h));
        memcpy(buf + sizeof(h), inputs, inputs_len);
        memcpy(buf + sizeof(h) + inputs_len, b->insns, n);
        if (mkdir_p(dir, 0700, err) < 0)
                return -1;
        return write_file_atomic(AT_FDCWD, path, buf, total, 0600, err);
}

static int read_profile(const char *path, char **ret, size_t *ret_len, berth_error **err)
{
        if (!path)
                return berth_error_make(err, BERTH_E_INVALID, 0, "seccomp: a profile mode needs a profile path");
        if (read_file_bounded(AT_FDCWD, path, MAX_PROFILE_SIZE, "seccomp profile", ret, ret_len, err) < 0)
                return berth_error_wrap(err, "seccomp profile `%s`", path);
        return 0;
}

int sandbox_seccomp_compile_caps(enum sandbox_seccomp mode, const char *profile_path, uint64_t caps,
                                 const char *cache_dir, struct sandbox_bpf *ret, bool *ret_from_cache,
                                 berth_error **err)
{
        _cleanup_free_ char *profile = NULL;
        size_t profile_len = 0;
        if (mode == SANDBOX_SECCOMP_PROFILE && read_profile(profile_path, &profile, &profile_len, err) < 0)
                return -1;
        size_t inputs_len;
        _cleanup_free_ char *inputs = filter_inputs(mode, profile, profile_len, caps, &inputs_len);
        _cleanup_free_ char *dir = cache_dir ? xasprintf("%s/seccomp", cache_dir) : NULL;
        _cleanup_free_ char *path =
                dir ? xasprintf("%s/%016llx.bpf", dir, (unsigned long long) fnv1a64(FNV1A64_INIT, inputs, inputs_len)) : NULL;
        struct sandbox_bpf b = {};
        if (path && cache_load(path, inputs, inputs_len, &b) == 1) {
                *ret = b;
                if (ret_from_cache)
                        *ret_from_cache = true;
                return 0;
        }
        if (build_filter(mode, profile, profile_len, caps, &b, err) < 0)
                return -1;
        if (path) {
                _cleanup_error_ berth_error *e = NULL;
                if (cache_store(dir, path, inputs, inputs_len, &b, &e) < 0)
                        log_debug("seccomp cache not written: %s", e->msg);
        }
        *ret = b;
        if (ret_from_cache)
                *ret_from_cache = false;
        return 0;
}

int sandbox_seccomp_compile(enum sandbox_seccomp mode, const char *profile, const char *cache_dir,
                            struct sandbox_bpf *ret, bool *ret_from_cache, berth_error **err)
{
        return sandbox_seccomp_compile_caps(mode, profile, caps_default_mask(), cache_dir, ret, ret_from_cache,
                                            err);
}

void sandbox_bpf_done(struct sandbox_bpf *b)
{
        free(b->insns);
        b->insns = NULL;
        b->n_insns = 0;
}
