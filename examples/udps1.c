/* udps1 - slide 70's udps1.py: the UDP upper-case server on the framework.
 * Prints each datagram and answers it in upper case.
 *
 *     udps1 [ADDRESS]                  (default udp://127.0.0.1:2345)
 */
#define _POSIX_C_SOURCE 200809L

#include "example.h"

#include <stdio.h>

/* UCHandler.handle(): "Change this function to alter server's
 * functionality". For UDP, the request is the datagram and the reply is
 * what the handler writes, sent back to client_address when it returns. */
static int handle(ss_conn_t *c, void *ctx)
{
    char data[1024];
    ssize_t n = ss_read(c, data, sizeof data);
    if (n < 0) return (int)n;
    printf("%.*s\n", (int)n, data); /* print data */
    example_upper(data, (size_t)n);
    return ss_write(c, data, (size_t)n); /* skt.sendto(data.upper(), remote) */
}

int main(int argc, char **argv)
{
    if (argc > 2) return example_usage("udps1 [ADDRESS]");
    const char *myaddr = argc > 1 ? argv[1] : "udp://127.0.0.1:2345";

    ss_config_t cfg;
    ss_config_init(&cfg);    /* SocketServer.UDPServer: sync mode */
    cfg.max_datagram = 1024; /* longer datagrams are dropped and logged, not cut */
    ss_handler_t handler = {.handle = handle};
    ss_server_t *myserver = NULL;
    if (ss_server_create(&cfg, &handler, &myserver) < 0 || ss_server_listen(myserver, myaddr) < 0)
        return example_fail(myserver, "udps1");
    return example_serve(myserver); /* myserver.serve_forever() */
}
