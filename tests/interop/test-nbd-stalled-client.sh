#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-nbd-stalled-client.sh — issue 9 item 8: a client that stops reading its replies stalls
# only itself.  With one worker thread (the easiest pool to tie up), a raw client sends four
# 32 MiB reads and never reads a reply; while it stays connected, a second client on another
# volume does reads, writes (small and large, FUA) and flushes, and each completes within a
# generous deadline.  Then the stalled client reads everything it asked for, intact.
source "$(dirname "$0")/functions.sh"
$PY -c 'import nbd' 2>/dev/null || { echo "$0: skipped: python3-libnbd missing"; exit 77; }

envol_tmpdir
write_config
sed -i 's/^server: {$/server: {\n  threads = 1;/' "$CONF"
start_kmsd
"$BIN/envolctl" -c "$CONF" volume create stall --size 128M >/dev/null
"$BIN/envolctl" -c "$CONF" volume create other --size 64M >/dev/null
start_envold

PYTHONPATH=$ENVOL_SOURCE_DIR/tests/interop SOCK=$T/run/nbd.sock $PY - <<'PY'
import os, socket, sys, threading, time
import nbd
import nbd_raw as raw

sock = os.environ["SOCK"]
def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    os._exit(1)

# the stalled client: four 32 MiB reads, no reply read
s, size = raw.connect(sock, "stall", go=False)
pattern = bytes(range(256)) * 4096          # 1 MiB
for i in range(4):
    raw.pwrite(s, i * (32 << 20), pattern * 32, cookie=100 + i)
N = 4
for i in range(N):
    raw.send_request(s, raw.CMD_READ, (i % 4) * (32 << 20), 32 << 20, cookie=i)

# the other client, on another volume, while the stalled one holds its replies back
result = {}
def other():
    try:
        h = nbd.NBD()
        h.connect_uri("nbd+unix:///other?socket=" + sock)
        for k in range(20):
            d = bytes([k]) * 65536
            h.pwrite(d, k * 65536)
            if h.pread(65536, k * 65536) != d:
                raise Exception("small read %d differs" % k)
        big = os.urandom(1 << 20) * 8
        h.pwrite(big, 8 << 20, nbd.CMD_FLAG_FUA)        # through the worker pool
        h.flush()
        if h.pread(8 << 20, 8 << 20) != big:
            raise Exception("8 MiB read differs")
        h.flush()
        h.shutdown()
        result["ok"] = True
    except Exception as e:
        result["error"] = str(e)

t = threading.Thread(target=other, daemon=True)
t.start()
t.join(60)
if t.is_alive():
    fail("the second client's reads, writes and flushes did not complete within 60 s "
         "while another client did not read its replies")
if "error" in result:
    fail("second client: " + result["error"])
print("second client: reads, writes and flushes completed while the stalled client was connected")

# the stalled client reads its replies now: all there, in whatever order
s.settimeout(60)
seen = set()
for _ in range(N):
    c, err, data = raw.read_reply(s, {i: 32 << 20 for i in range(N)})
    if err or c in seen or data != pattern * 32:
        fail("stalled client: reply %d error %d or data differs" % (c, err))
    seen.add(c)
print("stalled client: its %d replies arrived intact once it read them" % N)
s.close()
PY
echo ok
