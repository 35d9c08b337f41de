/* ctx_ucontext.c - the portable context switch: getcontext/makecontext/
 * swapcontext (makecontext(3)). Used on CPUs without an assembly switch, or
 * with -DSS_EVENT_UCONTEXT=ON. About 80x slower than the assembly switch,
 * because glibc's swapcontext saves and restores the signal mask with a
 * system call each time (docs/design.md, "Measured facts"). */
#include "coro.h"

#include <stdint.h>
#include <stdlib.h>
#include <ucontext.h>

/* Kept in the top bytes of the coroutine's own stack. */
typedef struct uc_start {
    ucontext_t uc;
    void (*entry)(void *);
    void *arg;
} uc_start;

/* The thread's own context: the one switch saves into when *from is NULL. */
static _Thread_local ucontext_t native;

/* makecontext(3) passes int arguments only: the pointer travels in two
 * halves, the usual portable way. */
static void uc_entry(unsigned hi, unsigned lo)
{
    uc_start *s = (uc_start *)(((uintptr_t)hi << 16 << 16) | (uintptr_t)lo);
    s->entry(s->arg);
    abort(); /* entry never returns (coro.h) */
}

void *ss__coro_ctx_make(void *lo, size_t size, void (*entry)(void *), void *arg)
{
    uintptr_t top = ((uintptr_t)lo + size - sizeof(uc_start)) & ~(uintptr_t)63;
    uc_start *s = (uc_start *)top;
    uintptr_t p = (uintptr_t)s;
    s->entry = entry;
    s->arg = arg;
    if (getcontext(&s->uc) != 0) abort();
    s->uc.uc_stack.ss_sp = lo;
    s->uc.uc_stack.ss_size = top - (uintptr_t)lo;
    s->uc.uc_link = NULL;
    makecontext(&s->uc, (void (*)(void))uc_entry, 2, (unsigned)(p >> 16 >> 16),
                (unsigned)(p & 0xffffffffu));
    return s;
}

void ss__coro_ctx_switch(void **from, void *to)
{
    if (*from == NULL) *from = &native;
    if (swapcontext(*from, to) != 0) abort();
}
