/* guard.c - the stack overflow report. A coroutine that runs off its stack
 * hits the guard page below it; this SIGSEGV handler, running on an alternate
 * signal stack (sigaltstack(2): the faulting stack has no room left), names
 * the handler's peer on stderr and lets the process die of SIGSEGV as it
 * would have anyway. Other faults go to the handler installed before. */
#include "coro.h"
#include "sanitizer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef SS_ASAN

#define ALTSTACK_SIZE (64 * 1024)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int install_err;
static struct sigaction prev_segv;

/* This thread's alternate stack, if we set it; depth counts nested inits.
 * cppcheck 2.10 does not see members used through a _Thread_local object. */
struct altstack {
    int depth; // cppcheck-suppress unusedStructMember
    void *mem; // cppcheck-suppress unusedStructMember
};
static _Thread_local struct altstack alt;

/* async-signal-safe helpers: no stdio, no snprintf (signal-safety(7)). */
static size_t put_str(char *buf, size_t at, size_t cap, const char *s)
{
    while (s && *s && at + 1 < cap) buf[at++] = *s++;
    return at;
}

static size_t put_uint(char *buf, size_t at, size_t cap, size_t v)
{
    char digits[24];
    int n = 0;
    do digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < (int)sizeof digits);
    while (n > 0 && at + 1 < cap) buf[at++] = digits[--n];
    return at;
}

static void report(const ss__coro *co)
{
    char msg[512], label[256] = "";
    if (co->label_fn) co->label_fn(co->label_arg, label, sizeof label);
    size_t n = put_str(msg, 0, sizeof msg, "socketserver: stack overflow in handler for ");
    n = put_str(msg, n, sizeof msg, label[0] ? label : "(unknown peer)");
    n = put_str(msg, n, sizeof msg, " (stack of ");
    n = put_uint(msg, n, sizeof msg, (size_t)(ss__stack_hi(co->stack) - ss__stack_lo(co->stack)));
    n = put_str(msg, n, sizeof msg, " bytes: raise stack_size)\n");
    ssize_t w = write(STDERR_FILENO, msg, n);
    (void)w; /* nothing to do about a failed report */
}

/* Dies of sig with the default action: it is still blocked while we run, so
 * raise(3) leaves it pending and it kills the process when the handler
 * returns (for a real fault the faulting instruction would re-fault anyway). */
static void die_default(int sig)
{
    struct sigaction dfl = {0};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    raise(sig);
}

static void chain(int sig, siginfo_t *si, void *uctx)
{
    if (prev_segv.sa_flags & SA_SIGINFO) {
        prev_segv.sa_sigaction(sig, si, uctx);
    } else if (prev_segv.sa_handler == SIG_IGN && si->si_code <= 0) {
        return; /* sent by kill(2) to a process that ignores it */
    } else if (prev_segv.sa_handler == SIG_DFL || prev_segv.sa_handler == SIG_IGN) {
        die_default(sig);
    } else {
        prev_segv.sa_handler(sig);
    }
}

/* A stack overflow cannot be recovered from: the handler's frames are torn
 * mid-call, locks it held stay held, and nothing can unwind it safely. So the
 * handler only reports and the process dies as it would have. */
static void on_segv(int sig, siginfo_t *si, void *uctx)
{
    const ss__coro *co = ss__coro_current();
    if (si->si_code > 0 && co && co->stack && ss__stack_in_guard(co->stack, si->si_addr)) {
        report(co);
        die_default(sig);
        return;
    }
    chain(sig, si, uctx);
}

static void install(void)
{
    struct sigaction sa = {0};
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &prev_segv) != 0) install_err = -errno;
}

/* Gives the thread an alternate signal stack unless it already has one (an
 * application's own is kept). */
static int altstack_init(void)
{
    stack_t old;
    if (sigaltstack(NULL, &old) != 0) return -errno;
    if (!(old.ss_flags & SS_DISABLE)) return 0;
    void *mem =
        mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return -errno;
    stack_t ss = {.ss_sp = mem, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        int e = -errno;
        munmap(mem, ALTSTACK_SIZE);
        return e;
    }
    alt.mem = mem;
    return 0;
}

int ss__coro_guard_thread_init(void)
{
    pthread_once(&once, install);
    if (install_err) return install_err;
    if (alt.depth++ > 0) return 0;
    int rc = altstack_init();
    if (rc < 0) alt.depth = 0;
    return rc;
}

void ss__coro_guard_thread_fini(void)
{
    if (alt.depth == 0 || --alt.depth > 0 || !alt.mem) return;
    stack_t off = {.ss_flags = SS_DISABLE};
    sigaltstack(&off, NULL);
    munmap(alt.mem, ALTSTACK_SIZE);
    alt.mem = NULL;
}

#else /* SS_ASAN */

/* ASan has its own SIGSEGV handler on its own alternate stack and reports
 * "stack-overflow" with a stack trace: better than ours, which would take
 * its place. So under ASan nothing is installed. */
int ss__coro_guard_thread_init(void)
{
    return 0;
}

void ss__coro_guard_thread_fini(void) {}

#endif /* SS_ASAN */
