/* mixin - slides 76-77: tcps1's handler served synchronously, by a thread per
 * client or by a process per client. Only one line changes: the mode.
 *
 *     mixin [ADDRESS [MODE]]           (default tcp://127.0.0.1:2345 sync)
 *
 * MODE is sync (TCPServer), thread (ThreadingTCPServer) or fork
 * (ForkingTCPServer); pool and prefork work too where the library has them.
 * The handler never knows which mode runs it. */
#define _POSIX_C_SOURCE 200809L

#include "example.h"

#include <stdio.h>
#include <string.h>

/* tcps1's UCHandler.handle(), unchanged. It keeps nothing between calls, so
 * it is safe to run in several threads at once. */
static int handle(ss_conn_t *c, void *ctx)
{
    char data[1024];
    printf("Connected: %s\n", ss_conn_peername(c));
    for (;;) {
        ssize_t n = ss_readline(c, data, sizeof data);
        if (n < 0) return (int)n;
        if (n == 0 || strcmp(data, "\r\n") == 0) break;
        printf("%.*s\n", (int)strcspn(data, "\r\n"), data);
        example_upper(data, (size_t)n);
        int rc = ss_write(c, data, (size_t)n);
        if (rc < 0) return rc;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 3) return example_usage("mixin [ADDRESS [sync|thread|fork]]");
    const char *myaddr = argc > 1 ? argv[1] : "tcp://127.0.0.1:2345";

    ss_config_t cfg;
    ss_config_init(&cfg);
    /* The one line of slide 77:
     *   SocketServer.TCPServer(myaddr, UCHandler)          SS_MODE_SYNC
     *   SocketServer.ThreadingTCPServer(myaddr, UCHandler) SS_MODE_THREAD
     *   SocketServer.ForkingTCPServer(myaddr, UCHandler)   SS_MODE_FORK
     * or, without recompiling, the MODE argument. */
    cfg.mode = SS_MODE_SYNC;
    if (argc > 2 && ss_mode_parse(argv[2], &cfg.mode) < 0)
        return example_usage("mixin [ADDRESS [sync|thread|fork]]");

    ss_handler_t handler = {.handle = handle};
    ss_server_t *myserver = NULL;
    if (ss_server_create(&cfg, &handler, &myserver) < 0 || ss_server_listen(myserver, myaddr) < 0)
        return example_fail(myserver, "mixin");
    return example_serve(myserver); /* myserver.serve_forever() */
}
