/* common: OCI image references and platforms, parsed and validated.
 * Shared by specs/ (to check a spec with positions) and images/ (to pull).
 * libc only. */
#pragma once

#include "common.h"

/* host[:port]/path[:tag][@sha256:HEX], the grammar of the distribution
 * spec. A name without a host is on docker.io, and a one-part name there is
 * under library/. Without tag and digest the tag is "latest". */
struct oci_ref {
        char *registry;     /* "docker.io", "localhost:5000", "[::1]:5000" */
        char *repository;   /* "library/postgres" */
        char *tag;          /* NULL when only a digest was given */
        char *digest;       /* "sha256:<64 hex>", or NULL */
};

#define OCI_REF_MAX 4096       /* whole reference */
#define OCI_NAME_MAX 255       /* registry/repository, as the distribution spec bounds it */
#define OCI_TAG_MAX 128

/* Parse s. On failure BERTH_E_INVALID with a message that says which part is
 * wrong and why (without repeating s: the caller names it). */
int oci_ref_parse(const char *s, struct oci_ref *ret, berth_error **err);
void oci_ref_done(struct oci_ref *r);
static inline void oci_ref_donep(struct oci_ref *r) { oci_ref_done(r); }
/* The canonical text: registry/repository[:tag][@digest]. */
char *oci_ref_string(const struct oci_ref *r);
/* Where the registry's API is: docker.io is served by registry-1.docker.io. */
const char *oci_ref_api_host(const struct oci_ref *r);

/* os/architecture[/variant], e.g. linux/amd64 or linux/arm64/v8. */
struct oci_platform {
        char os[32];
        char arch[32];
        char variant[32];    /* "" = none given */
};
int oci_platform_parse(const char *s, struct oci_platform *ret, berth_error **err);
/* The platform this program runs on (GOOS/GOARCH names). */
void oci_platform_host(struct oci_platform *ret);
