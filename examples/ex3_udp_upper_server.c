/* ex3_udp_upper_server - slide 40's ex3.py: a UDP server that answers each
 * datagram with the same text in upper case.
 *
 *     ex3_udp_upper_server [ADDRESS]   (default udp://127.0.0.1:11111)
 *
 * The slide's `while 1: data, addr = s.recvfrom(1024)` loop is the
 * library's serving loop; its body is the handler below. */
#define _POSIX_C_SOURCE 200809L

#include "example.h"

#include <stdio.h>

#define BUFSIZE 1024

static int upper_reply(ss_conn_t *c, void *ctx)
{
    char data[BUFSIZE];
    ssize_t n = ss_read(c, data, sizeof data); /* the datagram */
    if (n < 0) return (int)n;
    printf("Connection from %s\n", ss_conn_peername(c));
    example_upper(data, (size_t)n);
    /* s.sendto(data.upper(), addr): the reply goes to the sender when the
     * handler returns. */
    return ss_write(c, data, (size_t)n);
}

int main(int argc, char **argv)
{
    if (argc > 2) return example_usage("ex3_udp_upper_server [ADDRESS]");
    const char *address = argc > 1 ? argv[1] : "udp://127.0.0.1:11111";

    ss_config_t cfg;
    ss_config_init(&cfg);
    /* recvfrom(1024) cuts a longer datagram silently; the library drops it
     * and logs why instead. */
    cfg.max_datagram = BUFSIZE;
    ss_handler_t handler = {.handle = upper_reply};
    ss_server_t *s = NULL;
    if (ss_server_create(&cfg, &handler, &s) < 0 || ss_server_listen(s, address) < 0)
        return example_fail(s, "ex3_udp_upper_server");
    return example_serve(s); /* the recvfrom loop, until SIGINT or SIGTERM */
}
