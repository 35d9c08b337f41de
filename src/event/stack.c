/* stack.c - coroutine stacks: one mmap(2) each, a guard page at the low end,
 * and a per-loop free list, because a new mapping costs about 25 us and a
 * reused one about 16 ns (docs/design.md, "Measured facts"). */
#include "coro.h"
#include "sanitizer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

/* MADV_GUARD_INSTALL (Linux 6.13, madvise(2)) turns pages into guard regions
 * without splitting the mapping, so 64k coroutines do not hit
 * vm.max_map_count as mprotect'd guards do. Older headers lack the value. */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

/* MADV_GUARD_INSTALL's state in this process: untried, working, or not
 * (EINVAL from kernels before 6.13, or an emulator such as qemu-user that
 * returns success for advice it ignores). */
enum { GUARD_UNTRIED, GUARD_WORKS, GUARD_BROKEN };
static atomic_int guard_install_state = GUARD_UNTRIED;

static size_t page_size(void)
{
    static atomic_size_t cached;
    size_t p = atomic_load_explicit(&cached, memory_order_relaxed);
    if (p == 0) {
        long v = sysconf(_SC_PAGESIZE);
        p = v > 0 ? (size_t)v : 4096;
        atomic_store_explicit(&cached, p, memory_order_relaxed);
    }
    return p;
}

static size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

/* Whether the guard at map really faults: the kernel copying from it for
 * write(2) must fail with EFAULT. Checked once per process. */
static int guard_faults(const char *map)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return 1; /* cannot tell: trust it */
    ssize_t n = write(p[1], map, 1);
    int fault = n < 0 && errno == EFAULT;
    close(p[0]);
    close(p[1]);
    return fault;
}

static int try_guard_install(char *map, size_t len)
{
    if (madvise(map, len, MADV_GUARD_INSTALL) != 0) return errno == EINVAL ? 1 : -1;
    if (atomic_load_explicit(&guard_install_state, memory_order_relaxed) == GUARD_WORKS) return 0;
    if (!guard_faults(map)) return 1;
    atomic_store_explicit(&guard_install_state, GUARD_WORKS, memory_order_relaxed);
    return 0;
}

static int install_guard(char *map, size_t len)
{
    if (atomic_load_explicit(&guard_install_state, memory_order_relaxed) != GUARD_BROKEN) {
        int rc = try_guard_install(map, len);
        if (rc <= 0) return rc;
        atomic_store_explicit(&guard_install_state, GUARD_BROKEN, memory_order_relaxed);
    }
    return mprotect(map, len, PROT_NONE);
}

char *ss__stack_hi(const ss__stack *st)
{
    return (char *)st; /* the header sits at the very top */
}

char *ss__stack_lo(const ss__stack *st)
{
    return st->map + st->guard;
}

int ss__stack_in_guard(const ss__stack *st, const void *addr)
{
    uintptr_t a = (uintptr_t)addr, lo = (uintptr_t)st->map;
    return a >= lo && a < lo + st->guard;
}

/* MAP_NORESERVE: only the pages a handler touches count (docs/design.md: about
 * 4 KiB per idle connection). MAP_STACK documents intent (mmap(2)). */
static ss__stack *stack_map(size_t size)
{
    size_t guard = page_size();
    size_t len = guard + size;
    char *map = mmap(NULL, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED) return NULL;
    if (install_guard(map, guard) != 0) {
        int e = errno;
        munmap(map, len);
        errno = e;
        return NULL;
    }
    ss__stack *st = (ss__stack *)(void *)(map + len - round_up(sizeof(ss__stack), 64));
    *st = (ss__stack){.map = map, .maplen = len, .guard = guard};
    st->vg_id = SS_VG_STACK_REGISTER(map + guard, map + len);
    return st;
}

static void stack_unmap(ss__stack *st)
{
    char *map = st->map;
    size_t len = st->maplen;
    SS_VG_STACK_DEREGISTER(st->vg_id);
    munmap(map, len);
}

void ss__stack_pool_init(ss__stack_pool *p, int maxfree)
{
    *p = (ss__stack_pool){.maxfree = maxfree < 0 ? SS__STACK_FREE_MAX : maxfree};
}

void ss__stack_pool_drain(ss__stack_pool *p)
{
    while (p->free) {
        ss__stack *st = p->free;
        p->free = st->next;
        stack_unmap(st);
    }
    p->nfree = 0;
}

ss__stack *ss__stack_get(ss__stack_pool *p, size_t size)
{
    size = round_up(size < SS__STACK_MIN ? SS__STACK_MIN : size, page_size());
    if (size != p->size) {
        ss__stack_pool_drain(p); /* one size per pool: the server's */
        p->size = size;
    }
    ss__stack *st = p->free;
    if (st) {
        p->free = st->next;
        p->nfree--;
        st->next = NULL;
        return st;
    }
    st = stack_map(size);
    if (!st) errno = ENOMEM;
    return st;
}

void ss__stack_put(ss__stack_pool *p, ss__stack *st)
{
#ifdef SS_ASAN
    /* The frames of the coroutine that ran here left poisoned redzones. */
    __asan_unpoison_memory_region(ss__stack_lo(st), (size_t)(ss__stack_hi(st) - ss__stack_lo(st)));
#endif
    if (p->nfree >= p->maxfree || st->maplen - st->guard != p->size) {
        stack_unmap(st);
        return;
    }
    st->next = p->free;
    p->free = st;
    p->nfree++;
}
