/* bucket - slide 45's bucket(): a UDP server that prints each datagram it
 * receives on a line of its own, repr-style, and never answers. spew feeds
 * it.
 *
 *     bucket [ADDRESS]                 (default udp://127.0.0.1:8881)
 */
#define _POSIX_C_SOURCE 200809L

#include "example.h"

#include <stdio.h>
#include <string.h>

#define BUFSIZE 1024 /* as in spew.c */

/* print `data`[1:-1]: Python 2's repr of a str without its quotes. Printable
 * ASCII stays as it is; a backslash, a tab, a newline, a carriage return and
 * the quote repr would pick (' unless the text holds ' and no ") are escaped;
 * every other byte becomes \xNN. */
static void print_repr(const unsigned char *data, size_t n)
{
    int quote = memchr(data, '\'', n) && !memchr(data, '"', n) ? '"' : '\'';
    for (size_t i = 0; i < n; i++) {
        int c = data[i];
        if (c == '\\' || c == quote)
            printf("\\%c", c);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\r')
            fputs("\\r", stdout);
        else if (c < 0x20 || c > 0x7e)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    putchar('\n');
}

static int log_datagram(ss_conn_t *c, void *ctx)
{
    unsigned char data[BUFSIZE];
    ssize_t n = ss_read(c, data, sizeof data); /* data, addr = s.recvfrom(BUFSIZE) */
    if (n < 0) return (int)n;
    print_repr(data, (size_t)n);
    return 0; /* nothing written: no reply is sent */
}

int main(int argc, char **argv)
{
    if (argc > 2) return example_usage("bucket [ADDRESS]");
    const char *address = argc > 1 ? argv[1] : "udp://127.0.0.1:8881";

    ss_config_t cfg;
    ss_config_init(&cfg);
    /* recvfrom(BUFSIZE) cuts a longer datagram silently; the library drops
     * it and logs why instead (the slide's `print msg`). */
    cfg.max_datagram = BUFSIZE;
    ss_handler_t handler = {.handle = log_datagram};
    ss_server_t *s = NULL;
    if (ss_server_create(&cfg, &handler, &s) < 0 || ss_server_listen(s, address) < 0)
        return example_fail(s, "bucket");
    return example_serve(s); /* its `listening` line: "waiting on port: %s" */
}
