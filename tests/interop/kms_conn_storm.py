#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""kms_conn_storm.py UNIX_SOCKET TCP_PORT TIMEOUT — envol-kmsd under hostile connections:
100 stalled clients on each listener (half a request line, or headers promising a body that never
comes) must not stop a well-behaved client from being answered at once; the stalled ones must be
cut off after the connection timeout; 1100 simultaneous connections (over the limit) must not
take the daemon down.  Exits non-zero with a message on failure."""
import resource
import socket
import sys
import time

SOCK, PORT, TIMEOUT = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
LIST_KEYS = (b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-amz-json-1.1\r\n"
             b"X-Amz-Target: TrentService.ListKeys\r\nContent-Length: 2\r\nConnection: close\r\n"
             b"\r\n{}")


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def unix_conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(SOCK)
    return s


def tcp_conn():
    return socket.create_connection(("127.0.0.1", PORT))


def status_of(conn, request, timeout=5.0):
    conn.settimeout(timeout)
    conn.sendall(request)
    data = b""
    while b"\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    conn.close()
    line = data.split(b"\r\n", 1)[0].decode(errors="replace")
    parts = line.split()
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else 0


def served_now(what):
    t0 = time.monotonic()
    st = status_of(unix_conn(), LIST_KEYS)
    if st != 200:
        fail(f"{what}: Unix ListKeys answered {st}")
    st = status_of(tcp_conn(), LIST_KEYS)  # unsigned: must be refused with 400, promptly
    if st != 400:
        fail(f"{what}: unsigned TCP request answered {st}")
    dt = time.monotonic() - t0
    if dt > 3:
        fail(f"{what}: well-behaved requests took {dt:.1f}s")


soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

# 1. stalled clients on both listeners
stalled = []
for i in range(100):
    for mk in (unix_conn, tcp_conn):
        s = mk()
        if i % 2:
            s.sendall(b"POST / HTTP/1.1\r\nHost: local")  # headers never finish
        else:
            s.sendall(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
                      b"application/x-amz-json-1.1\r\nX-Amz-Target: TrentService.ListKeys\r\n"
                      b"Content-Length: 1000\r\n\r\n{\"Li")  # body never finishes
        stalled.append(s)
served_now("with 200 stalled connections")

# 2. the stalled ones are cut off after the connection timeout
deadline = time.monotonic() + TIMEOUT + 15
for s in stalled:
    s.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        while True:
            data = s.recv(4096)
            if not data:
                break  # closed by the daemon (possibly after an error response)
    except (ConnectionResetError, BrokenPipeError):
        pass
    except socket.timeout:
        fail(f"a stalled connection was still open {TIMEOUT + 15}s later")
    s.close()
served_now("after the stalled connections were cut off")

# 3. more simultaneous connections than the limit
many = []
try:
    for i in range(1100):
        many.append(unix_conn())
except OSError as e:
    fail(f"connect #{len(many)}: {e}")
time.sleep(0.5)
for s in many:
    s.close()
served_now("after 1100 simultaneous connections")

# 4. garbage that is not HTTP at all
for junk in (b"\x00\x01\x02\x03" * 64 + b"\r\n\r\n", b"GET\r\n\r\n", b"POST / HTTP/9.9\r\n\r\n",
             b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
             b"POST / HTTP/1.1\r\n" + b"X-Long: " + b"a" * 70000 + b"\r\n\r\n"):
    s = unix_conn()
    try:
        s.settimeout(5)
        s.sendall(junk)
        while s.recv(4096):
            pass
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        pass
    s.close()
served_now("after non-HTTP input")
print("connection storm OK")
