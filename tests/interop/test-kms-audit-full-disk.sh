#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-kms-audit-full-disk.sh — issue 9, item 12: the audit log fails closed.  The log lives on
# a 64 KiB tmpfs that is filled up: every Encrypt either gets its record written or is refused
# with KMSInternalException (logged at error, with the cause), never answered without a record;
# the log has no torn tail and verifies; with space again, requests succeed.  A torn tail left
# behind (a crash mid-write) is cut at the next start, and an AuditLogRepaired record says so.
source "$(dirname "$0")/functions.sh"
requires curl jq mount umount
[ "$(id -u)" = 0 ] || { echo "$0: skipped: needs root (mounts a tmpfs)"; exit 77; }

envol_tmpdir
write_config
AUD=$T/auditfs
mkdir -p "$AUD"
mount -t tmpfs -o size=64k,mode=0700 tmpfs "$AUD" || { echo "$0: skipped: cannot mount tmpfs"; exit 77; }
cleanup_fn "umount -l '$AUD'"
sed -i "s|^kms: {|kms: {\n  audit_log = \"$AUD/audit.log\";|" "$CONF"
start_kmsd
LOG=$AUD/audit.log
SOCK=$T/run/kms.sock

call() {
    curl -sS --unix-socket "$SOCK" -H 'Content-Type: application/x-amz-json-1.1' \
        -H "X-Amz-Target: TrentService.$1" --data-binary "$2" -o "$T/body" -w '%{http_code}' \
        http://localhost/
}
KEY=$(ctl --json key create --description full-disk | jq -r .KeyMetadata.KeyId)
[ "$(call Encrypt "{\"KeyId\":\"$KEY\",\"Plaintext\":\"aGk=\"}")" = 200 ] || fail "Encrypt before"

# Fill the file system, leaving a few records' worth of room.
head -c $((60 * 1024)) /dev/zero >"$AUD/filler" 2>/dev/null || true
ok=0 refused=0
for ((i = 0; i < 200 && refused < 3; i++)); do
    code=$(call Encrypt "{\"KeyId\":\"$KEY\",\"Plaintext\":\"aGk=\",\"EncryptionContext\":{\"n\":\"$i-$(printf 'x%.0s' {1..200})\"}}")
    case $code in
    200) ok=$((ok + 1)) ;;
    500) [ "$(jq -r .__type "$T/body")" = KMSInternalException ] || fail "refusal: $(cat "$T/body")"
         jq -r .message "$T/body" | grep -q "could not be audited" || fail "refusal message: $(cat "$T/body")"
         refused=$((refused + 1)) ;;
    *) fail "Encrypt with a full audit file system: HTTP $code $(cat "$T/body")" ;;
    esac
done
[ "$refused" -ge 3 ] || fail "a full audit file system refused nothing ($ok answered)"
# Every answered Encrypt has its record; the refused ones have none.
n=$(grep -c '"operation":"Encrypt","principal":"arn:aws:iam::000000000000:user/unix/root".*"error_code":null' "$LOG")
[ "$n" = $((ok + 1)) ] || fail "$n Encrypt records for $((ok + 1)) answered requests"
[ "$(tail -c 1 "$LOG" | od -An -c | tr -d ' ')" = '\n' ] || fail "torn tail while running"
wait_until 5 "the refusal logged at error" grep -q "could not be audited" "$T/kmsd.log"
grep -q "No space left on device" "$T/kmsd.log" || fail "the cause is not logged"

rm -f "$AUD/filler"
[ "$(call Encrypt "{\"KeyId\":\"$KEY\",\"Plaintext\":\"aGk=\"}")" = 200 ] || fail "Encrypt with room again"
kill -TERM "$KMSD_PID"; wait "$KMSD_PID" || fail "envol-kmsd exited $? on SIGTERM"
ctl audit verify "$LOG" >/dev/null || fail "the log does not verify after the full disk"

# A torn tail (as a crash mid-write leaves it) is cut at start and the repair recorded.
lines=$(wc -l <"$LOG")
printf '{"time":"2024-01-01T00:00:00.000Z","operation":"Encr' >>"$LOG"
start_kmsd
ctl audit verify "$LOG" >/dev/null || fail "the log does not verify after the repair"
[ "$(wc -l <"$LOG")" = $((lines + 1)) ] || fail "not one record more after the repair"
tail -n 1 "$LOG" | jq -e '.operation == "AuditLogRepaired" and .removed_bytes == 52' >/dev/null ||
    fail "no AuditLogRepaired record: $(tail -n 1 "$LOG")"
echo PASS
