#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-attach-grant-crash.sh — the grant of an attached volume lives as long as the attach: it
# is on the key (ListGrants) while a client is connected; envold killed with SIGKILL leaves it
# behind; the next envold retires it at start (ListRetirableGrants, RetireGrant), after which
# the key has no grant named envol-attach/<uuid>; attaching again creates one, and the detach
# retires it.
source "$(dirname "$0")/functions.sh"
requires jq nbdinfo
[ -x "$AWS" ] || { echo "$0: skipped: $AWS missing"; exit 77; }
/usr/bin/python3 -c 'import nbd' 2>/dev/null || { echo "$0: skipped: python3-libnbd missing"; exit 77; }

grant_setup
ctl volume create crashy --size 8M >/dev/null
key=$(ctl --json volume show crashy | jq -r .key_arn)
name=envol-attach/$(ctl --json volume show crashy | jq -r .volume_id)
start_envold_service

# attach_grants — how many grants named $name the key has (ListGrants as the admin)
attach_grants() {
    aws_kms list-grants --key-id "$key" --output json |
        jq --arg n "$name" '[.Grants[] | select(.Name == $n)] | length'
}
no_attach_grant() { [ "$(attach_grants)" = 0 ]; }

[ "$(attach_grants)" = 0 ] || fail "a grant before any attach"
holder_open h1 "$(attach_uri crashy)" || fail "attach refused: $HOLDER_MSG"
holder_cmd h1 write 0 4096 crash || fail "write"
[ "$(attach_grants)" = 1 ] || fail "no grant $name while attached: $(aws_kms list-grants --key-id "$key")"
aws_kms list-grants --key-id "$key" --output json |
    jq -e --arg n "$name" --arg p "$ENVOLD_PRINCIPAL" '.Grants[] | select(.Name == $n) |
        select(.GranteePrincipal == $p and .RetiringPrincipal == $p and .Operations == ["Decrypt"]
               and .Constraints.EncryptionContextEquals["envol:volume-id"] != null)' >/dev/null ||
    fail "the grant is not envold's Decrypt under the volume's context: $(aws_kms list-grants --key-id "$key")"
echo "attached: grant $name on the key"

kill -KILL "$ENVOLD_PID"
wait "$ENVOLD_PID" 2>/dev/null || true
rm -f "$T/run/nbd.sock"
holder_close h1
[ "$(attach_grants)" = 1 ] || fail "the grant vanished with envold"
echo "envold killed: the grant is left on the key"

mv "$T/envold.log" "$T/envold-killed.log"
start_envold_service
wait_until 20 "the new envold retires the left grant" no_attach_grant
grep -q "grant .* ($name) on key $key, left by an earlier envold, retired" "$T/envold.log" ||
    fail "the retirement is not logged: $(cat "$T/envold.log")"
echo "restarted: $(grep -o "grant .*left by an earlier envold, retired" "$T/envold.log")"

# attach again: a new grant for the attach, retired at the detach
holder_open h2 "$(attach_uri crashy)" || fail "attach after the restart refused: $HOLDER_MSG"
holder_cmd h2 read 0 4096 crash || fail "data written before the crash lost"
[ "$(attach_grants)" = 1 ] || fail "no grant for the new attach"
holder_close h2
attach_wait_detached crashy
wait_until 10 "the detach retires the grant" no_attach_grant
echo "test-attach-grant-crash: ok"
