/* coro.h - stackful coroutines for the event mode: mmap'd stacks with a guard
 * page and a free list (stack.c), the switch with its sanitizer annotations
 * (coro.c), the machine-dependent context switch (ctx_*.S, ctx_ucontext.c) and
 * the stack overflow report (guard.c). Single-threaded: a coroutine runs, and
 * is switched to, only on the thread that created it. */
#ifndef SS_EVENT_CORO_H
#define SS_EVENT_CORO_H

#include <stddef.h>

/* ------------------------------------------------- machine-dependent */

/* Prepares a context that, once switched to, calls entry(arg) on the stack
 * [lo, lo + size) and returns its handle (what ss__coro_ctx_switch() takes).
 * entry must never return. The assembly versions keep the handle as the saved
 * stack pointer; the ucontext version carves its ucontext_t from the top of
 * the stack. */
void *ss__coro_ctx_make(void *lo, size_t size, void (*entry)(void *), void *arg);

/* Saves the running context into *from and resumes to. *from == NULL is the
 * thread's own (native) context, never made by ss__coro_ctx_make(). */
void ss__coro_ctx_switch(void **from, void *to);

/* ------------------------------------------------------------ stacks */

/* One mapping: a guard page at its low end, the usable stack above it, and
 * this header in the top bytes of the stack (so nothing is malloc'd). */
typedef struct ss__stack {
    struct ss__stack *next; /* free list */
    char *map;              /* start of the mapping: the guard page */
    size_t maplen;          /* guard + usable bytes */
    size_t guard;           /* bytes of guard at map */
    unsigned vg_id;         /* valgrind stack id */
} ss__stack;

/* A per-loop cache of stacks of one size. Not thread-safe. */
typedef struct ss__stack_pool {
    ss__stack *free;
    int nfree, maxfree;
    size_t size; /* usable bytes of each cached stack */
} ss__stack_pool;

#define SS__STACK_DEFAULT  (64 * 1024) /* event mode's default stack */
#define SS__STACK_MIN      (16 * 1024) /* smaller requests are raised to it */
#define SS__STACK_FREE_MAX 256         /* default cap of a pool's free list */

void ss__stack_pool_init(ss__stack_pool *p, int maxfree);
/* Unmaps every cached stack. */
void ss__stack_pool_drain(ss__stack_pool *p);
/* A stack of at least size usable bytes: from the free list, else mmap'd.
 * Returns NULL with errno set (ENOMEM) on failure. */
ss__stack *ss__stack_get(ss__stack_pool *p, size_t size);
/* Returns a stack to the pool (unmapped if the free list is full). */
void ss__stack_put(ss__stack_pool *p, ss__stack *st);
/* The usable range of st: [lo, hi). The header sits just below hi. */
char *ss__stack_lo(const ss__stack *st);
char *ss__stack_hi(const ss__stack *st);
/* Whether addr lies in st's guard page. Async-signal-safe. */
int ss__stack_in_guard(const ss__stack *st, const void *addr);

/* -------------------------------------------------------- coroutines */

typedef void ss__coro_fn(void *arg);
/* Writes a coroutine's label into buf (cap bytes, NUL-terminated). Called in
 * the SIGSEGV handler: it must be async-signal-safe (signal-safety(7)). */
typedef void ss__coro_label_fn(const void *arg, char *buf, size_t cap);

typedef struct ss__coro ss__coro;
struct ss__coro {
    void *ctx;         /* machine context handle (see ss__coro_ctx_make) */
    ss__stack *stack;  /* NULL: the thread's own context */
    ss__coro *exit_to; /* where the coroutine goes when fn returns */
    ss__coro_fn *fn;
    void *arg;
    ss__coro_label_fn *label_fn; /* the stack overflow report's label, made */
    const void *label_arg;       /* from label_arg then; NULL: none */
    const void *asan_bottom;     /* ASan: this coroutine's stack */
    size_t asan_size;
    void *asan_fake;  /* ASan: its fake stack while switched out */
    void *tsan_fiber; /* TSan: its fiber */
};

/* Makes co stand for the calling thread's own context, the one the loop
 * runs on. Every other coroutine is switched to from, and back to, one. */
void ss__coro_init_main(ss__coro *co);

/* Creates a coroutine on a stack from pool with at least stack_size usable
 * bytes (0: SS__STACK_DEFAULT). The coroutine object itself takes objsize
 * bytes (>= sizeof(ss__coro)) at the top of its stack, so a caller may embed
 * ss__coro as the first member of a larger struct. When fn returns, the
 * coroutine switches to exit_to for good; it must then be destroyed from
 * another coroutine. Returns the object or NULL (errno ENOMEM). */
ss__coro *ss__coro_create(ss__stack_pool *pool, size_t stack_size, size_t objsize, ss__coro_fn *fn,
                          void *arg, ss__coro *exit_to);

/* Gives co's stack back to pool. co must not be running, and its storage
 * (on that stack) is gone afterwards. */
void ss__coro_destroy(ss__stack_pool *pool, ss__coro *co);

/* Switches from the running coroutine `from` to `to`; returns when someone
 * switches back to `from`. */
void ss__coro_switch(ss__coro *from, ss__coro *to);

/* The coroutine running on this thread, as last recorded by
 * ss__coro_switch() (NULL before any switch). */
ss__coro *ss__coro_current(void);

/* The label named by the stack overflow report ("tcp://127.0.0.1:4242"). The
 * text must outlive the coroutine or the next call. */
void ss__coro_set_label(ss__coro *co, const char *label);
/* The label made by fn(arg, ...) when the report is printed: nothing is
 * formatted unless a coroutine overflows. arg must outlive the coroutine. */
void ss__coro_set_label_fn(ss__coro *co, ss__coro_label_fn *fn, const void *arg);

/* ------------------------------------------------ stack overflow report */

/* Installs, once per process, the SIGSEGV handler that names the coroutine
 * whose guard page was hit, and gives the calling thread an alternate signal
 * stack (a fault on a full stack cannot run a handler on that stack). Call it
 * on each loop thread; pair each call with ss__coro_guard_thread_fini().
 * A no-op under ASan, which reports stack overflows itself. Returns 0 or a
 * negative errno. */
int ss__coro_guard_thread_init(void);
void ss__coro_guard_thread_fini(void);

#endif /* SS_EVENT_CORO_H */
