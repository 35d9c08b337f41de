/* replay.c - main() of a fuzz target built without libFuzzer (any compiler):
 * runs every file named on the command line, or found in a directory named
 * there, through LLVMFuzzerTestOneInput, in name order. ctest registers one
 * per target over its committed corpus (fuzz.replay.<target>), so every seed
 * and every past crash is replayed on each run. Also checks that no input
 * leaks a descriptor. */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The lowest free descriptor: an input that leaks one changes it. */
static int lowest_free_fd(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) close(fd);
    return fd;
}

/* Runs one file; the buffer has exactly its size, as libFuzzer's has, so
 * AddressSanitizer sees a read past the end. */
static int run_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    size_t got = 0;
    while (buf && got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (!buf || got != n) {
        fprintf(stderr, "replay: %s: short read\n", path);
        free(buf);
        return -1;
    }
    int before = lowest_free_fd();
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    int after = lowest_free_fd();
    if (after != before) {
        fprintf(stderr, "replay: %s leaked a descriptor (%d free before, %d after)\n", path, before,
                after);
        return -1;
    }
    return 0;
}

static int skip_entry(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

/* Returns the number of files run, or -1 if one failed to run. */
static int run_dir(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, skip_entry, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int count = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        int k = snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        struct stat st;
        if (k > 0 && (size_t)k < sizeof path && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (count >= 0 && run_file(path) == 0)
                count++;
            else
                count = -1;
        }
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv)
{
    int total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int n = stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode) ? run_dir(argv[i])
                                                               : (run_file(argv[i]) == 0 ? 1 : -1);
        if (n < 0) return 1;
        total += n;
    }
    if (total == 0) {
        fprintf(stderr, "replay: no input files (usage: %s FILE|DIR...)\n", argv[0]);
        return 1;
    }
    fprintf(stderr, "replay: %d input(s) passed\n", total);
    return 0;
}
