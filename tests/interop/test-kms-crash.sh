#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-kms-crash.sh — kill -9 envol-kmsd in the middle of a storm of CreateKey, Encrypt and
# GenerateDataKeyWithoutPlaintext (managed key created on first use) from 8 connections; after a
# restart every acknowledged key is described (Enabled) and every acknowledged ciphertext
# decrypts to what was encrypted.  Twice, so the second storm also runs over a recovered store.
source "$(dirname "$0")/functions.sh"
requires curl

envol_tmpdir
write_config ""
SOCK=$T/run/kms.sock

for round in 1 2; do
    start_kmsd
    $PY "$ENVOL_SOURCE_DIR/tests/interop/kms_storm.py" storm "$SOCK" "$T/acked.jsonl" 8 \
        >"$T/storm.log" 2>&1 &
    STORM=$!
    cleanup_fn "kill $STORM 2>/dev/null"
    sleep 2
    kill -9 "$KMSD_PID"
    wait "$KMSD_PID" 2>/dev/null || true
    wait "$STORM" || { cat "$T/storm.log"; fail "storm client failed"; }
    cat "$T/storm.log"
    [ "$(wc -l <"$T/acked.jsonl")" -gt 20 ] || fail "round $round: too few acknowledged requests"

    start_kmsd   # returns at once (the stale socket exists): wait until the new daemon answers
    for ((i = 0; i < 100; i++)); do
        curl -s --unix-socket "$SOCK" -o /dev/null http://localhost/ && break
        sleep 0.1
    done
    $PY "$ENVOL_SOURCE_DIR/tests/interop/kms_storm.py" verify "$SOCK" "$T/acked.jsonl" \
        || fail "round $round: acknowledged work lost across kill -9"
    kill -TERM "$KMSD_PID"
    wait "$KMSD_PID" || fail "exit status after SIGTERM"
done
if [ -x "$BIN/envolctl" ]; then
    "$BIN/envolctl" -c "$CONF" audit verify "$T/state/audit.log" || fail "audit chain after kill -9"
fi
echo OK
