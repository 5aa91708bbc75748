/* sandbox/ internal: seccomp filter building. */
#pragma once

#include <seccomp.h>

#include "sandbox/sandbox.h"

extern const char *const seccomp_default_allow[];
extern const char *const seccomp_default_enosys[];

DEFINE_CLEANUP_FUNC(scmp_filter_ctx, seccomp_release)
#define _cleanup_seccomp_ _cleanup_(seccomp_releasep)

/* One system call ABI: libseccomp's token, the value the kernel puts in
 * seccomp_data.arch for it, and where its numbers start (x32 shares
 * x86-64's arch value and sets bit 30 in the number). */
struct seccomp_abi {
        uint32_t token;
        uint32_t audit;
        uint32_t base;
        bool known_base; /* false: no ENOSYS ranges are derived for it */
};

#define SECCOMP_MAX_ABIS 3
/* The ABIs a kernel of this machine's architecture runs, native first, as
 * Docker's archMap lists them (amd64: x86-64, x86, x32). */
size_t seccomp_native_abis(struct seccomp_abi ret[SECCOMP_MAX_ABIS]);
/* The ABI with this token, if the native kernel runs it. */
const struct seccomp_abi *seccomp_abi_find(uint32_t token);

/* The default filter, with or without the x32 ABI (it is added where the
 * kernel runs x32; tests ask for both). */
int seccomp_compile_default(bool with_x32, struct sandbox_bpf *ret, berth_error **err);
/* Build a filter from a Docker/OCI JSON profile. caps is the bitmask of
 * capabilities the command keeps (for includes/excludes on caps). */
int seccomp_from_json(const char *text, size_t len, uint64_t caps, scmp_filter_ctx *ret, berth_error **err);
