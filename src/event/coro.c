/* coro.c - creating, switching and destroying coroutines, with the
 * annotations ASan and TSan need to follow a stack switch (their "fiber"
 * interfaces). The machine switch itself is in ctx_*.S / ctx_ucontext.c. */
#include "coro.h"
#include "sanitizer.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/* The running coroutine, and (for ASan) the one that switched to it. Read by
 * the SIGSEGV handler in guard.c. */
static _Thread_local ss__coro *current;
static _Thread_local ss__coro *switched_from;

ss__coro *ss__coro_current(void)
{
    return current;
}

/* A label given as text: copied out when the report is made. */
static void text_label(const void *arg, char *buf, size_t cap)
{
    const char *s = arg;
    size_t n = 0;
    while (s && s[n] && n + 1 < cap) {
        buf[n] = s[n];
        n++;
    }
    if (cap > 0) buf[n] = '\0';
}

void ss__coro_set_label(ss__coro *co, const char *label)
{
    co->label_fn = label ? text_label : NULL;
    co->label_arg = label;
}

void ss__coro_set_label_fn(ss__coro *co, ss__coro_label_fn *fn, const void *arg)
{
    co->label_fn = fn;
    co->label_arg = arg;
}

void ss__coro_init_main(ss__coro *co)
{
    *co = (ss__coro){0};
#ifdef SS_TSAN
    co->tsan_fiber = __tsan_get_current_fiber();
#endif
    if (!current) current = co;
}

/* Told on arrival in a coroutine: ASan records the stack we left, so that a
 * switch back to it (the thread's own stack, whose bounds we never knew) can
 * name them. */
static void arrived(void *fake)
{
#ifdef SS_ASAN
    ss__coro *from = switched_from;
    __sanitizer_finish_switch_fiber(fake, &from->asan_bottom, &from->asan_size);
#else
    (void)fake;
#endif
}

/* Switches for good: ASan frees the fake stack when no save slot is given. */
static void leave(ss__coro *from, ss__coro *to, int for_good)
{
#ifdef SS_ASAN
    __sanitizer_start_switch_fiber(for_good ? NULL : &from->asan_fake, to->asan_bottom,
                                   to->asan_size);
#else
    (void)for_good;
#endif
#ifdef SS_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    switched_from = from;
    current = to;
    ss__coro_ctx_switch(&from->ctx, to->ctx);
}

static void coro_entry(void *arg)
{
    ss__coro *co = arg;
    arrived(NULL);
    co->fn(co->arg);
    leave(co, co->exit_to, 1);
    abort(); /* nobody switches to a finished coroutine */
}

void ss__coro_switch(ss__coro *from, ss__coro *to)
{
    leave(from, to, 0);
    arrived(from->asan_fake);
}

static size_t obj_bytes(size_t objsize)
{
    return (objsize + 63) & ~(size_t)63;
}

ss__coro *ss__coro_create(ss__stack_pool *pool, size_t stack_size, size_t objsize, ss__coro_fn *fn,
                          void *arg, ss__coro *exit_to)
{
    size_t ob = obj_bytes(objsize < sizeof(ss__coro) ? sizeof(ss__coro) : objsize);
    ss__stack *st = ss__stack_get(pool, stack_size ? stack_size : SS__STACK_DEFAULT);
    if (!st) return NULL;
    char *lo = ss__stack_lo(st), *top = ss__stack_hi(st) - ob;
    ss__coro *co = (ss__coro *)(void *)top;
    *co = (ss__coro){.stack = st, .exit_to = exit_to, .fn = fn, .arg = arg};
    co->asan_bottom = lo;
    co->asan_size = (size_t)(top - lo);
#ifdef SS_TSAN
    co->tsan_fiber = __tsan_create_fiber(0);
    if (!co->tsan_fiber) {
        ss__stack_put(pool, st);
        errno = ENOMEM;
        return NULL;
    }
#endif
    co->ctx = ss__coro_ctx_make(lo, (size_t)(top - lo), coro_entry, co);
    return co;
}

void ss__coro_destroy(ss__stack_pool *pool, ss__coro *co)
{
    ss__stack *st = co->stack;
#ifdef SS_TSAN
    __tsan_destroy_fiber(co->tsan_fiber);
#endif
    ss__stack_put(pool, st);
}
