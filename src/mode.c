/* mode.c - the table of modes: names and the ops that run each. */
#include "internal.h"

#include <string.h>

static const char *const names[] = {"sync", "thread", "fork", "pool", "prefork", "event"};

const ss__mode_ops *ss__mode_ops_for(ss_mode_t mode)
{
    switch (mode) {
    case SS_MODE_SYNC:
        return &ss__mode_sync;
    case SS_MODE_THREAD:
        return &ss__mode_thread;
    case SS_MODE_FORK:
        return &ss__mode_fork;
    case SS_MODE_POOL:
        return &ss__mode_pool;
    case SS_MODE_PREFORK:
        return &ss__mode_prefork;
#ifdef SS_HAVE_EVENT
    case SS_MODE_EVENT:
        return &ss__mode_event;
#endif
    default:
        return NULL;
    }
}

const char *ss_mode_name(ss_mode_t mode)
{
    if ((unsigned)mode >= sizeof names / sizeof names[0]) return NULL;
    return names[mode];
}

int ss_mode_parse(const char *name, ss_mode_t *out)
{
    for (unsigned i = 0; name && i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (ss_mode_t)i;
            return 0;
        }
    }
    return ss__fail(SS_EUSAGE, "unknown mode \"%.40s\" (sync, thread, fork, pool, prefork, event)",
                    name ? name : "");
}

int ss_mode_available(ss_mode_t mode)
{
    return ss__mode_ops_for(mode) != NULL;
}
