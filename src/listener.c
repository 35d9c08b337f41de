/* listener.c - a server's listeners: bound (ss__listen_socket, sock.c) or
 * adopted from a supervisor, their addresses, the connection layers each
 * gives its connections, and their closing, which refuses new clients at
 * once and removes the unix socket files this server made. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int add_listener(ss_server_t *s, int fd, const ss_addr_t *bound)
{
    if (s->nls == s->capls) {
        int cap = s->capls ? s->capls * 2 : 4;
        ss__listener *ls = realloc(s->ls, (size_t)cap * sizeof *ls);
        if (!ls) {
            close(fd);
            return ss__fail(-ENOMEM, "listen");
        }
        s->ls = ls;
        s->capls = cap;
    }
    ss__listener *l = &s->ls[s->nls];
    memset(l, 0, sizeof *l); /* no layers: a plain socket */
    l->fd = fd;
    l->transport = bound->transport;
    l->addr = *bound;
    return s->nls++;
}

/* A tls:// listener needs the server's TLS context, checked before
 * anything is bound so that a refused one leaves nothing behind. */
static int tls_ready(ss_server_t *s, const ss_addr_t *a, const char *op)
{
    if (a->transport != SS_TLS || s->tls) return 0;
    char text[SS_ADDRSTRLEN];
    if (ss_addr_format(a, text, sizeof text) < 0) snprintf(text, sizeof text, "tls://?");
    if (!ss_tls_available())
        ss__fail_plain(SS_EMODE, "%s %s: built without TLS (OpenSSL 3 was not found)", op, text);
    else
        ss__fail_plain(SS_EUSAGE, "%s %s: no TLS certificate (ss_config_t.tls.cert_file)", op,
                       text);
    memcpy(s->errmsg, ss_errmsg(), sizeof s->errmsg);
    return ss_tls_available() ? SS_EUSAGE : SS_EMODE;
}

/* The layers every connection of listener i gets: with proxy_protocol set
 * (streams only), the PROXY header reader first, just above the socket, so
 * that the header comes in clear before a TLS handshake; then, on a tls://
 * listener, its TLS layer. */
static int add_layers(ss_server_t *s, int i)
{
    int rc = 0;
    if (s->proxy && !ss__is_dgram(s->ls[i].transport)) {
        rc = ss__listener_add_layer(s, i, ss__proxy_push, s->proxy);
        s->ls[i].admit_late = 1;
    }
    if (rc == 0 && s->ls[i].transport == SS_TLS)
        rc = ss__listener_add_layer(s, i, ss__tls_push_server, s->tls);
    return rc < 0 ? rc : i;
}

int ss_server_listen_addr(ss_server_t *s, const ss_addr_t *addr)
{
    ss_addr_t bound;
    int rc = tls_ready(s, addr, "listen");
    if (rc < 0) return rc;
    int fd = ss__listen_socket(addr, &s->cfg, &bound);
    if (fd < 0) {
        memcpy(s->errmsg, ss_errmsg(), sizeof s->errmsg);
        return fd;
    }
    int i = add_listener(s, fd, &bound);
    if (i < 0) return i;
    const struct sockaddr_un *un = (const struct sockaddr_un *)&bound.sa;
    struct stat st;
    if (bound.sa.ss_family == AF_UNIX && un->sun_path[0] != '\0' && fstat(fd, &st) == 0 &&
        lstat(un->sun_path, &st) == 0) {
        s->ls[i].owns_path = 1;
        s->ls[i].dev = st.st_dev;
        s->ls[i].ino = st.st_ino;
    }
    return add_layers(s, i);
}

int ss_server_listen(ss_server_t *s, const char *address)
{
    ss_addr_t a;
    int rc = ss_addr_parse(address, &a);
    if (rc < 0) return rc;
    return ss_server_listen_addr(s, &a);
}

int ss_server_listen_fd(ss_server_t *s, int fd, ss_transport_t transport)
{
    ss_addr_t bound;
    int rc = ss__local_addr(fd, transport, &bound);
    if (rc == 0) rc = tls_ready(s, &bound, "adopt");
    if (rc == SS_EUSAGE || rc == SS_EMODE) return rc;
    if (rc == 0) rc = ss__set_nonblock(fd);
    if (rc < 0) return ss__fail(rc, "adopt listener fd %d", fd);
    int i = add_listener(s, fd, &bound);
    return i < 0 ? i : add_layers(s, i);
}

/* With reuse_port, a TCP (or tls://) listener on an IP address can have
 * siblings: sockets of their own bound to the same address with SO_REUSEPORT,
 * one per event loop or prefork worker, among which the kernel spreads new
 * connections by a hash of the client's address and port (socket(7),
 * SO_REUSEPORT, Linux 3.9): no accept queue shared by every loop, no
 * thundering herd. Only when listener i itself has SO_REUSEPORT (bound with
 * reuse_port, or adopted from a supervisor that set it, systemd's
 * ReusePort=): otherwise a sibling could not bind. Unix sockets have no such
 * option, and a datagram listener is also the socket replies are sent from,
 * so both are left shared. Returns the sibling's descriptor (non-blocking,
 * close-on-exec), -EOPNOTSUPP when listener i can have none, or another
 * negative errno: the kernel lets only the same user join the group (a
 * process that dropped privileges gets EADDRINUSE), or a port below 1024
 * needs the privilege it no longer has. */
int ss__listener_sibling(ss_server_t *s, int i)
{
    if (i < 0 || i >= s->nls) return -EINVAL;
    const ss__listener *l = &s->ls[i];
    int fam = l->addr.sa.ss_family, on = 0;
    socklen_t len = sizeof on;
    if (!s->cfg.reuse_port || l->fd < 0 || ss__is_dgram(l->transport) ||
        (fam != AF_INET && fam != AF_INET6))
        return -EOPNOTSUPP;
    if (getsockopt(l->fd, SOL_SOCKET, SO_REUSEPORT, &on, &len) < 0 || !on) return -EOPNOTSUPP;
    ss_addr_t bound;
    return ss__listen_socket(&l->addr, &s->cfg, &bound);
}

/* Which stream transport a connected socket is, from SO_DOMAIN (socket(7)),
 * and that it is one: a stream, connected, not a listener. */
static int conn_transport(int fd, int tls, ss_transport_t *t)
{
    int domain = 0, type = 0, listening = 0;
    socklen_t len = sizeof domain;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0) return ss__errno();
    len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) return ss__errno();
    len = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0) return ss__errno();
    if (type != SOCK_STREAM || listening) return -EINVAL;
    if (domain == AF_UNIX)
        *t = SS_UNIX;
    else if (domain == AF_INET || domain == AF_INET6)
        *t = tls ? SS_TLS : SS_TCP;
    else
        return -EINVAL;
    return 0;
}

int ss__listener_for_conn(ss_server_t *s, int fd, int tls)
{
    ss_transport_t t = SS_TCP;
    ss_addr_t local;
    memset(&local, 0, sizeof local);
    int rc = conn_transport(fd, tls, &t);
    if (rc == 0) rc = ss__local_addr(fd, t, &local);
    if (rc == 0) rc = tls_ready(s, &local, "serve_conn");
    if (rc == SS_EUSAGE || rc == SS_EMODE) return rc;
    if (rc == -EINVAL)
        return ss__fail_into(s->errmsg, rc, "serve_conn: descriptor %d is not a connected stream",
                             fd);
    if (rc < 0) return ss__fail_into(s->errmsg, rc, "serve_conn: descriptor %d", fd);
    int i = add_listener(s, -1, &local);
    return i < 0 ? i : add_layers(s, i);
}

int ss__listener_add_layer(ss_server_t *s, int i, int (*push)(ss_conn_t *c, void *arg), void *arg)
{
    if (i < 0 || i >= s->nls || ss__is_dgram(s->ls[i].transport) || !push) return -EINVAL;
    ss__listener *l = &s->ls[i];
    if (l->nlayers == SS__LAYERS_MAX) return -ENOSPC;
    l->layers[l->nlayers++] = (ss__layer_spec){.push = push, .arg = arg};
    return 0;
}

int ss_server_listener_count(const ss_server_t *s)
{
    return s->nls;
}

int ss_server_listener_fd(const ss_server_t *s, int i)
{
    if (i < 0 || i >= s->nls) return -EINVAL;
    return s->ls[i].fd >= 0 ? s->ls[i].fd : -EBADF;
}

int ss_server_address(const ss_server_t *s, int i, ss_addr_t *out)
{
    if (i < 0 || i >= s->nls) return -EINVAL;
    *out = s->ls[i].addr;
    return 0;
}

static void close_listener(ss_server_t *s, ss__listener *l)
{
    if (l->fd < 0) return;
    close(l->fd);
    l->fd = -1;
    /* Only the process that bound the file removes it (not a fork child). */
    if (!l->owns_path || getpid() != s->pid) return;
    int rc = ss__unlink_unix(&l->addr, l->dev, l->ino);
    if (rc < 0) {
        /* Say so: a file left behind is replaced by the next server (a stale
         * socket), but whoever looks for it should know why it is there. */
        char text[SS_ADDRSTRLEN];
        ss_addr_format(&l->addr, text, sizeof text);
        ss__log(s, SS_LOG_WARN, "remove %s: %s; the socket file is left behind", text,
                ss_strerror(rc));
    }
}

/* Stream listeners close at once: a new client is refused, not left in a
 * backlog nobody serves. A datagram listener is also the socket handlers
 * send their replies from, so it stays open (unread) until they are done. */
void ss__close_listeners(ss_server_t *s)
{
    if (atomic_exchange(&s->closed, 1)) return;
    for (int i = 0; i < s->nls; i++)
        if (!ss__is_dgram(s->ls[i].transport)) close_listener(s, &s->ls[i]);
}

void ss__free_listeners(ss_server_t *s)
{
    for (int i = 0; i < s->nls; i++) close_listener(s, &s->ls[i]);
    free(s->ls);
    s->ls = NULL;
    s->nls = s->capls = 0;
}
