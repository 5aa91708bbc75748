/* User and group id maps. Rootless: the sandbox's root is the invoking user,
 * plus the user's subordinate range when newuidmap/newgidmap can write it.
 * As root: berth's own ranges, above every range useradd hands out, so the
 * sandbox's root is never host root and no host user shares its ids. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "sandbox-private.h"

extern char **environ;

/* Sandbox ids 0..65535 (an image's usual owners, and the owners of kept
 * writable layers) are host ids 0x70000000..0x7000ffff: above useradd's
 * SUB_UID_MAX, below systemd's container and foreign ranges' end. The
 * ids above, up to 65536 + 2^31 - 2, are host ids 2^31..2^32-2, which no
 * user database hands out (tools that take uid_t as signed break there). */
#define ROOT_RANGE_BASE 0x70000000u
#define ROOT_RANGE_COUNT 65536u
#define ROOT_HIGH_COUNT (0xffffffffu - IDMAP_HIGH_BASE) /* (uid_t) -1 is not an id */

/* "name:start:count" or "uid:start:count" for this user. Returns 1 when found. */
static int subid_lookup(const char *file, const char *user, uid_t id, uint32_t *ret_start, uint32_t *ret_count)
{
        _cleanup_fclose_ FILE *f = fopen(file, "re");
        char line[512];
        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f)) {
                char name[256];
                unsigned long start, count;
                if (sscanf(line, "%255[^:]:%lu:%lu", name, &start, &count) != 3 || count == 0)
                        continue;
                char idstr[16];
                snprintf(idstr, sizeof(idstr), "%u", (unsigned) id);
                if ((user && streq(name, user)) || streq(name, idstr)) {
                        *ret_start = (uint32_t) start;
                        *ret_count = (uint32_t) (count > 65535 ? 65535 : count);
                        return 1;
                }
        }
        return 0;
}

static bool have_helpers(void)
{
        return access("/usr/bin/newuidmap", X_OK) == 0 && access("/usr/bin/newgidmap", X_OK) == 0;
}

static int plan_make(struct idmap_plan *ret, berth_error **err)
{
        struct idmap_plan p = { .host_uid = geteuid(), .host_gid = getegid(), .count = 1 };
        if (p.host_uid == 0) {
                p.as_root = true;
                p.uid_base = p.gid_base = ROOT_RANGE_BASE;
                p.count = ROOT_RANGE_COUNT;
                p.high_count = ROOT_HIGH_COUNT;
                *ret = p;
                return 0;
        }
        p.uid_base = p.host_uid;
        p.gid_base = p.host_gid;
        _cleanup_free_ char *name = NULL;
        _cleanup_error_ berth_error *e = NULL;
        /* No name: no subordinate range is looked up by name, only by uid. */
        (void) berth_passwd(p.host_uid, &name, NULL, &e);
        uint32_t us, un, gs, gn;
        if (have_helpers() && subid_lookup("/etc/subuid", name, p.host_uid, &us, &un) &&
            subid_lookup("/etc/subgid", name, p.host_uid, &gs, &gn)) {
                p.use_helpers = true;
                p.count = 1 + (un < gn ? un : gn);
                p.uid_base = us; /* ids 1.. come from here; 0 stays the user */
                p.gid_base = gs;
        }
        *ret = p;
        return 0;
}

/* Read /etc/subuid and /etc/subgid once per process (envs asks before each
 * folder it prepares, sandbox_run once more); the plan is redone if our ids
 * changed. */
int idmap_plan_make(struct idmap_plan *ret, berth_error **err)
{
        static struct idmap_plan cached;
        static bool have;
        if (!have || cached.host_uid != geteuid() || cached.host_gid != getegid()) {
                if (plan_make(&cached, err) < 0)
                        return -1;
                have = true;
        }
        *ret = cached;
        return 0;
}

static int write_proc(pid_t pid, const char *file, const char *text, berth_error **err)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, file);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write_all(fd, text, strlen(text)) < 0)
                return berth_err(err, errno, "write %s `%s`", path, text);
        return 0;
}

/* newuidmap/newgidmap are setuid programs: start them with posix_spawn
 * (no copy of our page tables), stdin and stdout on /dev/null, no blocked
 * signals. */
static int helper_start(const char *helper, pid_t pid, unsigned self, unsigned base, unsigned count, pid_t *ret,
                        berth_error **err)
{
        char spid[16], s0[16], sb[16], sc[16];
        snprintf(spid, sizeof(spid), "%d", (int) pid);
        snprintf(s0, sizeof(s0), "%u", self);
        snprintf(sb, sizeof(sb), "%u", base);
        snprintf(sc, sizeof(sc), "%u", count - 1);
        char *argv[] = { (char *) helper, spid, "0", s0, "1", "1", sb, sc, NULL };
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t at;
        sigset_t none;
        sigemptyset(&none);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR, 0);
        posix_spawn_file_actions_adddup2(&fa, 0, 1);
        posix_spawnattr_init(&at);
        posix_spawnattr_setsigmask(&at, &none);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
        int r = posix_spawn(ret, helper, &fa, &at, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&at);
        if (r != 0)
                return berth_err(err, r, "start %s", helper);
        return 0;
}

static int helper_wait(const char *helper, pid_t h, berth_error **err)
{
        int st;
        while (waitpid(h, &st, 0) < 0)
                if (errno != EINTR)
                        return berth_err(err, errno, "wait %s", helper);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                return berth_err(err, 0, "%s failed (status %d): check /etc/subuid and /etc/subgid", helper, st);
        return 0;
}

/* "0 BASE COUNT", and as root a second line for the high range. */
static void map_text(char *buf, size_t size, const struct idmap_plan *p, uint32_t base)
{
        int n = snprintf(buf, size, "0 %u %u\n", (unsigned) base, (unsigned) p->count);
        if (p->high_count)
                snprintf(buf + n, size - (size_t) n, "%u %u %u\n", (unsigned) p->count, IDMAP_HIGH_BASE,
                         (unsigned) p->high_count);
}

int idmap_write(const struct idmap_plan *p, pid_t pid, berth_error **err)
{
        char buf[128];
        if (p->use_helpers) {
                /* Both at once: each costs an exec of a setuid program. */
                static const char *const uidmap = "/usr/bin/newuidmap", *const gidmap = "/usr/bin/newgidmap";
                pid_t u, g;
                if (helper_start(uidmap, pid, p->host_uid, p->uid_base, p->count, &u, err) < 0)
                        return -1;
                if (helper_start(gidmap, pid, p->host_gid, p->gid_base, p->count, &g, err) < 0) {
                        _cleanup_error_ berth_error *ignored = NULL;
                        helper_wait(uidmap, u, &ignored);
                        return -1;
                }
                int ru = helper_wait(uidmap, u, err);
                _cleanup_error_ berth_error *later = NULL;
                int rg = helper_wait(gidmap, g, ru < 0 ? &later : err);
                return ru < 0 || rg < 0 ? -1 : 0;
        }
        map_text(buf, sizeof(buf), p, p->uid_base);
        if (write_proc(pid, "uid_map", buf, err) < 0)
                return -1;
        if (!p->as_root && write_proc(pid, "setgroups", "deny", err) < 0)
                return -1;
        map_text(buf, sizeof(buf), p, p->gid_base);
        return write_proc(pid, "gid_map", buf, err);
}

uint32_t idmap_host_uid(const struct idmap_plan *p, uint32_t id)
{
        if (p->use_helpers)
                return id == 0 ? p->host_uid : p->uid_base + id - 1;
        return id < p->count ? p->uid_base + id : IDMAP_HIGH_BASE + (id - p->count);
}

uint32_t idmap_host_gid(const struct idmap_plan *p, uint32_t id)
{
        if (p->use_helpers)
                return id == 0 ? p->host_gid : p->gid_base + id - 1;
        return id < p->count ? p->gid_base + id : IDMAP_HIGH_BASE + (id - p->count);
}

int idmap_userns_fd(uid_t disk_uid, uid_t shown_uid, gid_t disk_gid, gid_t shown_gid, int *ret_fd,
                    berth_error **err)
{
        return idmap_userns_fd_range(disk_uid, shown_uid, disk_gid, shown_gid, 1, ret_fd, err);
}

static int hold_userns(void *arg)
{
        (void) arg;
        for (;;)
                pause();
        return 0;
}

/* A process only holds the namespace until we opened it; it never needs to
 * run. */
static pid_t clone_userns_holder(void)
{
        pid_t pid = (pid_t) syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid == 0)
                _exit(hold_userns(NULL));
        return pid;
}

int idmap_userns_fd_range(uid_t disk_uid, uid_t shown_uid, gid_t disk_gid, gid_t shown_gid, uint32_t count,
                          int *ret_fd, berth_error **err)
{
        pid_t pid = clone_userns_holder();
        if (pid < 0)
                return berth_err(err, errno, "clone a user namespace for an idmapped mount");
        char buf[64];
        int r = -1, fd = -1;
        snprintf(buf, sizeof(buf), "%u %u %u\n", (unsigned) disk_uid, (unsigned) shown_uid, (unsigned) count);
        if (write_proc(pid, "uid_map", buf, err) == 0) {
                snprintf(buf, sizeof(buf), "%u %u %u\n", (unsigned) disk_gid, (unsigned) shown_gid,
                         (unsigned) count);
                if (write_proc(pid, "gid_map", buf, err) == 0) {
                        snprintf(buf, sizeof(buf), "/proc/%d/ns/user", (int) pid);
                        fd = open(buf, O_RDONLY | O_CLOEXEC);
                        r = fd < 0 ? berth_err(err, errno, "open %s", buf) : 0;
                }
        }
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        if (r == 0)
                *ret_fd = fd;
        return r;
}

int sandbox_root_ids(uid_t *ret_uid, gid_t *ret_gid, berth_error **err)
{
        struct idmap_plan p;
        if (idmap_plan_make(&p, err) < 0)
                return -1;
        *ret_uid = p.use_helpers ? p.host_uid : p.uid_base;
        *ret_gid = p.use_helpers ? p.host_gid : p.gid_base;
        return 0;
}
