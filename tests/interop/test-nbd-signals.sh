#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-nbd-signals.sh — issue 9 item 15 (envold): SIGHUP does not kill envold; it reloads the
# limits (server.max_connections lowered to 1 takes effect: a second client is refused) and
# says so in the log.  SIGTERM: a client with three 32 MiB reads in flight (replies not yet
# read) sends a new request after the stop began; it gets its three reads intact, then
# NBD_ESHUTDOWN for the new one, then a clean disconnect; envold exits 0.
source "$(dirname "$0")/functions.sh"

envol_tmpdir
write_config
start_kmsd
"$BIN/envolctl" -c "$CONF" volume create sig --size 128M >/dev/null
start_envold

log_has() { grep -qF -- "$1" "$T/envold.log"; }

# SIGHUP: alive, limits reloaded
sed -i 's/^server: {$/server: {\n  max_connections = 1;/' "$CONF"
kill -HUP "$ENVOLD_PID"
wait_until 20 "reload log line" log_has "SIGHUP: limits reloaded (server.max_connections 1,"
kill -0 "$ENVOLD_PID" 2>/dev/null || fail "envold died of SIGHUP"
echo "SIGHUP: envold alive, limits reloaded"

PYTHONPATH=$ENVOL_SOURCE_DIR/tests/interop SOCK=$T/run/nbd.sock $PY - <<'PY'
import os, socket, sys
import nbd_raw as raw
sock = os.environ["SOCK"]
def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)
s, _ = raw.connect(sock, "sig", go=False)
raw.pwrite(s, 0, b"h" * 4096)
s2 = socket.socket(socket.AF_UNIX)
s2.settimeout(20)
s2.connect(sock)
if s2.recv(18) != b"":
    fail("a second client was served after SIGHUP lowered server.max_connections to 1")
if raw.pread(s, 0, 4096) != b"h" * 4096:
    fail("the first client after SIGHUP")
print("after SIGHUP: max_connections = 1 applies, the first client keeps working")
PY

# SIGTERM with requests in flight
sed -i '/^  max_connections = 1;$/d' "$CONF"
kill -HUP "$ENVOLD_PID"
wait_until 20 "second reload" log_has "SIGHUP: limits reloaded (server.max_connections 256,"
PYTHONPATH=$ENVOL_SOURCE_DIR/tests/interop SOCK=$T/run/nbd.sock LOG=$T/envold.log PID=$ENVOLD_PID $PY - <<'PY'
import os, signal, sys, time
import nbd_raw as raw
sock, log, pid = os.environ["SOCK"], os.environ["LOG"], int(os.environ["PID"])
def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)
s, _ = raw.connect(sock, "sig", go=False)
s.settimeout(60)
pattern = bytes(range(256)) * (128 << 10)     # 32 MiB
raw.pwrite(s, 0, pattern, cookie=50)
# in flight: three reads sent in one piece, so the server reads them in one go; the first
# reply's header arriving shows it has them all; the replies are not read before SIGTERM
import struct
s.sendall(b"".join(struct.pack(">IHHQQI", raw.REQ_MAGIC, 0, raw.CMD_READ, i, 0, 32 << 20)
                   for i in range(3)))
magic, err, first = struct.unpack(">IIQ", raw.recvall(s, 16))
if magic != raw.SIMPLE_MAGIC or err or first not in (0, 1, 2):
    fail("first in-flight read reply: magic %#x error %d cookie %d" % (magic, err, first))
os.kill(pid, signal.SIGTERM)
end = time.monotonic() + 30
while "new requests get NBD_ESHUTDOWN" not in open(log).read():
    if time.monotonic() > end:
        fail("no stop log line within 30 s")
    time.sleep(0.05)
raw.send_request(s, raw.CMD_READ, 0, 4096, cookie=99)      # after the stop began
got = {first: (0, raw.recvall(s, 32 << 20))}
for _ in range(3):
    c, err, data = raw.read_reply(s, {0: 32 << 20, 1: 32 << 20, 2: 32 << 20, 99: 4096})
    got[c] = (err, data)
for i in range(3):
    if got.get(i) != (0, pattern):
        fail("in-flight read %d: not completed intact" % i)
if got.get(99, (None,))[0] != raw.ESHUTDOWN:
    fail("request after SIGTERM: %r, want NBD_ESHUTDOWN (108)" % (got.get(99, (None,))[0],))
if s.recv(1) != b"":
    fail("no disconnect after the in-flight requests completed")
print("SIGTERM: in-flight reads completed, the new request got NBD_ESHUTDOWN, then EOF")
PY
wait "$ENVOLD_PID" && rc=0 || rc=$?
[ "$rc" = 0 ] || fail "envold exited $rc after SIGTERM"
echo "envold exited 0"
