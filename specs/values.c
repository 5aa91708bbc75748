/* Scalar value syntax: names, versions, sizes, durations, ports, paths. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>

#include "spec-internal.h"

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

static bool is_lower_alnum(char c)
{
        return is_digit(c) || (c >= 'a' && c <= 'z');
}

bool spec_valid_name(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > 63 || !is_lower_alnum(s[0]))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!is_lower_alnum(s[i]) && s[i] != '-')
                        return false;
        return true;
}

bool spec_valid_env_name(const char *s)
{
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
                return false;
        for (s++; *s; s++)
                if (!(isalnum((unsigned char) *s) || *s == '_'))
                        return false;
        return true;
}

/* A number below 2^32-1, or a POSIX-style user/group name. */
static bool valid_id_part(const char *s, size_t n)
{
        if (n == 0 || n > 32)
                return false;
        if (is_digit(s[0])) {
                uint64_t v = 0;
                for (size_t i = 0; i < n; i++) {
                        if (!is_digit(s[i]))
                                return false;
                        v = v * 10 + (uint64_t) (s[i] - '0');
                }
                return v < UINT32_MAX;
        }
        if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!(is_lower_alnum(s[i]) || s[i] == '_' || s[i] == '-' || (s[i] == '$' && i == n - 1)))
                        return false;
        return true;
}

bool spec_valid_user(const char *s)
{
        const char *colon = strchr(s, ':');
        if (!colon)
                return valid_id_part(s, strlen(s));
        return valid_id_part(s, (size_t) (colon - s)) && valid_id_part(colon + 1, strlen(colon + 1));
}

bool spec_valid_target(const char *s)
{
        if (s[0] != '/')
                return false;
        for (const char *p = s; *p;) {
                while (*p == '/')
                        p++;
                size_t n = strcspn(p, "/");
                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return false;
                p += n;
        }
        return true;
}

int spec_parse_uint(const char *s, uint64_t max, uint64_t *ret)
{
        uint64_t v = 0;
        if (!is_digit(*s))
                return -1;
        for (; *s; s++) {
                if (!is_digit(*s))
                        return -1;
                uint64_t d = (uint64_t) (*s - '0');
                if (v > (max - d) / 10)
                        return -1;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

/* Whole part and up to `decimals` fractional digits, scaled by 10^decimals. */
static int parse_fixed(const char **sp, int decimals, uint64_t *ret)
{
        const char *s = *sp;
        uint64_t v = 0;
        if (!is_digit(*s))
                return -1;
        for (; is_digit(*s); s++) {
                /* Leaves room for up to six fractional digits. */
                if (v > (UINT64_MAX / 1000000 - 9) / 10)
                        return -1;
                v = v * 10 + (uint64_t) (*s - '0');
        }
        int frac = 0;
        if (*s == '.') {
                s++;
                if (!is_digit(*s))
                        return -1;
                for (; is_digit(*s); s++) {
                        if (frac == decimals)
                                return -1;
                        v = v * 10 + (uint64_t) (*s - '0');
                        frac++;
                }
        }
        for (; frac < decimals; frac++)
                v *= 10;
        *sp = s;
        *ret = v;
        return 0;
}

int spec_parse_millicpus(const char *s, uint32_t *ret)
{
        uint64_t v;
        if (parse_fixed(&s, 3, &v) < 0 || *s || v == 0 || v > 1024 * 1000)
                return -1;
        *ret = (uint32_t) v;
        return 0;
}

static const struct unit {
        const char *name;
        uint64_t factor;
} size_units[] = {
        { "B", 1 },
        { "K", 1ULL << 10 }, { "KiB", 1ULL << 10 },
        { "M", 1ULL << 20 }, { "MiB", 1ULL << 20 },
        { "G", 1ULL << 30 }, { "GiB", 1ULL << 30 },
}, duration_units[] = {
        { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
};

/* Multiply a value scaled by 10^6 by factor, rounding down to whole units. */
static int scale(uint64_t micro, uint64_t factor, uint64_t *ret)
{
        unsigned __int128 v = (unsigned __int128) micro * factor / 1000000;
        if (v > UINT64_MAX)
                return -1;
        *ret = (uint64_t) v;
        return 0;
}

static const struct unit *find_unit(const struct unit *u, size_t n, const char *s, size_t len)
{
        for (size_t i = 0; i < n; i++)
                if (strlen(u[i].name) == len && memcmp(u[i].name, s, len) == 0)
                        return &u[i];
        return NULL;
}

int spec_parse_size(const char *s, uint64_t *ret)
{
        uint64_t micro, v;
        if (!s || parse_fixed(&s, 6, &micro) < 0)
                return -1;
        if (*s == '\0') {
                /* Plain bytes are whole numbers. */
                if (micro % 1000000)
                        return -1;
                *ret = micro / 1000000;
                return 0;
        }
        const struct unit *u = find_unit(size_units, ARRAY_SIZE(size_units), s, strlen(s));
        if (!u || scale(micro, u->factor, &v) < 0)
                return -1;
        *ret = v;
        return 0;
}

/* One or more number+unit parts: "1h30m", "1.5s", "250ms". */
int spec_parse_duration(const char *s, uint64_t *ret_ms)
{
        uint64_t total = 0;
        if (!s || !*s)
                return -1;
        while (*s) {
                uint64_t micro, v;
                if (parse_fixed(&s, 6, &micro) < 0)
                        return -1;
                size_t n = 0;
                while (s[n] >= 'a' && s[n] <= 'z')
                        n++;
                const struct unit *u = find_unit(duration_units, ARRAY_SIZE(duration_units), s, n);
                if (!u || scale(micro, u->factor, &v) < 0 || v > UINT64_MAX - total)
                        return -1;
                total += v;
                s += n;
        }
        *ret_ms = total;
        return 0;
}

static int parse_port_number(const char *s, size_t n, uint16_t *ret)
{
        char buf[8];
        uint64_t v;
        if (n == 0 || n >= sizeof(buf))
                return -1;
        memcpy(buf, s, n);
        buf[n] = '\0';
        if (spec_parse_uint(buf, 65535, &v) < 0 || v == 0)
                return -1;
        *ret = (uint16_t) v;
        return 0;
}

/* The IP part: an IPv4 literal, or IPv6 with or without brackets. */
static int parse_host_ip(const char *s, size_t n, char **ret)
{
        unsigned char addr[16];
        if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
                s++;
                n -= 2;
        }
        if (n == 0 || n > 45)
                return -1;
        _cleanup_free_ char *ip = xstrndup(s, n);
        if (inet_pton(AF_INET, ip, addr) != 1 && inet_pton(AF_INET6, ip, addr) != 1)
                return -1;
        *ret = TAKE_PTR(ip);
        return 0;
}

/* [host-ip:]host-port:container-port[/tcp|/udp]; the ports are the last
 * two fields so an unbracketed IPv6 address still parses. */
int spec_parse_port(const char *s, char **ret_ip, uint16_t *ret_host, uint16_t *ret_container, bool *ret_udp)
{
        _cleanup_free_ char *text = xstrdup(s);
        char *proto = strchr(text, '/');
        bool udp = false;
        if (proto) {
                if (!streq(proto, "/tcp") && !streq(proto, "/udp"))
                        return -1;
                udp = streq(proto, "/udp");
                *proto = 0;
        }
        s = text;
        const char *c2 = strrchr(s, ':');
        if (!c2 || c2 == s)
                return -1;
        const char *c1 = c2 - 1;
        while (c1 > s && *c1 != ':')
                c1--;
        const char *host = *c1 == ':' ? c1 + 1 : s;
        uint16_t hp, cp;
        _cleanup_free_ char *ip = NULL;
        if (parse_port_number(host, (size_t) (c2 - host), &hp) < 0 ||
            parse_port_number(c2 + 1, strlen(c2 + 1), &cp) < 0)
                return -1;
        if (host != s && parse_host_ip(s, (size_t) (c1 - s), &ip) < 0)
                return -1;
        *ret_ip = TAKE_PTR(ip);
        *ret_host = hp;
        *ret_container = cp;
        *ret_udp = udp;
        return 0;
}

static const char *const cap_names[] = {
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
        "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
        "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
        "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
        "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
        "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE", NULL,
};

const char *const *spec_cap_names(void)
{
        return cap_names;
}

char *spec_normalize_cap(const char *s)
{
        if (strlen(s) > 64)
                return NULL;
        _cleanup_free_ char *up = xstrdup(s);
        for (char *p = up; *p; p++)
                *p = (char) toupper((unsigned char) *p);
        const char *bare = startswith(up, "CAP_") ? up + 4 : up;
        if (streq(bare, "ALL"))
                return xstrdup(bare);
        for (size_t i = 0; cap_names[i]; i++)
                if (streq(bare, cap_names[i]))
                        return xstrdup(bare);
        return NULL;
}

char *spec_path_join(const char *base, const char *path)
{
        _cleanup_free_ char *all = path[0] == '/' ? xstrdup(path) : xasprintf("%s/%s", base, path);
        char *out = xmalloc(strlen(all) + 2);
        size_t len = 0;
        for (char *p = all; *p;) {
                while (*p == '/')
                        p++;
                size_t n = strcspn(p, "/");
                if (n == 0 || (n == 1 && p[0] == '.')) {
                        /* nothing */
                } else if (n == 2 && p[0] == '.' && p[1] == '.') {
                        while (len > 0 && out[len - 1] != '/')
                                len--;
                        if (len > 0)
                                len--;
                } else {
                        out[len++] = '/';
                        memcpy(out + len, p, n);
                        len += n;
                }
                p += n;
        }
        if (len == 0)
                out[len++] = '/';
        out[len] = '\0';
        return out;
}
