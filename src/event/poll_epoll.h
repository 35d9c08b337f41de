/* poll_epoll.h - the epoll poller (poll_epoll.c), behind poller.c's calls. */
#ifndef SS_EVENT_POLL_EPOLL_H
#define SS_EVENT_POLL_EPOLL_H

#include "poller.h"

typedef struct ss__epoll ss__epoll;

int ss__epoll_create(ss__epoll **out, int max_events);
void ss__epoll_destroy(ss__epoll *p);
int ss__epoll_add(ss__epoll *p, int fd, int how);
int ss__epoll_del(ss__epoll *p, int fd);
int ss__epoll_wait(ss__epoll *p, int timeout_ms, const ss__poll_event **out);

#endif /* SS_EVENT_POLL_EPOLL_H */
