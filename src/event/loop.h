/* loop.h - the event loop: one per thread, running coroutines ("tasks") that
 * park on a descriptor, a deadline or a cancel eventfd and are resumed when it
 * fires. It answers the library's wait seam (internal.h, ss__waiter) for the
 * code running in its tasks, so blocking-style handler code runs unchanged. */
#ifndef SS_EVENT_LOOP_H
#define SS_EVENT_LOOP_H

#include "coro.h"
#include "poller.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ss__loop ss__loop;

/* Creates a loop owned by the calling thread, which alone may run it and
 * spawn on it. Tasks get stacks of stack_size bytes (0: SS__STACK_DEFAULT).
 * Installs the stack overflow report (coro.h) for this thread.
 * Returns 0 or a negative errno. */
int ss__loop_create(ss__loop **out, size_t stack_size);
/* The same on the poller kind asks (an ss_poller_t; ss__loop_create: auto). */
int ss__loop_create_on(ss__loop **out, size_t stack_size, int poller_kind);
/* "epoll" or "io_uring": what l waits with. */
const char *ss__loop_poller_name(const ss__loop *l);

/* Frees the loop. Tasks still parked are dropped without being resumed
 * (their stacks are unmapped, nothing they own is freed): stop them first. */
void ss__loop_destroy(ss__loop *l);

/* Creates a task that will run fn(arg) on its own stack; it starts at the
 * next turn of the loop. Returns 0 or -ENOMEM. */
int ss__loop_spawn(ss__loop *l, ss__coro_fn *fn, void *arg);

/* Like ss__loop_spawn, but copies len bytes of data into the new task's own
 * stack and passes fn that copy: a request's details travel with its task,
 * with nothing allocated per task. len is at most 1 KiB. */
int ss__loop_spawn_with(ss__loop *l, ss__coro_fn *fn, const void *data, size_t len);

/* Like ss__loop_spawn_with, but returns the len bytes on the new task's
 * stack for the caller to fill in place (before the loop runs the task, at
 * its next turn), and fn gets them. Returns NULL with errno ENOMEM (or
 * EINVAL: len above 2 KiB). */
void *ss__loop_spawn_data(ss__loop *l, ss__coro_fn *fn, size_t len);

/* Gives the loop's tasks a cache of connection buffers of size bytes, at
 * most max of them kept (ss__waiter's buf_get and buf_put, used by conn.c):
 * a connection waiting for input with nothing buffered gives its buffers
 * back, so an idle connection holds none, and a busy one takes a warm block
 * without malloc. Without this call, connections keep malloc'd buffers. */
void ss__loop_buffers(ss__loop *l, size_t size, int max);

/* Runs tasks until none is left or ss__loop_stop() is called. Returns 0, or
 * a negative errno if waiting for events failed. */
int ss__loop_run(ss__loop *l);

/* Makes ss__loop_run() return after the current turn (or the next run
 * return at once, if none is running). Any thread, and async-signal-safe. */
void ss__loop_stop(ss__loop *l);

/* Interrupts the loop's wait for events. Any thread, async-signal-safe. */
void ss__loop_wake(ss__loop *l);

/* The loop created on this thread, or NULL. */
ss__loop *ss__loop_current(void);

/* Live tasks (running, runnable or parked). */
int ss__loop_count(const ss__loop *l);

/* The wait seam for the running task: parks it until fd is ready for events
 * (POLLIN and/or POLLOUT), deadline passes (-ETIMEDOUT) or cancel_fd becomes
 * readable (-ECANCELED). fd < 0: a sleep. Returns 0 when ready. Called
 * outside a task it falls back to poll(2). */
int ss__loop_wait(int fd, int events, int64_t deadline, int cancel_fd);

/* Puts the running task at the end of the run queue. */
void ss__loop_yield(void);

/* Registers fd now, as how says (poller.h): SS__POLLER_SHARED for a listening
 * socket that every loop watches. Waits register other descriptors lazily.
 * Returns 0 or a negative errno. */
int ss__loop_watch(ss__loop *l, int fd, int how);

/* Registers cancel_fd now as a cancel eventfd (what ss__loop_wait takes as
 * its cancel_fd), instead of at the first wait that names it: a task whose
 * waits must not fail (an acceptor) has its registration made, or failed,
 * before it starts. Returns 0 or a negative errno. */
int ss__loop_watch_cancel(ss__loop *l, int cancel_fd);

/* Forgets fd before it is closed: its number may come back as another
 * descriptor, which must then be registered anew. Wakes tasks parked on it
 * with -EBADF. */
void ss__loop_forget(ss__loop *l, int fd);

/* The same for a descriptor about to be closed by its only owner, or one a
 * new socket has just been given: drops the loop's record without a system
 * call (close(2) removes the epoll registration itself). */
void ss__loop_closing(ss__loop *l, int fd);

/* Sets the running task's label (the peer, for the stack overflow report).
 * The text must stay valid while the task runs. */
void ss__loop_set_label(const char *label);
/* The same, made only if the report is ever printed: fn(arg, ...) writes the
 * label then, in the signal handler (coro.h), so a task pays nothing for a
 * label it will almost surely never need. */
void ss__loop_set_label_fn(ss__coro_label_fn *fn, const void *arg);

/* Runs fn(arg) on a helper thread of the loop while the running task waits;
 * other tasks go on meanwhile. For calls that block and cannot be made
 * non-blocking (getaddrinfo, file I/O). Not cancellable: the task waits for
 * fn to finish. Returns 0, or -ENOMEM/-EAGAIN when no helper could start
 * (fn has not run then). */
int ss__loop_offload(void (*fn)(void *), void *arg);

#endif /* SS_EVENT_LOOP_H */
