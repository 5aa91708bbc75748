/* Capabilities: the command keeps a default set smaller than Docker's; the
 * bounding set is cut to it, inheritable and ambient are emptied. */
#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "sandbox-private.h"

static const char *const cap_names[] = {
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
        "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
        "CHECKPOINT_RESTORE",
};

/* Docker's default minus NET_RAW, MKNOD, SYS_CHROOT and AUDIT_WRITE. */
static const int default_caps[] = {
        CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_SETPCAP,
        CAP_NET_BIND_SERVICE, CAP_SETFCAP,
};

int cap_from_name(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(cap_names); i++)
                if (strcasecmp(name, cap_names[i]) == 0)
                        return (int) i;
        return -1;
}

uint64_t caps_default_mask(void)
{
        uint64_t m = 0;
        for (size_t i = 0; i < ARRAY_SIZE(default_caps); i++)
                m |= 1ull << default_caps[i];
        return m;
}

static int apply_names(char *const *names, bool add, uint64_t *mask, berth_error **err)
{
        for (size_t i = 0; names && names[i]; i++) {
                const char *n = startswith(names[i], "CAP_") ? names[i] + 4 : names[i];
                if (!add && strcasecmp(n, "ALL") == 0) {
                        *mask = 0;
                        continue;
                }
                int c = cap_from_name(n);
                if (c < 0)
                        return berth_error_make(err, BERTH_E_INVALID, 0, "unknown capability `%s`", names[i]);
                if (add)
                        *mask |= 1ull << c;
                else
                        *mask &= ~(1ull << c);
        }
        return 0;
}

int caps_mask_for(char *const *add, char *const *drop, uint64_t *ret, berth_error **err)
{
        uint64_t m = caps_default_mask();
        if (apply_names(drop, false, &m, err) < 0 || apply_names(add, true, &m, err) < 0)
                return -1;
        *ret = m;
        return 0;
}

/* Runs in the command process while it is still root inside (dropping
 * from the bounding set needs CAP_SETPCAP). last_cap comes from
 * /proc/sys/kernel/cap_last_cap, read before pivot_root. */
int caps_bound(uint64_t keep, int last_cap, berth_error **err)
{
        for (int c = 0; c <= last_cap; c++)
                if (!(keep & (1ull << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                        return berth_err(err, errno, "drop capability %d from the bounding set", c);
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return berth_err(err, errno, "clear ambient capabilities");
        return 0;
}

/* After the switch to the command's user: a non-root user already lost
 * every capability in setresuid. */
int caps_apply(uint64_t keep, bool root, berth_error **err)
{
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = {};
        if (root) {
                d[0].effective = d[0].permitted = (uint32_t) keep;
                d[1].effective = d[1].permitted = (uint32_t) (keep >> 32);
        }
        if (syscall(SYS_capset, &h, d) < 0)
                return berth_err(err, errno, "capset");
        return 0;
}

int sandbox_caps_mask(char *const *add, char *const *drop, uint64_t *ret, berth_error **err)
{
        return caps_mask_for(add, drop, ret, err);
}
