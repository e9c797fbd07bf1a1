#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-kms-audit-anchor.sh — issue 9, item 13: the audit chain is keyed and anchored in kms.db.
# Removing the newest records, or changing a record and recomputing every "prev" (with SHA-256
# as before, or HMAC under a guessed key), fails `envolctl audit verify`; envol-kmsd refuses to
# start on a cut log and says why.  Unauthenticated requests are aggregated per source and
# minute: a flood of bad signatures adds ten full records, then one "UnauthenticatedRequests"
# record with the count once the minute is over.
source "$(dirname "$0")/functions.sh"
requires curl jq

envol_tmpdir
use_test_clock
PORT=$(free_port)
write_config "127.0.0.1:$PORT"
start_kmsd
LOG=$T/state/audit.log
KEY=$(ctl --json key create --description anchored | jq -r .KeyMetadata.KeyId)
for i in 1 2 3 4 5; do ctl key show "$KEY" >/dev/null; done

# --- a flood of unauthenticated requests ---------------------------------------------------------
wait_until 10 "the TCP listener" curl -s -o /dev/null "http://127.0.0.1:$PORT/"
before=$(grep -c '"principal":"anonymous"' "$LOG" || true)
# Start the flood at the first second of a (test-clock) minute, so that it stays in one minute.
off=$(( (61 - $(date +%s) % 60) % 60 ))
echo "$off" >"$ENVOL_TEST_CLOCK_FILE"
for i in $(seq 40); do
    curl -s -o /dev/null -H 'Content-Type: application/x-amz-json-1.1' \
        -H 'X-Amz-Target: TrentService.ListKeys' \
        -H 'Authorization: AWS4-HMAC-SHA256 Credential=AKIDNOPE/20240101/local/kms/aws4_request, SignedHeaders=host, Signature=00' \
        --data '{}' "http://127.0.0.1:$PORT/"
done
full=$(( $(grep -c '"principal":"anonymous"' "$LOG") - before ))
[ "$full" -le 11 ] || fail "40 unauthenticated requests wrote $full records"
echo $((off + 61)) >"$ENVOL_TEST_CLOCK_FILE" # the minute is over
wait_until 10 "the UnauthenticatedRequests record" grep -q '"operation":"UnauthenticatedRequests"' "$LOG"
grep '"operation":"UnauthenticatedRequests"' "$LOG" | jq -e '.source == "tcp:127.0.0.1" and .count + '"$full"' == 40' >/dev/null ||
    fail "the aggregate record: $(grep UnauthenticatedRequests "$LOG")"

kill -TERM "$KMSD_PID"; wait "$KMSD_PID" || fail "envol-kmsd exited $? on SIGTERM"
ctl audit verify >/dev/null || fail "the intact log does not verify"
lines=$(wc -l <"$LOG")

# --- the newest records removed -------------------------------------------------------------------
head -n $((lines - 2)) "$LOG" >"$T/cut.log"
rc=0; ctl audit verify "$T/cut.log" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "cut log: verify exited $rc"
grep -q "removed from its end" "$T/err" || { cat "$T/err"; fail "cut log: not said"; }

# --- a record changed and the chain recomputed, without the key -------------------------------
rechain() { # rechain MODE < log > log: line 3 changed, every prev recomputed
    $PY -c '
import hashlib, hmac, json, sys, os
mode = sys.argv[1]; prev = "0" * 64; key = os.urandom(32)
for n, line in enumerate(sys.stdin, 1):
    rec = json.loads(line)
    if n == 3: rec["operation"] = "GenerateRandom"
    rec["prev"] = prev
    out = json.dumps(rec, separators=(",", ":"))
    print(out)
    prev = (hashlib.sha256(out.encode()).hexdigest() if mode == "sha256"
            else hmac.new(key, out.encode(), hashlib.sha256).hexdigest())
' "$1"
}
for mode in sha256 hmac; do
    rechain $mode <"$LOG" >"$T/rechained.log"
    rc=0; ctl audit verify "$T/rechained.log" 2>"$T/err" || rc=$?
    [ "$rc" = 1 ] || fail "rechained ($mode): verify exited $rc"
    grep -q "NOT intact" "$T/err" || { cat "$T/err"; fail "rechained ($mode): message"; }
done

# --- envol-kmsd does not start on a cut log, and writes nothing -----------------------------------
cp "$LOG" "$T/intact.log"
head -n $((lines - 2)) "$T/intact.log" >"$LOG"
sum=$(sha256sum <"$LOG")
rc=0; "$KMSD_BIN" -c "$CONF" >"$T/refused.log" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "envol-kmsd started on a cut audit log"
grep -q "removed from its end" "$T/refused.log" || { cat "$T/refused.log"; fail "the refusal does not say why"; }
[ "$(sha256sum <"$LOG")" = "$sum" ] || fail "the refused start changed the log"

# --- the log moved aside: a new file continues the chain ------------------------------------------
mv "$T/intact.log" "$T/state/audit.log.1"
rm -f "$LOG"
start_kmsd
ctl key show "$KEY" >/dev/null
head -n 1 "$LOG" | jq -e ".operation == \"AuditLogStarted\" and .seq == $((lines + 1))" >/dev/null ||
    fail "the new file does not start with AuditLogStarted: $(head -n 1 "$LOG")"
ctl audit verify >/dev/null || fail "the new file does not verify"
echo PASS
