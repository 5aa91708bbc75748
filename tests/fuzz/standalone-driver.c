/* Replays a corpus through LLVMFuzzerTestOneInput without libFuzzer, so the
 * normal test run covers every input the fuzzer ever found interesting. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(int dirfd, const char *name)
{
        _cleanup_free_ char *buf = NULL;
        _cleanup_error_ berth_error *err = NULL;
        size_t len;
        if (read_file_bounded(dirfd, name, 64u << 20, "corpus file", &buf, &len, &err) < 0) {
                _cleanup_free_ char *t = berth_error_text(err);
                fprintf(stderr, "fuzz replay: %s\n", t);
                return -1;
        }
        LLVMFuzzerTestOneInput((const uint8_t *) buf, len);
        return 0;
}

static int replay_dir(const char *path, size_t *count)
{
        _cleanup_closedir_ DIR *d = opendir(path);
        if (!d) {
                /* A single file. */
                if (replay_file(AT_FDCWD, path) < 0)
                        return -1;
                ++*count;
                return 0;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                if (replay_file(dirfd(d), de->d_name) < 0)
                        return -1;
                ++*count;
        }
        return 0;
}

int main(int argc, char **argv)
{
        size_t count = 0;
        for (int i = 1; i < argc; i++)
                if (replay_dir(argv[i], &count) < 0)
                        return 1;
        if (count == 0) {
                fprintf(stderr, "fuzz replay: no inputs found\n");
                return 1;
        }
        printf("fuzz replay: %zu inputs\n", count);
        return 0;
}
