#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-nbd-limits.sh — issue 9 item 9: server.max_connections, server.handshake_timeout and
# server.max_inflight_mib.  With max_connections = 3, a fourth client is closed before the
# greeting (and the log says why) while the three keep reading and writing; once one leaves, a
# new client is served.  A client silent in the handshake is dropped after handshake_timeout
# (2 s here).  With the global budget at its 64 MiB minimum, two clients pipelining 32 MiB
# writes (256 MiB in all) wait for it and all succeed.  SIGHUP reloads the limits.
source "$(dirname "$0")/functions.sh"

envol_tmpdir
write_config
sed -i 's/^server: {$/server: {\n  max_connections = 3;\n  handshake_timeout = 2;\n  max_inflight_mib = 64;/' "$CONF"
start_kmsd
"$BIN/envolctl" -c "$CONF" volume create lim --size 256M >/dev/null
start_envold

PYTHONPATH=$ENVOL_SOURCE_DIR/tests/interop SOCK=$T/run/nbd.sock LOG=$T/envold.log $PY - <<'PY'
import os, socket, sys, time
import nbd_raw as raw

sock, log = os.environ["SOCK"], os.environ["LOG"]
def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)

def wait_until(secs, what, fn):
    end = time.monotonic() + secs
    while not fn():
        if time.monotonic() > end:
            fail(what + ": not within %d s" % secs)
        time.sleep(0.05)

def log_has(text):
    with open(log) as f:
        return text in f.read()

# three clients in transmission: the limit
clients = [raw.connect(sock, "lim", go=False)[0] for _ in range(3)]
for i, s in enumerate(clients):
    raw.pwrite(s, i << 20, bytes([i + 1]) * 4096)

# the fourth is closed before the greeting
s4 = socket.socket(socket.AF_UNIX)
s4.settimeout(20)
s4.connect(sock)
if s4.recv(18) != b"":
    fail("a fourth connection got a greeting with server.max_connections = 3")
s4.close()
wait_until(10, "log line for the refused connection",
           lambda: log_has("connection refused: 3 connections open, server.max_connections is 3"))
print("fourth connection: closed before the greeting, logged")
for i, s in enumerate(clients):                       # the server keeps serving
    if raw.pread(s, i << 20, 4096) != bytes([i + 1]) * 4096:
        fail("client %d: data after the refusal" % i)

# one leaves: a new client is served again
raw.send_request(clients[0], raw.CMD_DISC, 0, 0, 0)
clients[0].close()
def served():
    try:
        s, _ = raw.connect(sock, "lim", go=False, timeout=5)
    except (EOFError, OSError):
        return False
    clients[0] = s
    return True
wait_until(20, "a new client served after one left", served)
if raw.pread(clients[0], 2 << 20, 4096) != bytes([3]) * 4096:
    fail("the new client's read")
print("after one client left, a new one is served")
for s in clients[1:]:
    s.close()

# handshake timeout: a client that says nothing after the greeting is dropped
s = None
def silent():
    global s
    try:
        s = raw.greet(sock, timeout=20)
        return True
    except (EOFError, OSError):
        return False
wait_until(20, "greeting for the silent client", silent)
start = time.monotonic()
try:
    got = s.recv(1)
except socket.timeout:
    fail("a client silent in the handshake was not dropped within 20 s")
if got != b"":
    fail("the server sent %r to a silent client" % got)
print("silent client dropped after %.1f s (server.handshake_timeout = 2)" % (time.monotonic() - start))
wait_until(10, "log line for the handshake timeout",
           lambda: log_has("no export chosen within server.handshake_timeout (2 s)"))
clients[0].close()

# the global budget (64 MiB): two clients pipeline four 32 MiB writes each (256 MiB in all);
# they wait for the budget and every write succeeds
import threading
errors = []
def writer(k):
    try:
        s, _ = raw.connect(sock, "lim", go=False)
        s.settimeout(120)
        for i in range(4):
            raw.send_request(s, raw.CMD_WRITE, (4 * k + i) * (32 << 20), 32 << 20, cookie=i,
                             data=bytes([16 * k + i + 1]) * (32 << 20))
        for _ in range(4):
            c, err, _ = raw.read_reply(s, {})
            if err:
                errors.append("client %d write %d: error %d" % (k, c, err))
        for i in range(4):
            if raw.pread(s, (4 * k + i) * (32 << 20) + 12345, 100) != bytes([16 * k + i + 1]) * 100:
                errors.append("client %d write %d: data differs" % (k, i))
        s.close()
    except Exception as e:
        errors.append("client %d: %s" % (k, e))
ts = [threading.Thread(target=writer, args=(k,)) for k in range(2)]
for t in ts:
    t.start()
for t in ts:
    t.join(180)
if any(t.is_alive() for t in ts) or errors:
    fail("pipelined writes under the global budget: %s" % (errors or "not done in 180 s"))
print("8 pipelined 32 MiB writes under a 64 MiB global budget: all succeeded")
PY
echo ok
