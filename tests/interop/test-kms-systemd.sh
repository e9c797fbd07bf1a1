#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-kms-systemd.sh — envol-kmsd's systemd glue without systemd as PID 1: sd_notify READY=1,
# STATUS=, WATCHDOG=1 (WATCHDOG_USEC set) and STOPPING=1 received on a stand-in notification
# socket (kms_notify.py); socket activation through systemd-socket-activate (the passed Unix
# socket is served, with SO_PEERCRED, and kms.socket is not bound).
source "$(dirname "$0")/functions.sh"
requires curl jq

envol_tmpdir
write_config ""
CT='Content-Type: application/x-amz-json-1.1'

# ---- sd_notify ----
$PY "$ENVOL_SOURCE_DIR/tests/interop/kms_notify.py" "$T/notify.sock" "$T/notify.log" 30 &
NPID=$!
cleanup_fn "kill $NPID 2>/dev/null"
wait_until 10 "kms_notify.py binds $T/notify.sock" test -S "$T/notify.sock"
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=1000000 start_kmsd
wait_until 10 "READY=1 from envol-kmsd" grep -q '^READY=1' "$T/notify.log"
grep -q "^STATUS=Listening on unix:$T/run/kms.sock" "$T/notify.log" || fail "no STATUS=Listening"
# with WatchdogSec=1s the daemon pings at least every 0.5 s: 3 pings within 2.2 s of READY=1
watchdogs() { [ "$(grep -c '^WATCHDOG=1' "$T/notify.log" || true)" -ge 3 ]; }
wait_until 2.2 "3 WATCHDOG=1 with WatchdogSec=1s" watchdogs
kill -TERM "$KMSD_PID"
wait "$KMSD_PID" || fail "exit status after SIGTERM"
wait "$NPID" || true
grep -q '^STOPPING=1' "$T/notify.log" || { cat "$T/notify.log"; fail "no STOPPING=1"; }

# ---- socket activation ----
if command -v systemd-socket-activate >/dev/null; then
    rm -f "$T/run/kms.sock"
    systemd-socket-activate -l "$T/activated.sock" "$BIN/envol-kmsd" -c "$CONF" -v \
        >"$T/act.log" 2>&1 &
    APID=$!
    cleanup_fn "kill $APID 2>/dev/null; wait $APID 2>/dev/null"
    wait_until 10 "systemd-socket-activate listens on $T/activated.sock" test -S "$T/activated.sock"
    # the first connection starts the daemon, which serves it on the inherited socket
    KEY=$(curl -sS --max-time 20 --unix-socket "$T/activated.sock" -H "$CT" \
          -H 'X-Amz-Target: TrentService.CreateKey' -d '{}' http://localhost/ | jq -r .KeyMetadata.KeyId)
    [[ $KEY =~ ^[0-9a-f-]{36}$ ]] || { cat "$T/act.log"; fail "CreateKey on the activated socket"; }
    grep -F "$KEY" "$T/state/audit.log" | grep -q 'user/unix/root' || fail "activated caller not root"
    [ ! -e "$T/run/kms.sock" ] || fail "kms.socket bound although systemd passed a socket"
    grep -q "Listening on unix:$T/activated.sock" "$T/act.log" || { cat "$T/act.log"; fail "listener name"; }
    kill -TERM "$APID"
    wait "$APID" || fail "activated daemon: exit status after SIGTERM"
fi
echo OK
