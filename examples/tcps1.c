/* tcps1 - slide 72's tcps1.py: the TCP upper-case server on the framework.
 * For each connection, prints and answers each line in upper case until a
 * line that is just "\r\n".
 *
 *     tcps1 [ADDRESS]                  (default tcp://127.0.0.1:2345)
 */
#define _POSIX_C_SOURCE 200809L

#include "example.h"

#include <stdio.h>
#include <string.h>

/* UCHandler.handle(): "Change this function to alter server's
 * functionality". The slide's recv(1024) takes whatever bytes arrived as a
 * line; ss_readline reads exactly one line, however TCP splits it. */
static int handle(ss_conn_t *c, void *ctx)
{
    char data[1024];
    printf("Connected: %s\n", ss_conn_peername(c));
    for (;;) {
        ssize_t n = ss_readline(c, data, sizeof data);
        if (n < 0) return (int)n;
        /* The end of the stream stops too: recv returning "" would make the
         * slide's loop spin forever. */
        if (n == 0 || strcmp(data, "\r\n") == 0) break;
        printf("%.*s\n", (int)strcspn(data, "\r\n"), data); /* print data[:-2] */
        example_upper(data, (size_t)n);
        int rc = ss_write(c, data, (size_t)n); /* self.request.send(data.upper()) */
        if (rc < 0) return rc;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2) return example_usage("tcps1 [ADDRESS]");
    const char *myaddr = argc > 1 ? argv[1] : "tcp://127.0.0.1:2345";

    ss_config_t cfg;
    ss_config_init(&cfg); /* SocketServer.TCPServer: sync mode */
    ss_handler_t handler = {.handle = handle};
    ss_server_t *myserver = NULL;
    if (ss_server_create(&cfg, &handler, &myserver) < 0 || ss_server_listen(myserver, myaddr) < 0)
        return example_fail(myserver, "tcps1");
    return example_serve(myserver); /* myserver.serve_forever() */
}
