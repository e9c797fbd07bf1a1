#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-attach-grant-audit.sh — the audit trail of one attach and detach, as CloudTrail shows an
# EBS attach (issue 10 items 6 and 7), read with `envolctl --json audit tail` record by record:
# CreateGrant by the client (nobody) invoked by envold.envol.internal, Decrypt by envold through
# that grant (the grant id envold logged), RetireGrant by envold at detach; nothing else by
# either of them.
source "$(dirname "$0")/functions.sh"
requires jq nbdinfo runuser

grant_setup arn:aws:iam::000000000000:user/unix/nobody
ctl volume create audited --size 8M >/dev/null
key=$(ctl --json volume show audited | jq -r .key_arn)
[[ $key == arn:aws:kms:* ]] || fail "volume show: key '$key'"
start_envold_service
# the start-up clean-up (ListRetirableGrants) is the first thing envold asks the KMS
startup_cleanup() { ctl --json audit tail -n 1000 | jq -r .operation | grep -qx ListRetirableGrants; }
wait_until 20 "envold's start-up clean-up" startup_cleanup

records() { ctl --json audit tail -n 1000; }
NOBODY=arn:aws:iam::000000000000:user/unix/nobody
before=$(records | wc -l)
size=$(cd / && runuser -u nobody -- nbdinfo --size "$(attach_uri audited)") ||
    fail "nobody could not attach: $(tail -3 "$T/envold.log")"
[ "$size" = 8388608 ] || fail "size $size"
attach_wait_detached audited
wait_until 10 "the detach's RetireGrant" grep -q "grant .* retired" "$T/envold.log"
# what the client and envold did (envolctl's own DescribeKey calls, as root, left out)
records | tail -n +$((before + 1)) |
    jq -c --arg a "$NOBODY" --arg b "$ENVOLD_PRINCIPAL" 'select(.principal == $a or .principal == $b)' \
    >"$T/trail.jsonl"
grant=$(sed -n 's/.*export audited: grant \([0-9a-f]*\) for .* created on behalf of .*/\1/p' \
    "$T/envold.log")
[ -n "$grant" ] || fail "envold did not log the grant it created: $(cat "$T/envold.log")"

n=$(wc -l <"$T/trail.jsonl")
[ "$n" -eq 3 ] || { cat "$T/trail.jsonl"; fail "$n audit records for one attach and detach, not 3"; }
rec() { sed -n "${1}p" "$T/trail.jsonl"; }
field() { rec "$1" | jq -r "$2"; }
expect() { # RECORD JQ VALUE WHAT
    local got
    got=$(field "$1" "$2")
    [ "$got" = "$3" ] || { rec "$1"; fail "record $1 ($4): $2 is '$got', not '$3'"; }
}
# 1: CreateGrant, by the client, through envold
expect 1 .operation CreateGrant "the grant"
expect 1 .principal "$NOBODY" "the client asks"
expect 1 '.invokedBy' envold.envol.internal "through envold"
expect 1 .invokedByPrincipal "$ENVOLD_PRINCIPAL" "by envold's principal"
expect 1 .key_arn "$key" "on the volume's key"
expect 1 '.error_code' null "no error"
expect 1 .decision allowed "allowed"
# 2: Decrypt, by envold, allowed by that grant
expect 2 .operation Decrypt "the unwrap"
expect 2 .principal "$ENVOLD_PRINCIPAL" "envold decrypts"
expect 2 '.grantId' "$grant" "through the grant"
expect 2 .key_arn "$key" "on the volume's key"
expect 2 '.encryption_context["envol:volume-id"]' "$(ctl --json volume show audited | jq -r .volume_id)" \
    "under the volume's context"
expect 2 '.error_code' null "no error"
expect 2 .decision allowed "allowed"
expect 2 .invokedBy null "envold on its own"
# 3: RetireGrant at detach, by envold (the retiring principal)
expect 3 .operation RetireGrant "the detach"
expect 3 .principal "$ENVOLD_PRINCIPAL" "envold retires"
expect 3 .key_arn "$key" "on the volume's key"
expect 3 '.error_code' null "no error"
expect 3 .decision allowed "allowed"
for i in 1 2 3; do echo "record $i: $(rec $i | jq -c '{operation, principal, invokedBy, grantId, decision, error_code}')"; done
echo "test-attach-grant-audit: ok"
