/* test_conn.c - the connection object over real socket pairs: line framing
 * under arbitrary chunking, limits, deadlines, buffering, cancellation, and
 * the client side (dial, datagram requests that never hang). */
#include "internal.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

static ss_conn_t conn;
static int peer = -1;

static void pair_stream(const ss_config_t *cfg)
{
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    ss__conn_init(&conn, sv[0], SS_UNIX, cfg);
    peer = sv[1];
    ASSERT_EQ(fcntl(peer, F_SETFL, 0), 0); /* the test's side blocks */
}

static void put(const char *s)
{
    ASSERT_EQ(write(peer, s, strlen(s)), (ssize_t)strlen(s));
}

typedef struct chunker {
    const char *data;
    size_t len;
    unsigned seed;
} chunker;

/* Writes data in chunks of 1-7 bytes with tiny pauses, then closes. */
static void *chunk_writer(void *arg)
{
    chunker *ch = arg;
    size_t off = 0;
    while (off < ch->len) {
        size_t k = 1 + rand_r(&ch->seed) % 7;
        if (k > ch->len - off) k = ch->len - off;
        ASSERT_EQ(write(peer, ch->data + off, k), (ssize_t)k);
        off += k;
        if (rand_r(&ch->seed) % 4 == 0) usleep(100);
    }
    close(peer);
    return NULL;
}

static void test_readline_chunked(void)
{
    const char *text = "alpha\r\nbeta\n\n\r\ngamma delta\nlast-without-newline";
    const char *want[] = {"alpha\r\n", "beta\n",        "\n",
                          "\r\n",      "gamma delta\n", "last-without-newline"};
    for (unsigned seed = 1; seed <= 20; seed++) {
        pair_stream(NULL);
        chunker ch = {text, strlen(text), seed};
        pthread_t t;
        pthread_create(&t, NULL, chunk_writer, &ch);
        char line[64];
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
            ASSERT_EQ(ss_readline(&conn, line, sizeof line), (ssize_t)strlen(want[i]));
            ASSERT_STR_EQ(line, want[i]);
        }
        ASSERT_EQ(ss_readline(&conn, line, sizeof line), 0);
        ASSERT_EQ(ss_readline(&conn, line, sizeof line), 0); /* EOF stays EOF */
        pthread_join(t, NULL);
        close(conn.fd);
        ss__conn_release(&conn);
    }
}

static void test_readline_limits(void)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.max_line = 8;
    pair_stream(&cfg);
    put("1234567\n12345678\nok\nlonger\n");
    char line[64];
    ASSERT_EQ(ss_readline(&conn, line, sizeof line), 8); /* exactly max_line */
    ASSERT_EQ(ss_readline(&conn, line, sizeof line), SS_ELINE);
    ASSERT(strstr(ss_conn_errmsg(&conn), "Line too long") != NULL);
    ASSERT_EQ(ss_readline(&conn, line, sizeof line), 1); /* the rest of that line */
    ASSERT_EQ(ss_readline(&conn, line, 4), 3);
    ASSERT_EQ(ss_readline(&conn, line, 4), SS_ELINE); /* cap - 1 bounds it too */
    ASSERT_EQ(ss_readline(&conn, line, 0), SS_EUSAGE);
    close(peer);
    close(conn.fd);
    ss__conn_release(&conn);
}

/* A line far longer than the read buffer: bounded by max_line, not by it. */
static void test_readline_long(void)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.buffer_size = 64;
    cfg.max_line = 100000;
    pair_stream(&cfg);
    static char big[50001], got[60000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 2] = '\n';
    chunker ch = {big, sizeof big - 1, 3};
    pthread_t t;
    pthread_create(&t, NULL, chunk_writer, &ch);
    ASSERT_EQ(ss_readline(&conn, got, sizeof got), 50000);
    ASSERT_MEM_EQ(got, big, 50000);
    pthread_join(t, NULL);
    close(conn.fd);
    ss__conn_release(&conn);
}

static void test_read_full(void)
{
    pair_stream(NULL);
    put("abcdef");
    char b[8];
    ASSERT_EQ(ss_read_full(&conn, b, 4), 4);
    ASSERT_MEM_EQ(b, "abcd", 4);
    close(peer);
    ASSERT_EQ(ss_read_full(&conn, b, 4), SS_EEOF);
    ASSERT_EQ(ss_read_full(&conn, b, 4), 0);
    close(conn.fd);
    ss__conn_release(&conn);
}

static void test_deadline(void)
{
    pair_stream(NULL);
    char b[4];
    int64_t t0 = ss_now_ms();
    ss_set_deadline(&conn, t0 + 100);
    ASSERT_EQ(ss_deadline(&conn), t0 + 100);
    ASSERT_EQ(ss_read(&conn, b, sizeof b), -ETIMEDOUT);
    ASSERT_GE(ss_now_ms() - t0, 100);
    ASSERT(strstr(ss_conn_errmsg(&conn), "timed out") != NULL);
    ss_set_deadline(&conn, 0);
    conn.idle_ms = 50; /* the idle timeout bounds each wait */
    ASSERT_EQ(ss_read(&conn, b, sizeof b), -ETIMEDOUT);
    close(peer);
    close(conn.fd);
    ss__conn_release(&conn);
}

/* Writes are buffered, and flushed before a read has to wait: a
 * request/reply exchange never deadlocks on an unflushed request. */
static void *replier(void *arg)
{
    (void)arg;
    char b[16] = {0};
    ssize_t n = read(peer, b, sizeof b - 1);
    ASSERT_EQ(n, 4);
    ASSERT_STR_EQ(b, "ping");
    put("pong\n");
    return NULL;
}

static void test_flush_before_wait(void)
{
    pair_stream(NULL);
    pthread_t t;
    pthread_create(&t, NULL, replier, NULL);
    ASSERT_OK(ss_write(&conn, "pi", 2));
    ASSERT_OK(ss_printf(&conn, "%s", "ng"));
    char line[16];
    ASSERT_EQ(ss_readline(&conn, line, sizeof line), 5);
    ASSERT_STR_EQ(line, "pong\n");
    pthread_join(t, NULL);
    close(peer);
    close(conn.fd);
    ss__conn_release(&conn);
}

static void *drain_all(void *arg)
{
    size_t *total = arg;
    char b[8192];
    ssize_t n;
    while ((n = read(peer, b, sizeof b)) > 0) *total += (size_t)n;
    return NULL;
}

static void test_big_writes(void)
{
    pair_stream(NULL);
    size_t total = 0;
    pthread_t t;
    pthread_create(&t, NULL, drain_all, &total);
    static char big[300000];
    memset(big, 'b', sizeof big);
    ASSERT_OK(ss_write(&conn, big, sizeof big)); /* larger than the buffer */
    char fmt[2000];
    memset(fmt, 'f', sizeof fmt - 1);
    fmt[sizeof fmt - 1] = '\0';
    ASSERT_OK(ss_printf(&conn, "%s", fmt)); /* longer than printf's stack buffer */
    for (int i = 0; i < 1000; i++) ASSERT_OK(ss_write(&conn, "x", 1));
    ASSERT_OK(ss_close_write(&conn));
    pthread_join(t, NULL);
    ASSERT_EQ(total, sizeof big + sizeof fmt - 1 + 1000);
    close(peer);
    close(conn.fd);
    ss__conn_release(&conn);
}

/* A closed peer is an error, never a SIGPIPE: the default action would
 * kill this process. */
static void test_epipe(void)
{
    pair_stream(NULL);
    close(peer);
    static char big[100000];
    int rc = ss_write(&conn, big, sizeof big);
    ASSERT(rc == -EPIPE || rc == -ECONNRESET);
    ASSERT_EQ(ss_write(&conn, "x", 1), -EPIPE); /* fails fast afterwards */
    close(conn.fd);
    ss__conn_release(&conn);
}

static void *cancel_later(void *arg)
{
    usleep(50000);
    ss__eventfd_signal(*(int *)arg);
    return NULL;
}

static void test_cancel(void)
{
    pair_stream(NULL);
    int efd = eventfd(0, EFD_CLOEXEC);
    conn.cancel_fd = efd;
    pthread_t t;
    pthread_create(&t, NULL, cancel_later, &efd);
    char b[4];
    ASSERT_EQ(ss_read(&conn, b, sizeof b), -ECANCELED);
    pthread_join(t, NULL);
    close(efd);
    close(peer);
    close(conn.fd);
    ss__conn_release(&conn);
}

static void test_datagram_packet(void)
{
    ss_config_t cfg;
    ss_config_init(&cfg);
    cfg.max_datagram = 16;
    ss__conn_init(&conn, -1, SS_UDP, &cfg);
    char pkt[] = "one\ntwo";
    ss__conn_set_packet(&conn, pkt, 7);
    char line[16];
    ASSERT_EQ(ss_readline(&conn, line, sizeof line), 4);
    ASSERT_EQ(ss_readline(&conn, line, sizeof line), 3);
    ASSERT_STR_EQ(line, "two");
    ASSERT_EQ(ss_read(&conn, line, sizeof line), 0);
    ASSERT_OK(ss_write(&conn, "0123456789", 10));
    ASSERT_EQ(ss_write(&conn, "0123456789", 10), -EMSGSIZE); /* reply > max_datagram */
    ASSERT_EQ(ss_close_write(&conn), SS_EUSAGE);
    ss__conn_release(&conn);
}

static void test_dial_refused(void)
{
    /* A port that was just free: bind, read it, close. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t len = sizeof sin;
    ASSERT_EQ(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    ASSERT_EQ(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    char addr[64];
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", ntohs(sin.sin_port));
    ss_conn_t *c = NULL;
    ASSERT_EQ(ss_dial(addr, ss_now_ms() + 2000, &c), -ECONNREFUSED);
    ASSERT(c == NULL);
    char want[128];
    snprintf(want, sizeof want, "connect %s: Connection refused", addr);
    ASSERT_STR_EQ(ss_errmsg(), want);
    ASSERT_EQ(ss_dial("tcp://nowhere", 0, &c), SS_EADDR);
    ASSERT_EQ(ss_dial("unix:/nonexistent/socket", 0, &c), -ENOENT);
}

/* A UDP "server" that ignores the first `skip` datagrams, answers the next
 * with its length in bytes of 'r'. */
typedef struct udp_peer {
    int fd, skip, reply_len;
} udp_peer;

static void *udp_answer(void *arg)
{
    udp_peer *u = arg;
    char b[2048];
    struct sockaddr_storage from;
    for (;;) {
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(u->fd, b, sizeof b, 0, (struct sockaddr *)&from, &fl);
        if (n <= 0) return NULL;
        if (u->skip-- > 0) continue;
        memset(b, 'r', (size_t)u->reply_len);
        sendto(u->fd, b, (size_t)u->reply_len, 0, (struct sockaddr *)&from, fl);
        return NULL;
    }
}

static void udp_setup(udp_peer *u, char *addr, size_t cap)
{
    u->fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t len = sizeof sin;
    ASSERT_EQ(bind(u->fd, (struct sockaddr *)&sin, sizeof sin), 0);
    ASSERT_EQ(getsockname(u->fd, (struct sockaddr *)&sin, &len), 0);
    snprintf(addr, cap, "udp://127.0.0.1:%d", ntohs(sin.sin_port));
}

static void test_request_retries(void)
{
    udp_peer u = {.skip = 2, .reply_len = 5};
    char addr[64], reply[64];
    udp_setup(&u, addr, sizeof addr);
    pthread_t t;
    pthread_create(&t, NULL, udp_answer, &u);
    ss_conn_t *c;
    ASSERT_OK(ss_dial(addr, 0, &c));
    ASSERT_EQ(ss_request(c, "q", 1, reply, sizeof reply, ss_now_ms() + 200, 2),
              -ETIMEDOUT); /* 2 dropped */
    ASSERT_EQ(ss_request(c, "q", 1, reply, sizeof reply, ss_now_ms() + 100, 1), 5);
    pthread_join(t, NULL);
    u.skip = 0;
    u.reply_len = 100;
    pthread_create(&t, NULL, udp_answer, &u);
    ASSERT_EQ(ss_request(c, "q", 1, reply, 10, ss_now_ms() + 1000, 1),
              SS_ETRUNC); /* reported, not cut */
    pthread_join(t, NULL);
    ss_conn_close(c);
    close(u.fd);
}

int main(int argc, char **argv)
{
    static const test_case cases[] = {
        {"readline_chunked", test_readline_chunked},
        {"readline_limits", test_readline_limits},
        {"readline_long", test_readline_long},
        {"read_full", test_read_full},
        {"deadline", test_deadline},
        {"flush_before_wait", test_flush_before_wait},
        {"big_writes", test_big_writes},
        {"epipe", test_epipe},
        {"cancel", test_cancel},
        {"datagram_packet", test_datagram_packet},
        {"dial_refused", test_dial_refused},
        {"request_retries", test_request_retries},
        {NULL, NULL},
    };
    return test_main(cases, argc, argv);
}
