/* OCI references: the grammar of the distribution spec's reference package,
 * written out by hand (no regex engine at run time), with one message per
 * rule so a spec error says what to fix. */
#include <errno.h>

#include "oci-ref.h"

static bool is_lower_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
        return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static int bad(berth_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(berth_error **err, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        berth_error_makev(err, BERTH_E_INVALID, 0, fmt, ap);
        va_end(ap);
        return -1;
}

/* [a-z0-9]+ ((. | _ | __ | -+) [a-z0-9]+)* */
static bool path_component_ok(const char *s, size_t len)
{
        size_t i = 0;
        while (i < len) {
                if (!is_lower_alnum(s[i]))
                        return false;
                while (i < len && is_lower_alnum(s[i]))
                        i++;
                if (i == len)
                        return true;
                size_t sep = i;
                if (s[i] == '.')
                        i++;
                else if (s[i] == '_')
                        i += i + 1 < len && s[i + 1] == '_' ? 2 : 1;
                else
                        while (i < len && s[i] == '-')
                                i++;
                if (i == sep || i == len)
                        return false;
        }
        return len > 0;
}

static int check_repository(const char *repo, berth_error **err)
{
        const char *p = repo;
        for (;;) {
                const char *slash = strchr(p, '/');
                size_t len = slash ? (size_t) (slash - p) : strlen(p);
                if (!path_component_ok(p, len))
                        return bad(err, "repository \"%s\": each part must be lowercase letters and digits, "
                                        "joined by '.', '_', '__' or '-'", repo);
                if (!slash)
                        return 0;
                p = slash + 1;
        }
}

static bool hostname_ok(const char *s, size_t len)
{
        if (len == 0)
                return false;
        if (s[0] == '[')
                return len > 2 && s[len - 1] == ']' && strspn(s + 1, "0123456789abcdefABCDEF:.") == len - 2;
        size_t label = 0;
        for (size_t i = 0; i < len; i++) {
                if (s[i] == '.') {
                        if (label == 0 || s[i - 1] == '-')
                                return false;
                        label = 0;
                } else if (is_alnum(s[i]) || (s[i] == '-' && label > 0)) {
                        label++;
                } else {
                        return false;
                }
        }
        return label > 0 && s[len - 1] != '-';
}

static int check_registry(const char *host, berth_error **err)
{
        const char *colon = strrchr(host, ':');
        if (colon && host[0] == '[' && strchr(colon, ']'))
                colon = NULL;
        size_t hlen = colon ? (size_t) (colon - host) : strlen(host);
        if (!hostname_ok(host, hlen))
                return bad(err, "registry \"%s\": expected a host name, an IP address or [IPv6], "
                                "with an optional :port", host);
        if (colon) {
                const char *port = colon + 1;
                size_t n = strspn(port, "0123456789");
                long v = n && n <= 5 && !port[n] ? strtol(port, NULL, 10) : 0;
                if (v < 1 || v > 65535)
                        return bad(err, "registry \"%s\": the port must be a number from 1 to 65535", host);
        }
        return 0;
}

static int check_tag(const char *tag, berth_error **err)
{
        size_t len = strlen(tag);
        bool ok = len > 0 && len <= OCI_TAG_MAX && (is_alnum(tag[0]) || tag[0] == '_');
        for (size_t i = 1; ok && i < len; i++)
                ok = is_alnum(tag[i]) || strchr("_.-", tag[i]);
        if (!ok)
                return bad(err, "tag \"%s\": expected up to %d letters, digits, '_', '.' or '-', "
                                "not starting with '.' or '-'", tag, OCI_TAG_MAX);
        return 0;
}

static int check_digest(const char *d, berth_error **err)
{
        const char *hex = startswith(d, "sha256:");
        if (!hex) {
                const char *colon = strchr(d, ':');
                if (colon && colon != d)
                        return bad(err, "digest \"%s\": only sha256 digests are supported", d);
                return bad(err, "digest \"%s\": expected sha256: and 64 hex digits", d);
        }
        if (strlen(hex) != 64 || !is_hex_string(hex, 64) || strpbrk(hex, "ABCDEF"))
                return bad(err, "digest \"%s\": expected sha256: and 64 lowercase hex digits", d);
        return 0;
}

/* The first part names a registry when it could not be a repository part:
 * it has a '.' or a ':', or is localhost (as docker decides). */
static bool names_registry(const char *first, size_t len)
{
        if (len == 9 && memcmp(first, "localhost", 9) == 0)
                return true;
        for (size_t i = 0; i < len; i++)
                if (first[i] == '.' || first[i] == ':' || (first[i] >= 'A' && first[i] <= 'Z'))
                        return true;
        return false;
}

static void split_name(const char *name, struct oci_ref *r)
{
        const char *slash = strchr(name, '/');
        if (slash && names_registry(name, (size_t) (slash - name))) {
                r->registry = xstrndup(name, (size_t) (slash - name));
                r->repository = xstrdup(slash + 1);
        } else {
                r->registry = xstrdup("docker.io");
                r->repository = xstrdup(name);
        }
        if (streq(r->registry, "index.docker.io") || streq(r->registry, "registry-1.docker.io")) {
                free(r->registry);
                r->registry = xstrdup("docker.io");
        }
        if (streq(r->registry, "docker.io") && !strchr(r->repository, '/')) {
                char *full = xasprintf("library/%s", r->repository);
                free(r->repository);
                r->repository = full;
        }
}

static int parse_parts(const char *s, struct oci_ref *r, berth_error **err)
{
        _cleanup_free_ char *name = NULL;
        const char *at = strchr(s, '@');
        if (at) {
                r->digest = xstrdup(at + 1);
                if (check_digest(r->digest, err) < 0)
                        return -1;
        }
        name = at ? xstrndup(s, (size_t) (at - s)) : xstrdup(s);
        char *last_slash = strrchr(name, '/');
        char *colon = strrchr(last_slash ? last_slash : name, ':');
        if (colon) {
                *colon = '\0';
                r->tag = xstrdup(colon + 1);
                if (check_tag(r->tag, err) < 0)
                        return -1;
        }
        if (!*name)
                return bad(err, "expected a repository name before the tag or digest");
        split_name(name, r);
        if (check_registry(r->registry, err) < 0 || check_repository(r->repository, err) < 0)
                return -1;
        if (strlen(r->registry) + 1 + strlen(r->repository) > OCI_NAME_MAX)
                return bad(err, "the name is longer than %d characters", OCI_NAME_MAX);
        if (!r->tag && !r->digest)
                r->tag = xstrdup("latest");
        return 0;
}

int oci_ref_parse(const char *s, struct oci_ref *ret, berth_error **err)
{
        if (strlen(s) > OCI_REF_MAX)
                return berth_error_make(err, BERTH_E_LIMIT, 0, "longer than %d characters", OCI_REF_MAX);
        for (const char *c = s; *c; c++)
                if ((unsigned char) *c <= ' ' || *c == 0x7f)
                        return bad(err, "a reference may not hold spaces or control characters");
        if (strstr(s, "://"))
                return bad(err, "expected host/name:tag without a scheme (insecure registries are "
                                "listed in BERTH_REGISTRY_INSECURE)");
        struct oci_ref r = {};
        if (parse_parts(s, &r, err) < 0) {
                oci_ref_done(&r);
                return -1;
        }
        *ret = r;
        return 0;
}

void oci_ref_done(struct oci_ref *r)
{
        free(r->registry);
        free(r->repository);
        free(r->tag);
        free(r->digest);
        *r = (struct oci_ref){};
}

char *oci_ref_string(const struct oci_ref *r)
{
        return xasprintf("%s/%s%s%s%s%s", r->registry, r->repository, r->tag ? ":" : "", r->tag ? r->tag : "",
                         r->digest ? "@" : "", r->digest ? r->digest : "");
}

const char *oci_ref_api_host(const struct oci_ref *r)
{
        return streq(r->registry, "docker.io") ? "registry-1.docker.io" : r->registry;
}

/* ---- platforms ---------------------------------------------------------- */

static bool platform_word_ok(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!is_lower_alnum(*s) && *s != '_')
                        return false;
        return true;
}

int oci_platform_parse(const char *s, struct oci_platform *ret, berth_error **err)
{
        static const char what[] = "expected os/architecture[/variant] like linux/amd64 or linux/arm64/v8";
        struct oci_platform p = {};
        char buf[3 * sizeof(p.os)];
        if (strlen(s) >= sizeof(buf))
                return bad(err, "%s", what);
        strcpy(buf, s);
        char *arch = strchr(buf, '/');
        char *variant = arch ? strchr(arch + 1, '/') : NULL;
        if (!arch)
                return bad(err, "%s", what);
        *arch++ = '\0';
        if (variant)
                *variant++ = '\0';
        if (!platform_word_ok(buf) || !platform_word_ok(arch) || (variant && !platform_word_ok(variant)) ||
            strlen(buf) >= sizeof(p.os) || strlen(arch) >= sizeof(p.arch) ||
            (variant && strlen(variant) >= sizeof(p.variant)))
                return bad(err, "%s", what);
        strcpy(p.os, buf);
        strcpy(p.arch, arch);
        if (variant)
                strcpy(p.variant, variant);
        *ret = p;
        return 0;
}

void oci_platform_host(struct oci_platform *ret)
{
        *ret = (struct oci_platform){ .os = "linux" };
#if defined(__x86_64__)
        strcpy(ret->arch, "amd64");
#elif defined(__aarch64__)
        strcpy(ret->arch, "arm64");
        strcpy(ret->variant, "v8");
#elif defined(__i386__)
        strcpy(ret->arch, "386");
#elif defined(__arm__)
        strcpy(ret->arch, "arm");
        strcpy(ret->variant, "v7");
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        strcpy(ret->arch, "ppc64le");
#elif defined(__s390x__)
        strcpy(ret->arch, "s390x");
#elif defined(__riscv) && __riscv_xlen == 64
        strcpy(ret->arch, "riscv64");
#else
        strcpy(ret->arch, "unknown");
#endif
}
