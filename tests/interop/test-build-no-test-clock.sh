#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-build-no-test-clock.sh — the test clock ($ENVOL_TEST_CLOCK_FILE, util/clock.h) exists only
# in test builds: the programs in build/bin and libenvol carry no trace of it (whoever could set
# it could crypto-shred keys pending deletion at once, force rotations and move the SigV4 time
# window), while the test-only build/tests/bin/envol-kmsd-testclock does, and honours it.
source "$(dirname "$0")/functions.sh"
requires strings curl jq

for b in "$BIN/envol-kmsd" "$BIN/envold" "$BIN/envolctl" "$ENVOL_BUILD_DIR"/lib/libenvol.so* \
    "$ENVOL_BUILD_DIR/lib/libenvol.a"; do
    [ -f "$b" ] || fail "$b is not built"
    n=$(strings "$b" | grep -c ENVOL_TEST_CLOCK || true)
    [ "$n" = 0 ] || fail "$b contains ENVOL_TEST_CLOCK ($n strings)"
    echo "$(basename "$b"): no test clock"
done
n=$(strings "$ENVOL_BUILD_DIR/tests/bin/envol-kmsd-testclock" | grep -c ENVOL_TEST_CLOCK || true)
[ "$n" -ge 1 ] || fail "the test-only envol-kmsd-testclock lacks the test clock"

# The real envol-kmsd ignores $ENVOL_TEST_CLOCK_FILE: a key scheduled for deletion in 7 days is
# still there with the file saying 8 days later; the test copy destroys it.
envol_tmpdir
write_config
export ENVOL_TEST_CLOCK_FILE=$T/clock-offset
echo $((8 * 86400)) >"$ENVOL_TEST_CLOCK_FILE"
kms() {
    curl -sS --max-time 20 --unix-socket "$T/run/kms.sock" \
        -H 'Content-Type: application/x-amz-json-1.1' -H "X-Amz-Target: TrentService.$1" \
        --data-binary "$2" http://localhost/
}
start_kmsd
KEY=$(kms CreateKey '{}' | jq -r .KeyMetadata.KeyId)
[[ $KEY =~ ^[0-9a-f-]{36}$ ]] || fail "CreateKey"
kms ScheduleKeyDeletion "{\"KeyId\":\"$KEY\",\"PendingWindowInDays\":7}" >/dev/null
date_of() { kms DescribeKey "{\"KeyId\":\"$KEY\"}" | jq -r .KeyMetadata.DeletionDate; }
when=$(date_of)
now=$(date +%s)
# DeletionDate is 7 days after the real time, not after the time in the clock file
[ "${when%.*}" -ge $((now + 7 * 86400 - 60)) ] && [ "${when%.*}" -le $((now + 7 * 86400 + 60)) ] ||
    fail "DeletionDate $when is not 7 days after the real time $now"
attach_stop_daemon "$KMSD_PID" kmsd
use_test_clock
echo $((16 * 86400)) >"$ENVOL_TEST_CLOCK_FILE"
start_kmsd
for ((i = 0; i < 100; i++)); do
    kms DescribeKey "{\"KeyId\":\"$KEY\"}" | jq -e '.__type == "NotFoundException"' >/dev/null && break
    sleep 0.1
done
kms DescribeKey "{\"KeyId\":\"$KEY\"}" | jq -e '.__type == "NotFoundException"' >/dev/null ||
    fail "the test-clock envol-kmsd did not destroy the key 16 days later"
echo OK
