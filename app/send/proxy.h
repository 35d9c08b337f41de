/* proxy.h - send --proxy: a PROXY protocol header before the data. */
#ifndef SS_SEND_PROXY_H
#define SS_SEND_PROXY_H

#include "socketserver.h"

/* Writes and flushes a PROXY protocol header of version 1 or 2 (HAProxy's
 * proxy-protocol.txt, sections 2.1 and 2.2) on the dialed TCP connection c,
 * naming its own addresses: ss_conn_local as the source, ss_conn_peer as
 * the destination, as a load balancer in front of the server would name
 * its client's. Returns 0 or an error of ss_write. */
int send_proxy_header(ss_conn_t *c, int version);

#endif
