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
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/ioctl.h>

#include "sandbox-private.h"

#define CACHE_MAGIC "berth-bpf-1\n"
#define MAX_PROFILE_SIZE (4u << 20)
#define MAX_BPF_INSNS 65535u /* BPF_MAXINSNS is 4096, but be lenient when reading */

static const uint64_t clone_ns_flags[] = {
        0x00020000 /* NEWNS */, 0x02000000 /* NEWCGROUP */, 0x04000000 /* NEWUTS */, 0x08000000 /* NEWIPC */,
        0x10000000 /* NEWUSER */, 0x20000000 /* NEWPID */, 0x40000000 /* NEWNET */,
};

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

static int add_clone_rules(scmp_filter_ctx ctx, berth_error **err)
{
        uint64_t all = 0;
        for (size_t i = 0; i < ARRAY_SIZE(clone_ns_flags); i++) {
                struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_MASKED_EQ, clone_ns_flags[i], clone_ns_flags[i]);
                if (rule(ctx, SCMP_ACT_ERRNO(EPERM), "clone", 1, &c, err) < 0)
                        return -1;
                all |= clone_ns_flags[i];
        }
        struct scmp_arg_cmp ok = SCMP_A0(SCMP_CMP_MASKED_EQ, all, 0);
        if (rule(ctx, SCMP_ACT_ALLOW, "clone", 1, &ok, err) < 0)
                return -1;
        /* clone3 hides its flags in memory: ENOSYS makes libc fall back to clone. */
        return rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL, err);
}

static int add_socket_rules(scmp_filter_ctx ctx, berth_error **err)
{
        enum { AF_ALG_ = 38, AF_VSOCK_ = 40 };
        struct scmp_arg_cmp allow[] = {
                SCMP_A0(SCMP_CMP_LT, AF_ALG_), SCMP_A0(SCMP_CMP_EQ, AF_ALG_ + 1), SCMP_A0(SCMP_CMP_GT, AF_VSOCK_),
        };
        for (size_t i = 0; i < ARRAY_SIZE(allow); i++)
                if (rule(ctx, SCMP_ACT_ALLOW, "socket", 1, &allow[i], err) < 0)
                        return -1;
        struct scmp_arg_cmp alg = SCMP_A0(SCMP_CMP_EQ, AF_ALG_), vsock = SCMP_A0(SCMP_CMP_EQ, AF_VSOCK_);
        if (rule(ctx, SCMP_ACT_ERRNO(EPERM), "socket", 1, &alg, err) < 0)
                return -1;
        return rule(ctx, SCMP_ACT_ERRNO(EPERM), "socket", 1, &vsock, err);
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

int seccomp_add_default_rules(scmp_filter_ctx ctx, berth_error **err)
{
        for (size_t i = 0; seccomp_default_allow[i]; i++)
                if (rule(ctx, SCMP_ACT_ALLOW, seccomp_default_allow[i], 0, NULL, err) < 0)
                        return -1;
        /* ioctl is allowed here; the prologue refuses TIOCSTI and TIOCLINUX. */
        if (rule(ctx, SCMP_ACT_ALLOW, "ioctl", 0, NULL, err) < 0)
                return -1;
        if (add_clone_rules(ctx, err) < 0 || add_socket_rules(ctx, err) < 0 ||
            add_personality_rules(ctx, err) < 0)
                return -1;
        return 0;
}

/* The default filter refuses what it does not allow with EPERM, and numbers
 * no syscall had when libseccomp was built with ENOSYS, as the kernel would:
 * a range check here instead of an EPERM rule for each of some hundred known
 * calls keeps the program a third shorter, and loading it is a tenth of a
 * start. Ranges found from libseccomp's table, the last one open-ended. */
#define MAX_SYSCALL_NR 1024
#define MAX_UNKNOWN_RANGES 8
struct nr_range {
        uint32_t first, end;    /* end exclusive; 0 for open-ended */
};

static size_t unknown_ranges(struct nr_range *r)
{
        size_t n = 0;
        int start = -1;
        for (int nr = 0; nr <= MAX_SYSCALL_NR; nr++) {
                char *name = nr < MAX_SYSCALL_NR ? seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr) : NULL;
                bool known = name != NULL;
                free(name);
                if (!known && start < 0 && nr < MAX_SYSCALL_NR)
                        start = nr;
                else if ((known || nr == MAX_SYSCALL_NR) && start >= 0) {
                        if (n == MAX_UNKNOWN_RANGES)
                                return n;
                        r[n++] = (struct nr_range) { (uint32_t) start, known ? (uint32_t) nr : 0 };
                        start = -1;
                }
        }
        return n;
}

/* libseccomp cannot refuse one ioctl request while allowing the rest (its
 * overlapping rules let the ALLOW win), so a hand-written prologue does it,
 * comparing only the 32 bits the kernel reads: TIOCSTI | 1<<32 is refused
 * too. Prepended to every filter, Docker profiles included; the ENOSYS
 * ranges only to the default one. Returns the number of instructions. */
#define MAX_PROLOGUE_LEN (9 + 2 * MAX_UNKNOWN_RANGES)
static size_t write_prologue(struct sock_filter *f, const struct nr_range *r, size_t n_ranges)
{
        uint32_t arch = seccomp_arch_native();
        uint32_t ioctl_nr = (uint32_t) seccomp_syscall_resolve_name("ioctl");
        uint32_t lo = offsetof(struct seccomp_data, args[1]) + (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? 4 : 0);
        size_t len = 0;
        for (size_t i = 0; i < n_ranges; i++)
                len += r[i].end ? 2 : 1;
        len += 9;
        /* Jump offsets count from the next instruction. */
        size_t k = 0, end = len, ret_eperm = len - 2, ret_enosys = len - 1;
#define AT(target) ((uint8_t) ((target) - k - 1))
        f[k] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)), k++;
        f[k] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, AT(end)), k++;
        f[k] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)), k++;
        for (size_t i = 0; i < n_ranges; i++) {
                if (r[i].end) { /* first <= nr < end */
                        f[k] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, r[i].end, 1, 0), k++;
                        f[k] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, r[i].first, AT(ret_enosys), 0), k++;
                } else {
                        f[k] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, r[i].first, AT(ret_enosys), 0), k++;
                }
        }
        f[k] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ioctl_nr, 0, AT(end)), k++;
        f[k] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, lo), k++;
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
        char *buf;
        size_t len;
        if (read_fd_bounded(fd, MAX_BPF_INSNS * sizeof(struct sock_filter), "seccomp program", &buf, &len, err) < 0)
                return -1;
        if (len == 0 || len % sizeof(struct sock_filter)) {
                free(buf);
                return berth_err(err, 0, "seccomp program has a bad size (%zu bytes)", len);
        }
        size_t n = len / sizeof(struct sock_filter);
        struct nr_range ranges[MAX_UNKNOWN_RANGES];
        size_t n_ranges = enosys_ranges ? unknown_ranges(ranges) : 0;
        struct sock_filter p[MAX_PROLOGUE_LEN];
        size_t np = write_prologue(p, ranges, n_ranges);
        if (n + np > BPF_MAXINSNS) {
                free(buf);
                return berth_error_make(err, BERTH_E_LIMIT, 0, "seccomp program: %zu instructions, the kernel takes %d",
                                        n + np, BPF_MAXINSNS);
        }
        struct sock_filter *f = xcalloc(n + np, sizeof(*f));
        memcpy(f, p, np * sizeof(*f));
        memcpy(f + np, buf, len);
        free(buf);
        ret->insns = f;
        ret->n_insns = n + np;
        return 0;
}

static int build_filter(enum sandbox_seccomp mode, const char *profile, size_t profile_len, uint64_t caps,
                        struct sandbox_bpf *ret, berth_error **err)
{
        _cleanup_seccomp_ scmp_filter_ctx ctx = NULL;
        if (mode == SANDBOX_SECCOMP_PROFILE) {
                if (seccomp_from_json(profile, profile_len, caps, &ctx, err) < 0)
                        return -1;
        } else {
                ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
                if (!ctx)
                        return berth_err(err, ENOMEM, "seccomp_init");
                if (seccomp_add_default_rules(ctx, err) < 0)
                        return -1;
        }
        /* We set no_new_privs ourselves and load the program with seccomp(2).
         * A binary tree of syscall numbers instead of a list: every call the
         * command makes runs this program. */
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        return export_bpf(ctx, mode != SANDBOX_SECCOMP_PROFILE, ret, err);
}

/* The exact inputs of a filter: what the cache file must match. */
static char *filter_inputs(enum sandbox_seccomp mode, const char *profile, size_t profile_len, uint64_t caps,
                           size_t *ret_len)
{
        const struct scmp_version *v = seccomp_version();
        dynbuf b;
        dynbuf_init(&b, SIZE_MAX, "seccomp inputs");
        berth_error *e = NULL;
        dynbuf_printf(&b, &e, "prologue=2 optimize=2 mode=%d caps=%016llx libseccomp=%u.%u.%u arch=%u\n", (int) mode,
                      (unsigned long long) caps, v->major, v->minor, v->micro, seccomp_arch_native());
        if (mode == SANDBOX_SECCOMP_PROFILE)
                dynbuf_add(&b, profile, profile_len, &e);
        else
                for (size_t i = 0; seccomp_default_allow[i]; i++)
                        dynbuf_printf(&b, &e, "%s\n", seccomp_default_allow[i]);
        berth_error_free(e); /* unbounded: cannot fail */
        return dynbuf_take(&b, ret_len);
}

static uint64_t fnv1a64(const void *data, size_t len)
{
        const unsigned char *p = data;
        uint64_t h = 0xcbf29ce484222325ull;
        for (size_t i = 0; i < len; i++)
                h = (h ^ p[i]) * 0x100000001b3ull;
        return h;
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
                dir ? xasprintf("%s/%016llx.bpf", dir, (unsigned long long) fnv1a64(inputs, inputs_len)) : NULL;
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
