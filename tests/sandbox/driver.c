/* Test driver: builds a sandbox_config from flags and runs it, exiting as
 * `berth run` does (the command's status, or 125/126/127). Lets the bats
 * tests and the benchmark exercise sandbox/ without a spec. */
#include <getopt.h>
#include <stdio.h>

#include "sandbox/sandbox.h"

#define MAX_ITEMS 32

struct items {
        char *v[MAX_ITEMS + 1];
        size_t n;
};

static void push(struct items *it, char *s)
{
        if (it->n >= MAX_ITEMS) {
                fprintf(stderr, "driver: too many items\n");
                exit(125);
        }
        it->v[it->n++] = s;
}

static void add_mount(struct sandbox_mount *ms, size_t *n, const char *spec, bool tmpfs, bool own)
{
        char *s = xstrdup(spec);
        struct sandbox_mount m = { .type = tmpfs ? SANDBOX_MOUNT_TMPFS : SANDBOX_MOUNT_BIND, .owned_by_source = own };
        char *a = strtok(s, ":"), *b = strtok(NULL, ":"), *c = strtok(NULL, ":");
        if (tmpfs) {
                m.target = a;
                m.size = b ? strtoull(b, NULL, 10) : 0;
        } else {
                m.source = a;
                m.target = b;
                m.read_only = c && streq(c, "ro");
        }
        if (*n >= MAX_ITEMS)
                exit(125);
        ms[(*n)++] = m;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "root", required_argument, NULL, 'r' }, { "lower", required_argument, NULL, 'l' },
                { "upper", required_argument, NULL, 'u' }, { "work", required_argument, NULL, 'w' },
                { "mnt", required_argument, NULL, 'm' },   { "bind", required_argument, NULL, 'b' },
                { "own-bind", required_argument, NULL, 'B' }, { "tmpfs", required_argument, NULL, 't' },
                { "net", required_argument, NULL, 'n' },   { "seccomp", required_argument, NULL, 's' },
                { "memory", required_argument, NULL, 'M' }, { "pids", required_argument, NULL, 'P' },
                { "nofile", required_argument, NULL, 'N' }, { "millicpus", required_argument, NULL, 'C' },
                { "user", required_argument, NULL, 'U' },  { "env", required_argument, NULL, 'e' },
                { "cwd", required_argument, NULL, 'c' },   { "tty", no_argument, NULL, 'T' },
                { "cache", required_argument, NULL, 'k' }, { "ro", no_argument, NULL, 'R' },
                { "cap-add", required_argument, NULL, 'a' }, { "cap-drop", required_argument, NULL, 'd' },
                { "hostname", required_argument, NULL, 'H' }, { "volatile", no_argument, NULL, 'V' }, {},
        };
        /* loopback only unless --network private asks for pasta */
        struct sandbox_config c = { .network = SANDBOX_NET_NONE };
        struct items lower = {}, env = {}, add = {}, drop = {};
        static struct sandbox_mount mounts[MAX_ITEMS];
        size_t n_mounts = 0;
        int o;
        while ((o = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
                switch (o) {
                case 'r': c.root.dir = optarg; break;
                case 'l': push(&lower, optarg); break;
                case 'u': c.root.upperdir = optarg; break;
                case 'w': c.root.workdir = optarg; break;
                case 'm': c.root.mountpoint = optarg; break;
                case 'b': add_mount(mounts, &n_mounts, optarg, false, false); break;
                case 'B': add_mount(mounts, &n_mounts, optarg, false, true); break;
                case 't': add_mount(mounts, &n_mounts, optarg, true, false); break;
                case 'n':
                        c.network = streq(optarg, "host") ? SANDBOX_NET_HOST
                                    : streq(optarg, "none") ? SANDBOX_NET_NONE : SANDBOX_NET_PRIVATE;
                        break;
                case 's':
                        if (streq(optarg, "unconfined"))
                                c.seccomp = SANDBOX_SECCOMP_UNCONFINED;
                        else if (!streq(optarg, "default")) {
                                c.seccomp = SANDBOX_SECCOMP_PROFILE;
                                c.seccomp_profile = optarg;
                        }
                        break;
                case 'M': c.limits.memory = strtoull(optarg, NULL, 10); break;
                case 'P': c.limits.pids = strtoull(optarg, NULL, 10); break;
                case 'N': c.limits.nofile = strtoull(optarg, NULL, 10); break;
                case 'C': c.limits.millicpus = (uint32_t) strtoul(optarg, NULL, 10); break;
                case 'U': c.user = optarg; break;
                case 'e': push(&env, optarg); break;
                case 'c': c.cwd = optarg; break;
                case 'T': c.tty = true; break;
                case 'k': c.cache_dir = optarg; break;
                case 'R': c.root.read_only = true; break;
                case 'a': push(&add, optarg); break;
                case 'd': push(&drop, optarg); break;
                case 'H': c.hostname = optarg; break;
                case 'V': c.root.volatile_upper = true; break;
                default: return 125;
                }
        }
        c.root.lowerdirs = (const char *const *) lower.v;
        c.root.n_lowerdirs = lower.n;
        c.env = env.v;
        c.cap_add = add.v;
        c.cap_drop = drop.v;
        c.mounts = mounts;
        c.n_mounts = n_mounts;
        c.argv = argv + optind;
        if (getenv("DRIVER_DEBUG"))
                berth_log_set_level(BERTH_LOG_DEBUG);
        int status;
        berth_error *e = NULL;
        struct sandbox_outcome out = {};
        c.outcome = &out;
        if (sandbox_run(&c, &status, &e) < 0) {
                char *t = berth_error_text(e);
                fprintf(stderr, "driver: %s\n", t);
                free(t);
                status = e->kind == BERTH_E_NOCMD ? 127 : e->kind == BERTH_E_NOEXEC ? 126 : 125;
                berth_error_free(e);
        }
        if (out.oom_kills || out.pids_max)
                fprintf(stderr, "driver: oom_kills %llu pids_max %llu\n", (unsigned long long) out.oom_kills,
                        (unsigned long long) out.pids_max);
        return status;
}
