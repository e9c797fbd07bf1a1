#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-nbd-systemd.sh — envold's systemd glue and listeners: started by systemd-socket-activate
# it serves on the passed socket (sd_listen_fds) and tells $NOTIFY_SOCKET READY=1, a STATUS=
# line counting attached exports and connections, then STOPPING=1 on SIGTERM, and exits 0;
# started normally with server.listen set it also serves NBD over TCP on 127.0.0.1.
source "$(dirname "$0")/functions.sh"
requires nbdinfo systemd-socket-activate jq

envol_tmpdir
write_config
start_kmsd
"$BIN/envolctl" -c "$CONF" volume create act --size 8M >/dev/null

# a datagram socket standing in for systemd's notification socket
NOTIFY=$T/notify.sock
$PY - "$NOTIFY" >"$T/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
while True:
    try:
        m = s.recv(4096).decode()
    except socket.timeout:
        break
    print(m.replace("\n", "|"), flush=True)
    if "STOPPING=1" in m:
        break
PY
npid=$!
cleanup_fn "kill $npid 2>/dev/null"
wait_until 10 "the notification socket $NOTIFY appears" test -S "$NOTIFY"

ASOCK=$T/run/activated.sock
systemd-socket-activate -E NOTIFY_SOCKET="$NOTIFY" -l "$ASOCK" \
    "$BIN/envold" -c "$CONF" >"$T/envold.log" 2>&1 &
apid=$!
cleanup_fn "kill $apid 2>/dev/null; wait $apid 2>/dev/null"
wait_until 10 "systemd-socket-activate listens on $ASOCK" test -S "$ASOCK"
[ "$(nbdinfo --size "nbd+unix:///act?socket=$ASOCK")" = 8388608 ] ||
    fail "no export on the activated socket: $(cat "$T/envold.log")"
[ ! -e "$T/run/nbd.sock" ] || fail "envold made server.socket although sockets were passed"
grep -q "using 1 socket(s) from systemd" "$T/envold.log" || fail "log: $(cat "$T/envold.log")"
# hold a connection open until STATUS counts it, then close it and wait for the idle STATUS
status_after() { # PATTERN-BEFORE PATTERN: a line matching PATTERN after one matching BEFORE
    awk -v a="$1" -v b="$2" 'index($0, a) { seen = 1 } seen && index($0, b) { found = 1 }
                             END { exit !found }' "$T/notify.log"
}
holder_open act "nbd+unix:///act?socket=$ASOCK" || fail "holder: $HOLDER_MSG"
wait_until 10 "STATUS counts the open connection" \
    grep -q "STATUS=1 export attached, 1 connection" "$T/notify.log"
holder_close act
wait_until 10 "STATUS goes back to idle after the client left" \
    status_after "STATUS=1 export attached, 1 connection" "STATUS=0 exports attached, 0 connections"
kill -TERM $apid
wait $apid || fail "activated envold exited $?"
wait $npid || true
cat "$T/notify.log"
grep -q "READY=1" "$T/notify.log" || fail "no READY=1"
grep -q "STATUS=1 export attached, 1 connection" "$T/notify.log" || fail "no STATUS with counts"
grep -q "STATUS=0 exports attached, 0 connections" "$T/notify.log" || fail "no idle STATUS"
grep -q "STOPPING=1" "$T/notify.log" || fail "no STOPPING=1"
echo "socket activation and sd_notify work"

# TCP listener from server.listen (loopback only)
port=$(free_port)
perl -0pi -e "s/server: \{\n  listen = \"\"/server: {\n  allow_plain_tcp = true;\n  listen = \"127.0.0.1:$port\"/" "$CONF"
grep -q "listen = \"127.0.0.1:$port\"" "$CONF" || fail "could not set server.listen"
start_envold
# a plain TCP client has no identity: the export is listed, its attach refused
wait_until 10 "envold answers on 127.0.0.1:$port" plain_tcp_serves "127.0.0.1:$port" act
plain_tcp_serves "127.0.0.1:$port" act || fail "no export over TCP: $REFUSAL"
[ "$(nbdinfo --size "nbd+unix:///act?socket=$T/run/nbd.sock")" = 8388608 ] ||
    fail "no export on the Unix socket next to TCP"
echo "TCP listener on 127.0.0.1:$port works"

# an orderly stop: drain, flush, wipe keys, exit 0 (a sanitizer report would make it fail)
kill -TERM "$ENVOLD_PID"
wait "$ENVOLD_PID" || fail "envold exited $? on SIGTERM: $(tail -20 "$T/envold.log")"
