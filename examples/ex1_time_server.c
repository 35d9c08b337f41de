/* ex1_time_server - slide 48's ex1.py: a TCP server that sends each client
 * the time, ctime-style, and closes the connection.
 *
 *     ex1_time_server [ADDRESS]        (default tcp://127.0.0.1:8888)
 *
 * The slide's `while 1: client, addr = s.accept()` loop is the library's
 * serving loop; its body is the handler below. */
#define _POSIX_C_SOURCE 200809L

#include "example.h"

#include <stdio.h>

static int send_time(ss_conn_t *client, void *ctx)
{
    char now[32];
    printf("Got a connection from %s\n", ss_conn_peername(client));
    example_ctime(now, sizeof now);
    /* client.send(time.ctime(time.time())); the server closes the connection
     * when the handler returns: client.close(). */
    return ss_puts(client, now);
}

int main(int argc, char **argv)
{
    if (argc > 2) return example_usage("ex1_time_server [ADDRESS]");
    const char *address = argc > 1 ? argv[1] : "tcp://127.0.0.1:8888";

    ss_config_t cfg;
    ss_config_init(&cfg); /* sync mode: one client at a time, like ex1.py */
    ss_handler_t handler = {.handle = send_time};
    ss_server_t *s = NULL;
    if (ss_server_create(&cfg, &handler, &s) < 0 || ss_server_listen(s, address) < 0)
        return example_fail(s, "ex1_time_server");
    return example_serve(s); /* the accept loop, until SIGINT or SIGTERM */
}
