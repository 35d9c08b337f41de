/* test_addr.c - the address parser and formatter, on good and hostile text. */
#include "internal.h"
#include "socketserver.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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

/* A getaddrinfo(3) list made of fams ('4': AF_INET, '6': AF_INET6, 'u':
 * AF_UNIX), given to ss__addr_order with pick and max; want names the
 * entries it must give, by their index in fams. */
static void expect_order(const char *fams, ss__addr_pick_t pick, int max, const char *want)
{
    struct addrinfo ai[8];
    const struct addrinfo *out[8];
    size_t n = strlen(fams);
    memset(ai, 0, sizeof ai);
    for (size_t i = 0; i < n; i++) {
        ai[i].ai_family = fams[i] == '4' ? AF_INET : fams[i] == '6' ? AF_INET6 : AF_UNIX;
        ai[i].ai_next = i + 1 < n ? &ai[i + 1] : NULL;
    }
    int got = ss__addr_order(n ? ai : NULL, pick, out, max);
    char text[9] = "";
    for (int i = 0; i < got && i < 8; i++) text[i] = (char)('0' + (out[i] - ai));
    text[got >= 0 && got < 8 ? got : 8] = '\0';
    if (strcmp(text, want) != 0)
        FAIL_AT("%s, %s, max %d: got \"%s\", want \"%s\"", fams,
                pick == SS__ADDR_ONE ? "one" : "all", max, text, want);
}

/* The rule of include/socketserver.h on synthetic lists, so that it holds
 * whatever this machine's /etc/hosts says. */
static void test_order(void)
{
    /* One address (listening, ss_addr_parse): first IPv4, else first IPv6. */
    expect_order("6644", SS__ADDR_ONE, 1, "2");
    expect_order("4466", SS__ADDR_ONE, 1, "0");
    expect_order("64664", SS__ADDR_ONE, 1, "1");
    expect_order("666", SS__ADDR_ONE, 1, "0");
    expect_order("44", SS__ADDR_ONE, 1, "0");
    expect_order("u6u4", SS__ADDR_ONE, 1, "3");
    /* All (ss_addr_resolve, ss_dial): RFC 8305 section 4 interleaving, from
     * the family of the first answer, each family in the resolver's order. */
    expect_order("6644", SS__ADDR_ALL, 8, "0213");
    expect_order("4466", SS__ADDR_ALL, 8, "0213");
    expect_order("6464", SS__ADDR_ALL, 8, "0123");
    expect_order("64664", SS__ADDR_ALL, 8, "01243");
    expect_order("44644", SS__ADDR_ALL, 8, "02134");
    expect_order("666", SS__ADDR_ALL, 8, "012");
    expect_order("44", SS__ADDR_ALL, 8, "01");
    expect_order("u64u", SS__ADDR_ALL, 8, "12");
    /* max cuts the interleaved order, not the resolver's. */
    expect_order("6644", SS__ADDR_ALL, 2, "02");
    expect_order("6644", SS__ADDR_ALL, 3, "021");
    /* Nothing to pick. */
    expect_order("", SS__ADDR_ALL, 8, "");
    expect_order("uu", SS__ADDR_ALL, 8, "");
    expect_order("uu", SS__ADDR_ONE, 1, "");
    expect_order("64", SS__ADDR_ALL, 0, "");
}

/* localhost, whichever order this machine's resolver gives its addresses:
 * ss_addr_parse picks 127.0.0.1 (test_good); ss_addr_resolve gives it too,
 * port and transport kept, the families alternating. */
static void test_resolve_localhost(void)
{
    ss_addr_t out[8];
    char buf[SS_ADDRSTRLEN];
    int n = ss_addr_resolve("udp://localhost:9", out, 8);
    ASSERT_GE(n, 1);
    int loop4 = 0, fams = 0;
    for (int i = 0; i < n; i++) {
        ASSERT_EQ(out[i].transport, SS_UDP);
        ASSERT_EQ(ss_addr_port(&out[i]), 9);
        ASSERT_GT(ss_addr_format(&out[i], buf, sizeof buf), 0);
        if (strcmp(buf, "udp://127.0.0.1:9") == 0) loop4++;
        fams |= out[i].sa.ss_family == AF_INET ? 1 : 2;
    }
    ASSERT_EQ(loop4, 1);
    if (fams == 3) ASSERT_NE(out[0].sa.ss_family, out[1].sa.ss_family);
}

/* A listener on 127.0.0.1 only, dialled as localhost: where the resolver
 * gives ::1 first, that attempt is refused and the next one connects. With
 * the listener gone, every attempt is refused, and at once. */
static void test_dial_localhost(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(fd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    ASSERT_OK(bind(fd, (struct sockaddr *)&sin, sizeof sin));
    ASSERT_OK(listen(fd, 4));
    ASSERT_OK(getsockname(fd, (struct sockaddr *)&sin, &len));
    char text[64];
    snprintf(text, sizeof text, "tcp://localhost:%d", ntohs(sin.sin_port));
    ss_conn_t *c = NULL;
    ASSERT_OK(ss_dial(text, ss_now_ms() + 5000, &c));
    char peer[SS_ADDRSTRLEN];
    ASSERT_GT(ss_addr_format(ss_conn_peer(c), peer, sizeof peer), 0);
    ASSERT(strncmp(peer, "tcp://127.0.0.1:", 16) == 0);
    ss_conn_close(c);
    close(fd);
    int64_t t0 = ss_now_ms();
    ASSERT_EQ(ss_dial(text, ss_now_ms() + 5000, &c), -ECONNREFUSED);
    ASSERT_LT(ss_now_ms() - t0, 2000);
    ASSERT(c == NULL);
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
        {"order", test_order},
        {"resolve_localhost", test_resolve_localhost},
        {"dial_localhost", test_dial_localhost},
        {NULL, NULL},
    };
    return test_main(cases, argc, argv);
}
