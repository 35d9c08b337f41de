/* poll_uring.h - the io_uring poller (poll_uring.c), behind poller.c's
 * calls, built when liburing is found (SS_HAVE_URING). */
#ifndef SS_EVENT_POLL_URING_H
#define SS_EVENT_POLL_URING_H

#include "poller.h"

typedef struct ss__uring ss__uring;

int ss__uring_create(ss__uring **out, int max_events);
void ss__uring_destroy(ss__uring *u);
int ss__uring_add(ss__uring *u, int fd, int how);
int ss__uring_del(ss__uring *u, int fd);
void ss__uring_closing(ss__uring *u, int fd);
int ss__uring_wait(ss__uring *u, int timeout_ms, const ss__poll_event **out);

#endif /* SS_EVENT_POLL_URING_H */
