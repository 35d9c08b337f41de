/* tsTservSS - slide 64's tsTservSS.py: a timestamp server on the framework.
 * For each connection, reads one line and answers "[ctime] line".
 *
 *     tsTservSS [ADDRESS]              (default tcp://127.0.0.1:21567)
 *
 * MyRequestHandler.handle() is the handler; the server object and its
 * serve_forever() are the library's (slides 60-63). The `listening` line
 * stands for the slide's 'waiting for connection...'. */
#define _POSIX_C_SOURCE 200809L

#include "example.h"

#include <stdio.h>

/* StreamRequestHandler's rfile.readline() and wfile.write() are ss_readline
 * and ss_printf on the connection. */
static int handle(ss_conn_t *c, void *ctx)
{
    char line[1024], now[32];
    printf("...connected from: %s\n", ss_conn_peername(c));
    ssize_t n = ss_readline(c, line, sizeof line); /* with its "\r\n" */
    if (n < 0) return (int)n;
    example_ctime(now, sizeof now);
    return ss_printf(c, "[%s] %s", now, line);
}

int main(int argc, char **argv)
{
    if (argc > 2) return example_usage("tsTservSS [ADDRESS]");
    const char *address = argc > 1 ? argv[1] : "tcp://127.0.0.1:21567";

    ss_config_t cfg;
    ss_config_init(&cfg); /* SocketServer.TCPServer: sync mode */
    ss_handler_t handler = {.handle = handle};
    ss_server_t *server = NULL;
    if (ss_server_create(&cfg, &handler, &server) < 0 || ss_server_listen(server, address) < 0)
        return example_fail(server, "tsTservSS");
    return example_serve(server); /* server.serve_forever() */
}
