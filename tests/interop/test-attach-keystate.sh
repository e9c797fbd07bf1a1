#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-attach-keystate.sh — the CMK's state governs attaching, as with EBS: disabling the key
# leaves an open connection working (reads and writes) but refuses a new one with an NBD error
# saying the key is disabled; enabling it lets clients attach again; a key pending deletion
# refuses attach; after the waiting period (test clock moved past it) the key is gone
# (NotFoundException from the real aws CLI) and the volume cannot be attached: crypto-shredded.
source "$(dirname "$0")/functions.sh"
requires jq nbdinfo
[ -x "$AWS" ] || { echo "$0: skipped: $AWS missing"; exit 77; }
/usr/bin/python3 -c 'import nbd' 2>/dev/null || { echo "$0: skipped: python3-libnbd missing"; exit 77; }

envol_tmpdir
use_test_clock
KMS_LISTEN=127.0.0.1:$(free_port)
write_config "$KMS_LISTEN"
start_kmsd
start_envold

key=$(ctl --json key create --alias alias/keystate | jq -r ".KeyMetadata.KeyId // .KeyId")
[ -n "$key" ] && [ "$key" != null ] || fail "key create --json printed no KeyId"
ctl volume create ks --size 16M --key alias/keystate
uri=$(attach_uri ks)

# expect_refused WHAT REGEX: a new client is refused, and the server's message matches REGEX.
expect_refused() {
    local what=$1 re=$2
    attach_refused "$uri" || fail "$what: a new client could attach"
    grep -qiE "$re" <<<"$REFUSAL" || fail "$what: refusal does not say /$re/: $REFUSAL"
    echo "$what: refused: $REFUSAL"
}

holder_open h1 "$uri" || fail "first attach refused: $HOLDER_MSG"
holder_cmd h1 write 0 65536 before-disable || fail "write on the attached volume"
holder_cmd h1 write $(((5 << 20) + 1536)) 3584 odd || fail "write of 7 sectors at an odd sector"
[ "$(ctl --json volume show ks | jq -r .attached)" = true ] || fail "not shown attached"

# Disable: the attached connection keeps working, a new one is refused.
ctl key disable "$key"
[ "$(aws_kms describe-key --key-id "$key" --query KeyMetadata.KeyState --output text)" = Disabled ] ||
    fail "describe-key does not say Disabled"
holder_cmd h1 read 0 65536 before-disable || fail "read after disable on the open connection"
holder_cmd h1 read $(((5 << 20) + 1536)) 3584 odd || fail "odd-sector read after disable"
holder_cmd h1 write $((1 << 20)) 131072 after-disable || fail "write after disable"
holder_cmd h1 read $((1 << 20)) 131072 after-disable || fail "read back after disable"
expect_refused "disabled key, volume attached elsewhere" "disabled"
holder_cmd h1 read 0 65536 before-disable || fail "open connection broken by the refused one"
holder_close h1
attach_wait_detached ks
expect_refused "disabled key, volume detached" "disabled"

# Enable: attach works again and the data written while disabled is there.
ctl key enable "$key"
! attach_refused "$uri" || fail "attach after enable refused: $REFUSAL"
holder_open h2 "$uri" || fail "attach after enable refused: $HOLDER_MSG"
holder_cmd h2 read 0 65536 before-disable || fail "data lost across disable/enable"
holder_cmd h2 read $((1 << 20)) 131072 after-disable || fail "write made while disabled lost"
holder_close h2
attach_wait_detached ks

# Scheduled deletion: refused while pending; gone after the window (test clock).
ctl key schedule-delete "$key" --days 7
[ "$(aws_kms describe-key --key-id "$key" --query KeyMetadata.KeyState --output text)" = \
    PendingDeletion ] || fail "describe-key does not say PendingDeletion"
expect_refused "key pending deletion" "pending deletion"

echo $((8 * 86400)) >"$ENVOL_TEST_CLOCK_FILE"
# Poll over the Unix socket (no SigV4: the aws CLI signs with the real time, which kmsd now
# sees as 8 days old); once the key is destroyed, move the clock back and ask the aws CLI.
gone=
for ((i = 0; i < 300; i++)); do
    if ! ctl key show "$key" >"$T/show.out" 2>&1; then
        grep -qiE "NotFound|not found" "$T/show.out" && { gone=1; break; }
    fi
    sleep 0.2
done
[ -n "$gone" ] || fail "key not destroyed 60 s after the window: $(cat "$T/show.out")"
echo 0 >"$ENVOL_TEST_CLOCK_FILE"
if aws_kms describe-key --key-id "$key" >"$T/describe.out" 2>&1; then
    fail "describe-key still finds the deleted key: $(cat "$T/describe.out")"
fi
grep -q NotFoundException "$T/describe.out" || fail "describe-key: $(cat "$T/describe.out")"
expect_refused "deleted key (crypto-shredded)" "not found|deleted|does not exist|no longer exists|shredded"
# envold survived all of it and envolctl still describes the volume.
kill -0 "$ENVOLD_PID" || fail "envold died"
[ "$(ctl --json volume show ks | jq -r .attached)" = false ] || fail "shown attached"
echo "test-attach-keystate: ok"
