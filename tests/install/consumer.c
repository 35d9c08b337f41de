/* consumer.c - a program built against an installed copy of the library. */
#include <socketserver.h>
#include <stdio.h>

int main(void)
{
    ss_addr_t a;
    char text[SS_ADDRSTRLEN];
    if (ss_addr_parse("tcp://[::1]:2345", &a) < 0 || ss_addr_format(&a, text, sizeof text) < 0)
        return 1;
    printf("%s %s\n", SS_VERSION_STRING, text);
    return 0;
}
