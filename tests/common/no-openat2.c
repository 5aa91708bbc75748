/* no-openat2 CMD ARGS...: run CMD where openat2() fails with ENOSYS. */
#include <stdio.h>
#include <string.h>

#include "no-openat2.h"

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "usage: no-openat2 CMD [ARG...]\n");
                return 125;
        }
        if (no_openat2_install() < 0) {
                fprintf(stderr, "no-openat2: seccomp: %s\n", strerror(errno));
                return 125;
        }
        execvp(argv[1], argv + 1);
        fprintf(stderr, "no-openat2: %s: %s\n", argv[1], strerror(errno));
        return 127;
}
