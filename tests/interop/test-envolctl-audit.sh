#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-envolctl-audit.sh — envolctl audit verify|tail on the audit log a real envol-kmsd
# writes: an intact log verifies with the right record count; a changed, a removed and a
# reordered line each fail verification (exit 1) naming the line; tail shows the last N
# records as a table (time, principal, operation, key, error) and as raw JSON lines.
source "$(dirname "$0")/functions.sh"
requires jq sed
[ -x "$BIN/envol-kmsd" ] || { echo "$0: skipped: $BIN/envol-kmsd not built"; exit 77; }

envol_tmpdir
write_config
start_kmsd
LOG=$T/state/audit.log

id=$(ctl --json key create --description audited | jq -r .KeyMetadata.KeyId)
ctl key disable "$id" >/dev/null
ctl key show 11111111-2222-4333-8444-555555555555 2>/dev/null && fail "unknown key shown"
for i in 1 2 3 4 5 6; do ctl key show "$id" >/dev/null; done
ctl key enable "$id" >/dev/null
[ -s "$LOG" ] || fail "no audit log at $LOG"
lines=$(wc -l <"$LOG")
[ "$lines" -ge 5 ] || fail "only $lines audit records"

# --- verify ---------------------------------------------------------------------------------
out=$(ctl audit verify)
[ "$out" = "audit log OK: $lines records, chain intact" ] || fail "verify said: $out"
out=$(ctl audit verify "$LOG")
[ "$out" = "audit log OK: $lines records, chain intact" ] || fail "verify FILE said: $out"
[ "$(ctl --json audit verify | jq -r .ok)" = true ] || fail "verify --json"

cp "$LOG" "$T/changed.log"
sed -i '3s/"operation":"[A-Za-z]*"/"operation":"GenerateRandom"/' "$T/changed.log"
! cmp -s "$LOG" "$T/changed.log" || sed -i '3s/principal/principaL/' "$T/changed.log"
! cmp -s "$LOG" "$T/changed.log" || fail "could not tamper with line 3"
rc=0; ctl audit verify "$T/changed.log" >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "changed line: verify exited $rc"
grep -Eq "line [34]" "$T/err" || { cat "$T/err"; fail "changed line: not named"; }
grep -q "NOT intact" "$T/err" || fail "changed line: message"
[ "$(ctl --json audit verify "$T/changed.log" 2>/dev/null | jq -r .ok)" = false ] || fail "verify --json on a bad log"

sed '2d' "$LOG" >"$T/removed.log"
rc=0; ctl audit verify "$T/removed.log" >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "removed line: verify exited $rc"
grep -q "line 2" "$T/err" || { cat "$T/err"; fail "removed line: not named"; }

awk 'NR == 2 {held = $0; next} {print} NR == 3 {print held}' "$LOG" >"$T/reordered.log"
rc=0; ctl audit verify "$T/reordered.log" >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "reordered lines: verify exited $rc"
grep -q "line 2" "$T/err" || { cat "$T/err"; fail "reordered lines: not named"; }

rc=0; ctl audit verify "$T/missing.log" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "missing file: exit $rc"

# --- tail -------------------------------------------------------------------------------------
ctl audit tail -n 3 >"$T/tail.txt"
[ "$(wc -l <"$T/tail.txt")" = 4 ] || { cat "$T/tail.txt"; fail "tail -n 3: not header + 3 rows"; }
head -1 "$T/tail.txt" | grep -Eq '^TIME +PRINCIPAL +VIA +OPERATION +KEY +GRANT +DECISION +ERROR$' || fail "tail header"
tail -1 "$T/tail.txt" | grep -Eq "arn:aws:iam::000000000000:user/unix/root +- +EnableKey +arn:aws:kms:local:000000000000:key/$id +- +allowed +-$" ||
    { cat "$T/tail.txt"; fail "tail: last record is not EnableKey of $id"; }
grep -q NotFoundException <(ctl audit tail -n 50) || fail "tail: the refused DescribeKey is not shown"
ctl --json audit tail -n 2 >"$T/tail.json"
[ "$(wc -l <"$T/tail.json")" = 2 ] || fail "tail --json: not 2 lines"
cmp <(tail -n 2 "$LOG") "$T/tail.json" || fail "tail --json differs from the log's last lines"
jq -e -s 'length == 2 and .[1].operation == "EnableKey"' "$T/tail.json" >/dev/null || fail "tail --json: jq"
# the CloudTrail-like fields are kept by --json
jq -e -s '.[1] | .decision == "allowed" and .userIdentity.type == "IAMUser" and
    .userIdentity.arn == "arn:aws:iam::000000000000:user/unix/root" and
    .userIdentity.accountId == "000000000000" and .invokedBy == null and .grantId == null' \
    "$T/tail.json" >/dev/null || { cat "$T/tail.json"; fail "tail --json: userIdentity, decision"; }
grep -E 'NotFoundException' <(ctl audit tail -n 50) | grep -Eq ' - +NotFoundException$' ||
    fail "tail: a request refused before any decision does not show DECISION -"
want=$(( lines < 10 ? lines + 1 : 11 ))
[ "$(ctl audit tail | wc -l)" = "$want" ] || fail "tail default is not 10 records"
[ "$(ctl audit tail -n 100000 | wc -l)" = $((lines + 1)) ] || fail "tail of more than there is"
rc=0; ctl audit tail -n 0 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "tail -n 0 exit $rc"
echo PASS
