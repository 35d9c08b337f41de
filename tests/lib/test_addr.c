/* test_addr.c - the address parser and formatter, on good and hostile text. */
#include "socketserver.h"
#include "test.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/un.h>

static void roundtrip(const char *in, const char *out)
{
    ss_addr_t a;
    char buf[SS_ADDRSTRLEN];
    ASSERT_OK(ss_addr_parse(in, &a));
    ASSERT_OK(ss_addr_format(&a, buf, sizeof buf));
    ASSERT_STR_EQ(buf, out);
}

static void test_good(void)
{
    roundtrip("tcp://127.0.0.1:2345", "tcp://127.0.0.1:2345");
    roundtrip("udp://127.0.0.1:0", "udp://127.0.0.1:0");
    roundtrip("tcp://[::1]:80", "tcp://[::1]:80");
    roundtrip("udp://[::]:65535", "udp://[::]:65535");
    roundtrip("tcp://:7", "tcp://0.0.0.0:7");
    roundtrip("tcp://localhost:9", "tcp://127.0.0.1:9");
    roundtrip("unix:/tmp/x.sock", "unix:/tmp/x.sock");
    roundtrip("unixgram:rel/path", "unixgram:rel/path");
    roundtrip("unix:@abstract", "unix:@abstract");
    roundtrip("tcp://[::ffff:127.0.0.1]:1", "tcp://[::ffff:127.0.0.1]:1");
    ss_addr_t a;
    ASSERT_OK(ss_addr_parse("udp://127.0.0.1:2345", &a));
    ASSERT_EQ(a.transport, SS_UDP);
    ASSERT_EQ(ss_addr_port(&a), 2345);
    ASSERT_OK(ss_addr_parse("unixgram:/x", &a));
    ASSERT_EQ(a.transport, SS_UNIXGRAM);
    ASSERT_EQ(ss_addr_port(&a), -1);
}

static void expect_bad(const char *text, int err, const char *needle)
{
    ss_addr_t a;
    int rc = ss_addr_parse(text, &a);
    if (rc != err) FAIL_AT("\"%s\": got %d (%s), want %d", text, rc, ss_errmsg(), err);
    if (needle && !strstr(ss_errmsg(), needle))
        FAIL_AT("\"%s\": message \"%s\" lacks \"%s\"", text, ss_errmsg(), needle);
}

static void test_bad(void)
{
    expect_bad("", SS_EADDR, "expected tcp://");
    expect_bad("127.0.0.1:80", SS_EADDR, "expected");
    expect_bad("http://x:80", SS_EADDR, NULL);
    expect_bad("tcp://", SS_EADDR, "missing ':PORT'");
    expect_bad("tcp://127.0.0.1", SS_EADDR, "missing ':PORT'");
    expect_bad("tcp://127.0.0.1:", SS_EADDR, "missing port");
    expect_bad("tcp://127.0.0.1:65536", SS_EADDR, "out of range");
    expect_bad("tcp://127.0.0.1:000000080", SS_EADDR, "out of range");
    expect_bad("tcp://127.0.0.1:-1", SS_EADDR, "number");
    expect_bad("tcp://127.0.0.1:+1", SS_EADDR, "number");
    expect_bad("tcp://127.0.0.1:80x", SS_EADDR, "number");
    expect_bad("tcp://127.0.0.1: 80", SS_EADDR, "number");
    expect_bad("tcp://127.0.0.1:http", SS_EADDR, "number");
    expect_bad("tcp://::1:80", SS_EADDR, "brackets");
    expect_bad("tcp://[::1:80", SS_EADDR, "']'");
    expect_bad("tcp://[::1]80", SS_EADDR, "':PORT'");
    expect_bad("tcp://[]:80", SS_EADDR, "empty");
    expect_bad("tcp://[1.2.3.4]:80", SS_EADDR, "IPv6");
    expect_bad("tcp://[::g]:80", SS_EADDR, "IPv6");
    /* inet_aton(3) forms getaddrinfo would accept as other addresses */
    expect_bad("tcp://127.1:80", SS_EADDR, "IPv4");
    expect_bad("tcp://2130706433:80", SS_EADDR, "IPv4");
    expect_bad("tcp://1.2.3.4.5:80", SS_EADDR, "IPv4");
    expect_bad("tcp://256.1.1.1:80", SS_EADDR, "IPv4");
    expect_bad("tcp://host name:80", SS_EADDR, "invalid character");
    expect_bad("tcp://a/b:80", SS_EADDR, "invalid character");
    expect_bad("unix:", SS_EADDR, "empty");
    expect_bad("unixgram:", SS_EADDR, "empty");
    expect_bad("unix:@", SS_EADDR, "empty abstract");
    char longpath[200];
    memset(longpath, 'a', sizeof longpath);
    memcpy(longpath, "unix:", 5);
    longpath[sizeof longpath - 1] = '\0';
    expect_bad(longpath, SS_EADDR, "107");
    char longhost[400];
    memset(longhost, 'h', sizeof longhost);
    memcpy(longhost, "tcp://", 6);
    memcpy(longhost + sizeof longhost - 4, ":80", 4);
    expect_bad(longhost, SS_EADDR, "too long");
}

static void test_resolve_fail(void)
{
    ss_addr_t a;
    int rc = ss_addr_parse("tcp://no-such-host.invalid:80", &a);
    ASSERT(rc == SS_ERESOLVE || rc < 0);
    ASSERT(strstr(ss_errmsg(), "no-such-host.invalid") != NULL);
}

static void test_format_small(void)
{
    ss_addr_t a;
    char buf[8];
    ASSERT_OK(ss_addr_parse("tcp://127.0.0.1:2345", &a));
    ASSERT_EQ(ss_addr_format(&a, buf, sizeof buf), -ENOSPC);
    ASSERT_EQ(strlen(buf), sizeof buf - 1);
    ss_addr_t bogus = {0};
    bogus.transport = (ss_transport_t)99;
    ASSERT_EQ(ss_addr_format(&bogus, buf, sizeof buf), SS_EADDR);
}

static void test_resolve_many(void)
{
    ss_addr_t out[4];
    int n = ss_addr_resolve("tcp://127.0.0.1:1", out, 4);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(ss_addr_resolve("unix:/x", out, 4), 1);
}

/* Every prefix of a valid address, and every byte value at every position:
 * never a crash; each result is either an error or formats back. */
static void test_hostile(void)
{
    const char *base = "tcp://[::1]:2345";
    char buf[64];
    size_t n = strlen(base);
    for (size_t i = 0; i <= n; i++) {
        memcpy(buf, base, i);
        buf[i] = '\0';
        ss_addr_t a;
        (void)ss_addr_parse(buf, &a);
    }
    for (size_t i = 0; i < n; i++) {
        for (int b = 1; b < 256; b += 7) {
            memcpy(buf, base, n + 1);
            buf[i] = (char)b;
            ss_addr_t a;
            char out[SS_ADDRSTRLEN];
            if (ss_addr_parse(buf, &a) == 0) ASSERT_GT(ss_addr_format(&a, out, sizeof out), 0);
        }
    }
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        {"good", test_good},
        {"bad", test_bad},
        {"resolve_fail", test_resolve_fail},
        {"format_small", test_format_small},
        {"resolve_many", test_resolve_many},
        {"hostile", test_hostile},
        {NULL, NULL},
    };
    return test_main(cases, argc, argv);
}
