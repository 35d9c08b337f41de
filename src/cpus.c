/* cpus.c - how many workers the modes that scale with the machine start by
 * default, and the most a configuration may ask for. */
#include "internal.h"

#include <unistd.h>

/* Blocking workers spend most of a request waiting for the peer, so a few
 * per core keep the cores busy; a handler that computes gains nothing from
 * more. Four per core is that compromise; long idle sessions want more, and
 * say so with workers. */
int ss__workers(const ss_config_t *cfg)
{
    if (cfg->workers > SS__WORKERS_MAX)
        return ss__fail(-EINVAL, "config: workers %d above %d", cfg->workers, SS__WORKERS_MAX);
    if (cfg->workers > 0) return cfg->workers;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long n = (cores > 0 ? cores : 1) * SS__WORKERS_PER_CORE;
    if (n < 4) n = 4;
    return n > SS__WORKERS_MAX ? SS__WORKERS_MAX : (int)n;
}
