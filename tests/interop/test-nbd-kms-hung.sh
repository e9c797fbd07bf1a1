#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-nbd-kms-hung.sh — issue 9 item 10: a hung KMS does not freeze envold.  The KMS is a
# fake that accepts and never answers; client.kms_timeout = 8.  While the attach of volume a
# waits for it: NBD_OPT_LIST answers, and the attach of volume b reaches the KMS too (it is not
# queued behind a's).  Both attaches then fail with an NBD error reply whose text says
# "KMS unreachable", not "no export named".
source "$(dirname "$0")/functions.sh"
requires nbdinfo

envol_tmpdir
write_config
start_kmsd
"$BIN/envolctl" -c "$CONF" volume create a --size 16M >/dev/null
"$BIN/envolctl" -c "$CONF" volume create b --size 16M >/dev/null

HUNG=$T/run/hung.sock
$PY - "$HUNG" <<'PY' &
import socket, sys, threading
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(16)
held = []
n = 0
while True:
    c, _ = s.accept()
    held.append(c)                   # accepted, read, never answered
    n += 1
    with open(path + ".log", "a") as f:
        f.write("connection %d\n" % n)
PY
HUNG_PID=$!
cleanup_fn "kill $HUNG_PID 2>/dev/null"
wait_until 20 "the hung KMS listens" test -S "$HUNG"
cat >>"$CONF" <<CONF
client: {
  kms_socket = "$HUNG";
  kms_timeout = 8;
};
CONF
start_envold

attach() {  # attach NAME: GO, expected to be refused; the text goes to $T/NAME.out
    PYTHONPATH=$ENVOL_SOURCE_DIR/tests/interop SOCK=$T/run/nbd.sock $PY - "$1" >"$T/$1.out" 2>&1 <<'PY'
import os, sys
import nbd_raw as raw
try:
    raw.connect(os.environ["SOCK"], sys.argv[1], timeout=120)
except raw.Error as e:
    print(e)
    sys.exit(0)
print("attached")
PY
}
kms_connections() { [ -f "$HUNG.log" ] && [ "$(wc -l <"$HUNG.log")" -ge "$1" ]; }

# envold's first KMS call is its start-up clean-up (ListRetirableGrants), in the background
wait_until 20 "the start-up clean-up reaches the KMS" kms_connections 1
attach a &
A_PID=$!
wait_until 20 "attach of a reaches the KMS" kms_connections 2

# while a's attach waits on the KMS: listing answers, b's attach reaches the KMS
list=$(timeout 6 nbdinfo --list --json "nbd+unix://?socket=$T/run/nbd.sock") \
    || fail "NBD_OPT_LIST did not answer within 6 s while an attach waited on the KMS"
echo "$list" | grep -q '"export-name": "a"' && echo "$list" | grep -q '"export-name": "b"' \
    || fail "listing: $list"
kill -0 "$A_PID" 2>/dev/null || fail "a's attach ended before the listing was checked: $(cat "$T/a.out")"
echo "listing answered while the attach of a waited"
attach b &
B_PID=$!
wait_until 6 "attach of b reaches the KMS while a's waits" kms_connections 3
kill -0 "$A_PID" 2>/dev/null || fail "a's attach ended too soon: $(cat "$T/a.out")"
echo "the attach of b reached the KMS while a's waited"

wait "$A_PID" || fail "attach a: $(cat "$T/a.out")"
wait "$B_PID" || fail "attach b: $(cat "$T/b.out")"
for v in a b; do
    grep -q "KMS unreachable" "$T/$v.out" || fail "attach $v: $(cat "$T/$v.out")"
    grep -q "no export named" "$T/$v.out" && fail "attach $v: $(cat "$T/$v.out")"
    echo "attach $v: $(cat "$T/$v.out")"
done
