/* sandbox/ internal: seccomp filter building. */
#pragma once

#include <seccomp.h>

#include "sandbox/sandbox.h"

extern const char *const seccomp_default_allow[];

DEFINE_CLEANUP_FUNC(scmp_filter_ctx, seccomp_release)
#define _cleanup_seccomp_ _cleanup_(seccomp_releasep)

/* Add the default rules to a filter whose default action is ENOSYS. */
int seccomp_add_default_rules(scmp_filter_ctx ctx, berth_error **err);
/* Build a filter from a Docker/OCI JSON profile. caps is the bitmask of
 * capabilities the command keeps (for includes/excludes on caps). */
int seccomp_from_json(const char *text, size_t len, uint64_t caps, scmp_filter_ctx *ret, berth_error **err);
