/* inetd.h - `serve --inetd SERVICE`: the service on the socket inetd(8) or
 * systemd (Accept=yes) passes on standard input (inetd.c). */
#ifndef SS_APP_INETD_H
#define SS_APP_INETD_H

#include "opts.h"
#include "services.h"

/* Serves descriptor 0 with svc as its inetd.conf wait/nowait entry means
 * it, logging to syslog. Returns the exit status: 0 when served, 64 when
 * descriptor 0 is not a socket this program serves (or the options make a
 * server the library refuses), 65/66 for a TLS file, 71 a system error. */
int inetd_serve(const serve_opts_t *o, const svc_t *svc);

#endif
