#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-nbd-unaligned.sh — issue 9 item 18: a client that did not ask for NBD_INFO_BLOCK_SIZE
# (NBD_OPT_EXPORT_NAME, or GO without that info request, like nbd-tester-client) may send
# requests of any offset and length: unaligned writes round-trip through read-modify-write, and
# a 1,048,590-byte read at an odd offset (nbd-tester-client's size) is answered.  A client that
# asked keeps the 512 / 4096-byte minimum (EINVAL for unaligned), and nbdinfo still shows it.
source "$(dirname "$0")/functions.sh"
requires nbdinfo

envol_tmpdir
write_config
start_kmsd
"$BIN/envolctl" -c "$CONF" volume create u512 --size 16M >/dev/null
"$BIN/envolctl" -c "$CONF" volume create u4k --size 16M --sector-size 4096 >/dev/null
start_envold

[ "$(nbdinfo --json "nbd+unix:///u512?socket=$T/run/nbd.sock" | $PY -c 'import json,sys; print(json.load(sys.stdin)["exports"][0]["block_size_minimum"])')" = 512 ] \
    || fail "u512: minimum block size is not 512"
[ "$(nbdinfo --json "nbd+unix:///u4k?socket=$T/run/nbd.sock" | $PY -c 'import json,sys; print(json.load(sys.stdin)["exports"][0]["block_size_minimum"])')" = 4096 ] \
    || fail "u4k: minimum block size is not 4096"

PYTHONPATH=$ENVOL_SOURCE_DIR/tests/interop SOCK=$T/run/nbd.sock $PY - <<'PY'
import os, random, sys
import nbd_raw as raw

sock = os.environ["SOCK"]
def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)

rnd = random.Random(9)
for name in ("u512", "u4k"):
    for go in (False, True):
        s, size = raw.connect(sock, name, go=go)
        model = bytearray(raw.pread(s, 0, size))
        if model != bytes(size):
            fail("%s: fresh volume is not zero" % name)
        # unaligned writes: inside one sector, across sectors, 1 byte, at the very end
        for off, n in ((1, 1), (777, 3000), (4095, 2), (12345, 1 << 20), (size - 7, 7)):
            d = bytes(rnd.getrandbits(8) for _ in range(min(n, 4096))) * (n // 4096 + 1)
            d = d[:n]
            raw.pwrite(s, off, d)
            model[off:off + n] = d
        # nbd-tester-client's oversize read: 1,048,590 bytes at an odd offset
        for off, n in ((3, 1048590), (12345, 1 << 20), (size - 1048590, 1048590), (4099, 1)):
            got = raw.pread(s, off, n)
            if got != bytes(model[off:off + n]):
                fail("%s go=%s: read %d@%d differs" % (name, go, n, off))
        if raw.pread(s, 0, size) != bytes(model):
            fail("%s go=%s: whole volume differs from the model" % (name, go))
        print("%s (%s): unaligned writes and reads round-trip" % (name, "GO" if go else "EXPORT_NAME"))
        # leave zeros for the next pass
        raw.pwrite(s, 0, bytes(size))
        s.close()
    # a client that asked for block sizes keeps the minimum
    s, size = raw.connect(sock, name, go=True, block_size=True)
    raw.send_request(s, raw.CMD_READ, 1, 512, 7)
    c, err, _ = raw.read_reply(s, {7: 512})
    if c != 7 or err != 22:
        fail("%s: unaligned read from a block-size client: error %d, want EINVAL" % (name, err))
    raw.send_request(s, raw.CMD_WRITE, 512, 100, 8, b"x" * 100)
    c, err, _ = raw.read_reply(s, {})
    if c != 8 or err != 22:
        fail("%s: unaligned write from a block-size client: error %d, want EINVAL" % (name, err))
    if raw.pread(s, 0, 4096) != bytes(4096):
        fail("%s: aligned read after the refusals" % name)
    print("%s: a client that asked for block sizes gets EINVAL for unaligned requests" % name)
    s.close()
PY
echo "ok"
