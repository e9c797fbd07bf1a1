#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-kms-signals.sh — issue 9, item 15 (envol-kmsd's half): SIGHUP does not kill envol-kmsd
# (it logs that there is nothing to reload and keeps serving); SIGTERM then drains and exits 0.
source "$(dirname "$0")/functions.sh"
requires jq

envol_tmpdir
write_config
start_kmsd
KEY=$(ctl --json key create --description hup | jq -r .KeyMetadata.KeyId)
kill -HUP "$KMSD_PID"
wait_until 10 "the SIGHUP log line" grep -q "SIGHUP: reloaded" "$T/kmsd.log"
kill -0 "$KMSD_PID" 2>/dev/null || fail "envol-kmsd died of SIGHUP"
ctl key show "$KEY" >/dev/null || fail "no answer after SIGHUP"
kill -TERM "$KMSD_PID"
rc=0; wait "$KMSD_PID" || rc=$?
[ "$rc" = 0 ] || fail "envol-kmsd exited $rc on SIGTERM"
grep -q "Received SIGTERM, finishing in-flight requests" "$T/kmsd.log" || fail "no drain on SIGTERM"
echo PASS
