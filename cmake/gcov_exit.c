/* gcov_exit.c - coverage builds only (SS_COVERAGE): linked with
 * -Wl,--wrap=_exit so that a process ending in _exit(2) - a fork-mode child,
 * a prefork worker, a test's server process - writes its gcov counters first;
 * gcc writes them from an atexit handler, which _exit skips by design. */
#include <unistd.h>

void __gcov_dump(void);             /* libgcov (gcc's <gcov.h>) */
_Noreturn void __real__exit(int status); /* NOLINT(bugprone-reserved-identifier): ld --wrap */
_Noreturn void __wrap__exit(int status); /* NOLINT(bugprone-reserved-identifier): ld --wrap */

_Noreturn void __wrap__exit(int status) /* NOLINT(bugprone-reserved-identifier) */
{
    __gcov_dump();
    __real__exit(status);
}
