/* main.c - the socketserver program: dispatches to a subcommand. */
#include "cli.h"

#include "socketserver.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "Usage: socketserver COMMAND [ARGS...]\n"
    "\n"
    "Commands:\n"
    "  serve SERVICE [ADDRESS...]   run a service (echo, discard, chargen, daytime,\n"
    "                               time, upper, timestamp)\n"
    "  send ADDRESS [MESSAGE...]    send lines or datagrams and print the replies\n"
    "  bench ADDRESS                generate load and measure it\n"
    "\n"
    "Options:\n"
    "  -h, --help                   show this help (COMMAND --help: the command's)\n"
    "  -V, --version                show the version\n"
    "\n"
    "Addresses: tcp://HOST:PORT, udp://HOST:PORT, unix:PATH, unixgram:PATH\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        return cli_version();
    }
    if (strcmp(cmd, "serve") == 0) return cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "send") == 0) return cmd_send(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0) return cmd_bench(argc - 1, argv + 1);
    return cli_usage(NULL, "unknown command \"%s\" (try --help)", cmd);
}
