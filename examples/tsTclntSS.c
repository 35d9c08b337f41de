/* tsTclntSS - slide 65's tsTclntSS.py: the timestamp server's client. For
 * each line typed, connects, sends it, prints the answer; stops at an empty
 * line (or the end of input).
 *
 *     tsTclntSS [ADDRESS]              (default tcp://127.0.0.1:21567)
 */
#define _POSIX_C_SOURCE 200809L

#include "example.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#define BUFSIZE 1024 /* the slide's BUFSIZ (stdio has a BUFSIZ of its own) */

/* Sends one line and prints the answer without surrounding white space
 * (data.strip()). Returns 0, 1 when the server sent nothing (the slide's
 * `if not data: break`), or -1 after printing why it failed. */
static int ask(const char *address, const char *data)
{
    ss_conn_t *c;
    if (ss_dial(address, ss_now_ms() + 5000, &c) < 0) {
        fprintf(stderr, "tsTclntSS: %s\n", ss_errmsg());
        return -1;
    }
    char reply[BUFSIZE];
    size_t len = 0;
    ssize_t n = ss_printf(c, "%s\r\n", data);
    /* The server answers, then closes: read until the end, as one recv may
     * bring only part of the answer. */
    while (n >= 0 && len < sizeof reply) {
        n = ss_read(c, reply + len, sizeof reply - len);
        if (n <= 0) break;
        len += (size_t)n;
    }
    if (n < 0) fprintf(stderr, "tsTclntSS: %s\n", ss_conn_errmsg(c));
    ss_conn_close(c);
    if (n < 0) return -1;
    if (len == 0) return 1;
    size_t start = 0;
    while (start < len && isspace((unsigned char)reply[start])) start++;
    while (len > start && isspace((unsigned char)reply[len - 1])) len--;
    printf("%.*s\n", (int)(len - start), reply + start);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2) return example_usage("tsTclntSS [ADDRESS]");
    const char *address = argc > 1 ? argv[1] : "tcp://127.0.0.1:21567";

    /* The slide connects before asking for input; asking first spares the
     * server a connection that brings nothing when the input is empty. */
    char *data = NULL;
    size_t cap = 0;
    int rc = 0;
    while (rc == 0 && example_input("> ", &data, &cap) > 0) rc = ask(address, data);
    free(data);
    return rc < 0 ? 1 : 0;
}
