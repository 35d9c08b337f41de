#!/usr/bin/env python3
"""hostile.py - TLS clients that misbehave, for tests/cli/tls.sh.

  hostile.py stall PORT        a ClientHello cut short, then silence: prints
                               the seconds until the server closes
  hostile.py abort N PORT      N handshakes abandoned half way (half closed
                               with FIN, half reset with RST)
  hostile.py garbage PORT CA   a full handshake (Python's ssl over memory
                               BIOs, so the socket stays ours), then a
                               record of random bytes: prints "closed" once
                               the server ends the session
"""
import os
import socket
import ssl
import struct
import sys
import time

HOST = "127.0.0.1"


def hello_prefix():
    """The first bytes of a real ClientHello, from Python's own client."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    data = out.read()
    return data[: len(data) // 2]


def until_closed(s, limit):
    s.settimeout(limit)
    t0 = time.monotonic()
    try:
        while s.recv(4096):
            pass
    except (ConnectionResetError, socket.timeout):
        pass
    return time.monotonic() - t0


def stall(port):
    s = socket.create_connection((HOST, port))
    s.sendall(hello_prefix())
    print("%.2f" % until_closed(s, 30))


def abort(n, port):
    part = hello_prefix()
    for i in range(n):
        s = socket.create_connection((HOST, port))
        s.sendall(part)
        if i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()


def pump(obj, s, out):
    data = out.read()
    if data:
        s.sendall(data)


def garbage(port, ca):
    ctx = ssl.create_default_context(cafile=ca)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    s = socket.create_connection((HOST, port))
    s.settimeout(10)
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            pump(obj, s, out)
            inc.write(s.recv(65536))
    pump(obj, s, out)
    # An application-data record (type 23, TLS 1.2 on the wire) of noise.
    body = os.urandom(64)
    s.sendall(bytes([23, 3, 3]) + struct.pack(">H", len(body)) + body)
    until_closed(s, 10)
    print("closed")


def main():
    cmd = sys.argv[1]
    if cmd == "stall":
        stall(int(sys.argv[2]))
    elif cmd == "abort":
        abort(int(sys.argv[2]), int(sys.argv[3]))
    elif cmd == "garbage":
        garbage(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit("usage: hostile.py stall|abort|garbage ...")


if __name__ == "__main__":
    main()
