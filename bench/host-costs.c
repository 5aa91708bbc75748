/* What this machine charges for the kernel work a sandbox start is made of.
 * Start-up ratios against bwrap and crun differ between machines mostly by
 * these costs, so bench/host.sh prints them with the other figures.
 * Usage: host-costs (prints "label<TAB>microseconds" lines). */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096

static double now_us(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double) t.tv_sec * 1e6 + (double) t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
        qsort(v, (size_t) n, sizeof(*v), cmp);
        return v[n / 2];
}

static void *map(size_t pages, int flags)
{
        void *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
        if (p == MAP_FAILED) {
                perror("mmap");
                exit(1);
        }
        return p;
}

static double syscall_cost(void)
{
        const int n = 100000;
        double t = now_us();
        for (int i = 0; i < n; i++)
                syscall(SYS_getppid);
        return (now_us() - t) / n;
}

static double anon_fault_cost(void)
{
        const int n = 2000;
        volatile char *p = map(n, 0);
        double t = now_us();
        for (int i = 0; i < n; i++)
                p[(size_t) i * PAGE] = 1;
        t = (now_us() - t) / n;
        munmap((void *) p, (size_t) n * PAGE);
        return t;
}

/* In a forked child: the first read of a page the parent had written, then
 * the first write to one (copy-on-write). */
static void after_fork_costs(double *ret_read, double *ret_cow)
{
        const int n = 1000;
        volatile char *p = map(n, MAP_POPULATE);
        for (int i = 0; i < n; i++)
                p[(size_t) i * PAGE] = 1;
        double *shared = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        pid_t pid = fork();
        if (pid == 0) {
                long sum = 0;
                double t = now_us();
                for (int i = 0; i < n / 2; i++)
                        sum += p[(size_t) i * PAGE];
                double u = now_us();
                for (int i = n / 2; i < n; i++)
                        p[(size_t) i * PAGE] = 2;
                shared[0] = (u - t) / (n / 2);
                shared[1] = (now_us() - u) / (n / 2);
                _exit(sum == n / 2 ? 0 : 1);
        }
        waitpid(pid, NULL, 0);
        *ret_read = shared[0];
        *ret_cow = shared[1];
        munmap(shared, PAGE);
        munmap((void *) p, (size_t) n * PAGE);
}

static double fork_exit_cost(void)
{
        double v[101];
        for (int i = 0; i < 101; i++) {
                double t = now_us();
                pid_t pid = fork();
                if (pid == 0)
                        _exit(0);
                waitpid(pid, NULL, 0);
                v[i] = now_us() - t;
        }
        return median(v, 101);
}

/* How long a new child waits before it runs on the other CPU while this
 * one stays busy: the wake-up latency of an idle CPU. */
static double wake_latency(void)
{
        if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
                return -1;
        volatile double *shared = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        double v[41];
        for (int i = 0; i < 41; i++) {
                shared[0] = 0;
                usleep(2000);
                pid_t pid = fork();
                if (pid == 0) {
                        shared[0] = now_us();
                        _exit(0);
                }
                double t = now_us();
                int cpu = sched_getcpu();
                cpu_set_t other;
                CPU_ZERO(&other);
                CPU_SET(cpu == 0 ? 1 : 0, &other);
                sched_setaffinity(pid, sizeof(other), &other);
                while (shared[0] == 0 && now_us() - t < 20000)
                        ;
                v[i] = shared[0] - t;
                waitpid(pid, NULL, 0);
        }
        munmap((void *) shared, PAGE);
        return median(v, 41);
}

int main(void)
{
        double rd, cow;
        printf("syscall (getppid)\t%.2f\n", syscall_cost());
        printf("page fault, new anonymous page\t%.2f\n", anon_fault_cost());
        after_fork_costs(&rd, &cow);
        printf("page fault after fork, first read of an inherited page\t%.2f\n", rd);
        printf("page fault after fork, copy-on-write\t%.2f\n", cow);
        printf("fork + exit + wait, small process\t%.1f\n", fork_exit_cost());
        double w = wake_latency();
        if (w >= 0)
                printf("new child started on the other (idle) CPU after\t%.1f\n", w);
        return 0;
}
