/* Docker/OCI seccomp profile import: the moby format (defaultAction,
 * defaultErrnoRet, archMap or architectures, syscalls with names or name,
 * args, includes/excludes on caps, arches and minKernel, errnoRet). */
#include "seccomp-private.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <sys/utsname.h>

#include "sandbox-private.h"

static inline void json_decref_ptr(json_t **j) { json_decref(*j); }

static int parse_action(json_t *o, const char *key, const char *errno_key, int default_errno, uint32_t *ret,
                        berth_error **err)
{
        const char *a = json_string_value(json_object_get(o, key));
        if (!a)
                return berth_error_make(err, BERTH_E_INVALID, 0, "%s: expected a string", key);
        json_t *en = json_object_get(o, errno_key);
        json_int_t e = json_is_integer(en) ? json_integer_value(en) : default_errno;
        if (e < 0)
                return berth_error_make(err, BERTH_E_INVALID, 0, "%s: negative errno", errno_key);
        /* The kernel caps errno at MAX_ERRNO anyway; libseccomp takes at
         * most 4094 (Docker's own example profile asks for 12345). */
        if (e > 4094)
                e = 4094;
        if (streq(a, "SCMP_ACT_ALLOW"))
                *ret = SCMP_ACT_ALLOW;
        else if (streq(a, "SCMP_ACT_ERRNO"))
                *ret = SCMP_ACT_ERRNO((uint16_t) e);
        else if (streq(a, "SCMP_ACT_KILL") || streq(a, "SCMP_ACT_KILL_THREAD"))
                *ret = SCMP_ACT_KILL_THREAD;
        else if (streq(a, "SCMP_ACT_KILL_PROCESS"))
                *ret = SCMP_ACT_KILL_PROCESS;
        else if (streq(a, "SCMP_ACT_TRAP"))
                *ret = SCMP_ACT_TRAP;
        else if (streq(a, "SCMP_ACT_TRACE"))
                *ret = SCMP_ACT_TRACE((uint16_t) e);
        else if (streq(a, "SCMP_ACT_LOG"))
                *ret = SCMP_ACT_LOG;
        else
                return berth_error_make(err, BERTH_E_INVALID, 0, "%s: unsupported action `%s`", key, a);
        return 0;
}

static int parse_op(const char *op, enum scmp_compare *ret)
{
        static const struct { const char *name; enum scmp_compare op; } ops[] = {
                { "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT }, { "SCMP_CMP_LE", SCMP_CMP_LE },
                { "SCMP_CMP_EQ", SCMP_CMP_EQ }, { "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
                { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
        };
        for (size_t i = 0; op && i < ARRAY_SIZE(ops); i++)
                if (streq(op, ops[i].name)) {
                        *ret = ops[i].op;
                        return 0;
                }
        return -1;
}

static const char *native_arch_name(void)
{
        switch (seccomp_arch_native()) {
        case SCMP_ARCH_X86_64: return "amd64";
        case SCMP_ARCH_AARCH64: return "arm64";
        case SCMP_ARCH_X86: return "x86";
        case SCMP_ARCH_PPC64LE: return "ppc64le";
        case SCMP_ARCH_S390X: return "s390x";
        case SCMP_ARCH_RISCV64: return "riscv64";
        default: return "unknown";
        }
}

static bool kernel_at_least(const char *want)
{
        struct utsname u;
        unsigned a = 0, b = 0, x = 0, y = 0;
        if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &a, &b) < 1 || sscanf(want, "%u.%u", &x, &y) < 1)
                return false;
        return a > x || (a == x && b >= y);
}

static bool strings_contain(json_t *arr, const char *s)
{
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
                if (json_is_string(v) && streq(json_string_value(v), s))
                        return true;
        return false;
}

static bool caps_hold(json_t *arr, uint64_t caps, bool all)
{
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v) {
                const char *n = json_string_value(v);
                int c = n ? cap_from_name(startswith(n, "CAP_") ? n + 4 : n) : -1;
                bool has = c >= 0 && (caps & (1ull << c));
                if (all && !has)
                        return false;
                if (!all && has)
                        return true;
        }
        return all;
}

/* includes: every listed condition holds; excludes: none does. */
static bool rule_applies(json_t *s, uint64_t caps)
{
        json_t *inc = json_object_get(s, "includes"), *exc = json_object_get(s, "excludes");
        json_t *v;
        if ((v = json_object_get(inc, "arches")) && json_array_size(v) && !strings_contain(v, native_arch_name()))
                return false;
        if ((v = json_object_get(inc, "caps")) && json_array_size(v) && !caps_hold(v, caps, true))
                return false;
        if ((v = json_object_get(inc, "minKernel")) && json_is_string(v) && !kernel_at_least(json_string_value(v)))
                return false;
        if ((v = json_object_get(exc, "arches")) && strings_contain(v, native_arch_name()))
                return false;
        if ((v = json_object_get(exc, "caps")) && json_array_size(v) && caps_hold(v, caps, false))
                return false;
        if ((v = json_object_get(exc, "minKernel")) && json_is_string(v) && kernel_at_least(json_string_value(v)))
                return false;
        return true;
}

#define MAX_ARGS 6

static int parse_args(json_t *args, struct scmp_arg_cmp *ret, unsigned *ret_n, bool *ret_same_index,
                      berth_error **err)
{
        size_t i;
        json_t *a;
        unsigned n = 0, seen = 0;
        bool same = false;
        if (json_array_size(args) > MAX_ARGS)
                return berth_error_make(err, BERTH_E_LIMIT, 0, "args: more than %d conditions", MAX_ARGS);
        json_array_foreach(args, i, a) {
                json_int_t idx = json_integer_value(json_object_get(a, "index"));
                enum scmp_compare op;
                if (idx < 0 || idx > 5)
                        return berth_error_make(err, BERTH_E_INVALID, 0, "args[%zu].index: expected 0..5", i);
                if (parse_op(json_string_value(json_object_get(a, "op")), &op) < 0)
                        return berth_error_make(err, BERTH_E_INVALID, 0, "args[%zu].op: unknown operator", i);
                same |= (seen & (1u << idx)) != 0;
                seen |= 1u << idx;
                ret[n++] = (struct scmp_arg_cmp) {
                        .arg = (unsigned) idx,
                        .op = op,
                        .datum_a = (scmp_datum_t) json_integer_value(json_object_get(a, "value")),
                        .datum_b = (scmp_datum_t) json_integer_value(json_object_get(a, "valueTwo")),
                };
        }
        *ret_n = n;
        *ret_same_index = same;
        return 0;
}

static int add_named(scmp_filter_ctx ctx, uint32_t action, const char *name, const struct scmp_arg_cmp *cmp,
                     unsigned n, bool split, berth_error **err)
{
        int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR)
                return 0; /* unknown to this libseccomp or arch: like runc, skip */
        /* libseccomp cannot AND two conditions on one argument: like runc, OR them. */
        for (unsigned i = 0; i < (split ? n : 1); i++) {
                int r = split ? seccomp_rule_add_array(ctx, action, nr, 1, &cmp[i])
                              : seccomp_rule_add_array(ctx, action, nr, n, cmp);
                if (r < 0)
                        return berth_err(err, -r, "rule for %s", name);
        }
        return 0;
}

static int add_syscall_entry(scmp_filter_ctx ctx, json_t *s, uint32_t def_action, uint64_t caps, berth_error **err)
{
        if (!rule_applies(s, caps))
                return 0;
        uint32_t action;
        if (parse_action(s, "action", "errnoRet", EPERM, &action, err) < 0)
                return -1;
        if (action == def_action)
                return 0; /* libseccomp refuses rules that repeat the default */
        struct scmp_arg_cmp cmp[MAX_ARGS];
        unsigned n = 0;
        bool split = false;
        if (parse_args(json_object_get(s, "args"), cmp, &n, &split, err) < 0)
                return -1;
        json_t *names = json_object_get(s, "names"), *v;
        size_t i;
        if (json_is_string(json_object_get(s, "name")))
                return add_named(ctx, action, json_string_value(json_object_get(s, "name")), cmp, n, split, err);
        json_array_foreach(names, i, v)
                if (json_is_string(v) && add_named(ctx, action, json_string_value(v), cmp, n, split, err) < 0)
                        return -1;
        return 0;
}

/* SCMP_ARCH_X86_64 → libseccomp's token (it knows only "x86_64"); 0 if
 * the name is not an architecture. */
static uint32_t arch_token(const char *name)
{
        char lower[32];
        size_t i = 0;
        if (!name || !startswith(name, "SCMP_ARCH_"))
                return 0;
        for (const char *c = name + 10; *c && i < sizeof(lower) - 1; c++)
                lower[i++] = (char) tolower((unsigned char) *c);
        lower[i] = 0;
        return seccomp_arch_resolve_name(lower);
}

/* Add an architecture the profile lists if this machine's kernel runs it
 * (Docker on amd64: x86 and x32); others could never match a call. */
static int add_arch(scmp_filter_ctx ctx, json_t *name, berth_error **err)
{
        const char *s = json_string_value(name);
        if (!s || !startswith(s, "SCMP_ARCH_"))
                return berth_error_make(err, BERTH_E_INVALID, 0, "expected an SCMP_ARCH_ name");
        uint32_t t = arch_token(s);
        if (!t)
                return 0; /* newer than this libseccomp: like an unknown syscall, skipped */
        struct seccomp_abi abis[SECCOMP_MAX_ABIS];
        size_t n = seccomp_native_abis(abis);
        for (size_t i = 1; i < n; i++)
                if (abis[i].token == t) {
                        int r = seccomp_arch_add(ctx, t);
                        if (r < 0 && r != -EEXIST)
                                return berth_err(err, -r, "add architecture %s", s);
                }
        return 0;
}

/* archMap: the sub-architectures of the native one's entry; the older
 * architectures: every one listed. */
static int add_arches(scmp_filter_ctx ctx, json_t *root, berth_error **err)
{
        json_t *map = json_object_get(root, "archMap"), *m, *a;
        size_t i, j;
        json_array_foreach(map, i, m) {
                if (arch_token(json_string_value(json_object_get(m, "architecture"))) != seccomp_arch_native())
                        continue;
                json_array_foreach(json_object_get(m, "subArchitectures"), j, a)
                        if (add_arch(ctx, a, err) < 0)
                                return berth_error_wrap(err, "archMap[%zu].subArchitectures[%zu]", i, j);
        }
        json_array_foreach(json_object_get(root, "architectures"), i, a)
                if (add_arch(ctx, a, err) < 0)
                        return berth_error_wrap(err, "architectures[%zu]", i);
        return 0;
}

int seccomp_from_json(const char *text, size_t len, uint64_t caps, scmp_filter_ctx *ret, berth_error **err)
{
        json_error_t je;
        _cleanup_(json_decref_ptr) json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        if (!root)
                return berth_error_make(err, BERTH_E_INVALID, 0, "%d:%d: %s", je.line, je.column, je.text);
        if (!json_is_object(root))
                return berth_error_make(err, BERTH_E_INVALID, 0, "expected a JSON object");
        uint32_t def;
        if (parse_action(root, "defaultAction", "defaultErrnoRet", EPERM, &def, err) < 0)
                return -1;
        _cleanup_seccomp_ scmp_filter_ctx ctx = seccomp_init(def);
        if (!ctx)
                return berth_err(err, ENOMEM, "seccomp_init");
        if (add_arches(ctx, root, err) < 0)
                return -1;
        json_t *calls = json_object_get(root, "syscalls"), *s;
        size_t i;
        if (calls && !json_is_array(calls))
                return berth_error_make(err, BERTH_E_INVALID, 0, "syscalls: expected a list");
        json_array_foreach(calls, i, s)
                if (add_syscall_entry(ctx, s, def, caps, err) < 0)
                        return berth_error_wrap(err, "syscalls[%zu]", i);
        *ret = TAKE_PTR(ctx);
        return 0;
}
