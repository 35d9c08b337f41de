#!/usr/bin/env python3
"""slowpeer.py - slow and stalled clients for tests/adversary/deadline.sh,
each bounded in time. Every command prints one summary line and exits 0 when
the server behaved as expected, 1 when it did not, 2 when it could not run.

  loris HOST PORT N INTERVAL BOUND   N clients each send one byte every
        INTERVAL seconds and never end a line; each must be closed by the
        server within BOUND seconds of its first byte.
  honest HOST PORT LINE INTERVAL     one client types LINE a byte every
        INTERVAL seconds, then its end; the upper-cased line must come back.
  trickle HOST PORT INTERVAL LINELEN BOUND   one client sends lines of
        LINELEN bytes, a byte every INTERVAL seconds (each line ends in time
        for any line deadline), and must be closed within BOUND seconds.
  pauser HOST PORT PAUSE COUNT       one client sends COUNT lines at once,
        pausing PAUSE seconds between lines; each must be answered.
  noread HOST PORT HOLD [CAFILE]     one client connects (with CAFILE: TLS,
        handshake done), never reads, and holds the connection HOLD seconds.
"""
import select
import socket
import ssl
import sys
import time


def connect(host, port):
    s = socket.create_connection((host, int(port)), timeout=10)
    s.setblocking(False)
    return s


def closed(s):
    """Whether the server has closed s (end of stream or an error)."""
    try:
        r, _, _ = select.select([s], [], [], 0)
        if not r:
            return False
        return s.recv(4096) == b""
    except OSError:
        return True


def loris(host, port, n, interval, bound):
    socks = [connect(host, port) for _ in range(int(n))]
    interval, bound = float(interval), float(bound)
    first = [None] * len(socks)
    ended = [None] * len(socks)
    start = time.monotonic()
    nxt = start
    while time.monotonic() - start < bound + 10 * len(socks):
        now = time.monotonic()
        for i, s in enumerate(socks):
            if ended[i] is None and closed(s):
                ended[i] = now
        if all(e is not None for e in ended):
            break
        if now >= nxt:
            for i, s in enumerate(socks):
                if ended[i] is not None:
                    continue
                try:
                    s.send(b"a")
                    if first[i] is None:
                        first[i] = now
                except OSError:
                    ended[i] = now
            nxt += interval
        time.sleep(0.02)
    held = [e - f if e is not None and f is not None else None for f, e in zip(first, ended)]
    if any(h is None for h in held):
        print("loris: %d of %d clients still held" % (held.count(None), len(held)))
        return 1
    worst = max(held)
    print("loris: %d clients closed, the longest %.2f s after its first byte (bound %.1f s)"
          % (len(held), worst, bound))
    return 0 if worst <= bound else 1


def read_line(s, deadline):
    buf = b""
    while b"\n" not in buf and time.monotonic() < deadline:
        r, _, _ = select.select([s], [], [], 0.1)
        if r:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    return buf


def honest(host, port, line, interval):
    s = connect(host, port)
    for ch in line.encode():
        s.send(bytes([ch]))
        time.sleep(float(interval))
    s.send(b"\n")
    got = read_line(s, time.monotonic() + 5)
    ok = got == line.upper().encode() + b"\n"
    print("honest: sent %r over %.1f s, got %r" % (line, len(line) * float(interval), got))
    return 0 if ok else 1


def trickle(host, port, interval, linelen, bound):
    s = connect(host, port)
    start = time.monotonic()
    sent = 0
    while time.monotonic() - start < float(bound) + 5:
        if closed(s):
            took = time.monotonic() - start
            print("trickle: closed after %.2f s and %d bytes (bound %s s)" % (took, sent, bound))
            return 0 if took <= float(bound) else 1
        try:
            s.send(b"\n" if sent % int(linelen) == int(linelen) - 1 else b"a")
            sent += 1
        except OSError:
            continue
        time.sleep(float(interval))
    print("trickle: still held after %.1f s" % (time.monotonic() - start))
    return 1


def pauser(host, port, pause, count):
    s = connect(host, port)
    for i in range(int(count)):
        if i:
            time.sleep(float(pause))
        s.send(b"line %d\n" % i)
        got = read_line(s, time.monotonic() + 5)
        if got != b"LINE %d\n" % i:
            print("pauser: line %d got %r" % (i, got))
            return 1
    print("pauser: %s lines answered, %s s apart" % (count, pause))
    return 0


def noread(host, port, hold, cafile=None):
    s = socket.create_connection((host, int(port)), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    if cafile:
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.check_hostname = False
        s = ctx.wrap_socket(s)
    print("noread: connected%s; reading nothing" % (" (TLS)" if cafile else ""), flush=True)
    time.sleep(float(hold))
    return 0


def main(argv):
    cmds = {"loris": loris, "honest": honest, "trickle": trickle, "pauser": pauser,
            "noread": noread}
    if len(argv) < 2 or argv[1] not in cmds:
        print(__doc__)
        return 2
    try:
        return cmds[argv[1]](*argv[2:])
    except (OSError, TypeError, ValueError) as e:
        print("%s: %s" % (argv[1], e))
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
