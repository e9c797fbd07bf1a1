#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-envolctl-grants.sh — envolctl key policy and grant … against a real envol-kmsd on its
# Unix socket: the key policy printed (indented, and the GetKeyPolicy shape with --json), put
# from a file and from stdin, refused with the KMS's message (not JSON, unknown element, over
# 32 KiB, the lockout safety check) and put with the check bypassed; grant create (constraints,
# name, retiring principal, --dry-run), list (filters, table, --json through jq),
# list-retirable, retire by id and by token, revoke; bad input (unknown operation, bad K=V,
# unknown key, an operation the key does not support, a bad token); volume show with a grant named like an attach's, made by hand, and with a key
# policy that denies the caller ListGrants, and with the KMS stopped.
source "$(dirname "$0")/functions.sh"
requires jq
[ -x "$BIN/envol-kmsd" ] || { echo "$0: skipped: $BIN/envol-kmsd not built"; exit 77; }

envol_tmpdir
write_config
start_kmsd

ACCT=000000000000
ROOT=arn:aws:iam::$ACCT:root
ME=arn:aws:iam::$ACCT:user/unix/root  # the caller: this test runs as root, an admin
ALICE=arn:aws:iam::$ACCT:user/alice   # the SigV4 principal of write_config
ENVOL=arn:aws:iam::$ACCT:user/unix/envol

id=$(ctl --json key create --alias alias/g --description grants | jq -r .KeyMetadata.KeyId)
arn=arn:aws:kms:local:$ACCT:key/$id
id2=$(ctl --json key create --description lockout | jq -r .KeyMetadata.KeyId)

# policy FILE JQ-FILTER — write a key policy: the default one passed through JQ-FILTER
policy() {
    jq -n --arg root "$ROOT" --arg alice "$ALICE" --arg me "$ME" '{
        Version: "2012-10-17",
        Statement: [{Sid: "Enable IAM User Permissions", Effect: "Allow",
                     Principal: {AWS: $root}, Action: "kms:*", Resource: "*"}]
    } | '"$2" >"$1"
}

# --- key policy: print ----------------------------------------------------------------------
ctl key policy alias/g >"$T/pol.txt"
jq -e --arg root "$ROOT" '.Statement[0].Principal.AWS == $root and .Statement[0].Action == "kms:*"' \
    "$T/pol.txt" >/dev/null || { cat "$T/pol.txt"; fail "key policy: not the default policy"; }
[ "$(wc -l <"$T/pol.txt")" -gt 5 ] || fail "key policy: not indented"
ctl --json key policy "$arn" >"$T/pol.json"
[ "$(jq -r .PolicyName "$T/pol.json")" = default ] || fail "key policy --json: PolicyName"
jq -r .Policy "$T/pol.json" | jq -e '.Statement | length == 1' >/dev/null ||
    fail "key policy --json: Policy is not the document as a string"

# --- key policy: put --------------------------------------------------------------------------
policy "$T/p-alice.json" '.Statement += [{Sid: "alice", Effect: "Allow", Principal: {AWS: $alice},
    Action: "kms:Decrypt", Resource: "*",
    Condition: {StringEquals: {"kms:EncryptionContext:app": "db"}}}]'
ctl key policy alias/g --put "$T/p-alice.json" | grep -q "policy replaced" || fail "put: output"
ctl key policy "$id" | jq -e '.Statement[1].Sid == "alice" and
    .Statement[1].Condition.StringEquals["kms:EncryptionContext:app"] == "db"' >/dev/null ||
    fail "put: the new policy is not what key policy prints"
# from standard input, and --json prints PutKeyPolicy's (empty) answer
policy "$T/p-default.json" '.'
ctl --json key policy alias/g --put - <"$T/p-default.json" | jq -e 'type == "object"' >/dev/null ||
    fail "put --json from stdin"
[ "$(ctl key policy alias/g | jq '.Statement | length')" = 1 ] || fail "put from stdin: not replaced"

# refusals name what is wrong, in the KMS's words
printf '{"Version": "2012-10-17", "Statement": [' >"$T/p-bad.json"
expect_fail 1 "MalformedPolicyDocumentException: .*not valid JSON" \
    ctl key policy alias/g --put "$T/p-bad.json"
grep -q "envolctl key policy alias/g --put FILE" "$T/err" || fail "malformed: no advice"
policy "$T/p-elem.json" '.Statement[0].Bogus = 1'
expect_fail 1 "MalformedPolicyDocumentException: .*Bogus" ctl key policy alias/g --put "$T/p-elem.json"
policy "$T/p-big.json" '.Statement[0].Sid = ("x" * 33000)'
expect_fail 1 "over the quota of 32768 bytes" ctl key policy alias/g --put "$T/p-big.json"
[ "$(ctl key policy alias/g | jq '.Statement | length')" = 1 ] || fail "a refused policy was stored"

# the lockout safety check: a policy that lets only alice manage the key
policy "$T/p-lock.json" '.Statement[0].Principal.AWS = $alice'
expect_fail 1 "MalformedPolicyDocumentException: The new key policy will not allow you to update the key policy in the future ($ME would not be allowed kms:PutKeyPolicy" \
    ctl key policy "$id2" --put "$T/p-lock.json"
ctl key policy "$id2" | jq -e --arg root "$ROOT" '.Statement[0].Principal.AWS == $root' >/dev/null ||
    fail "lockout: the policy changed anyway"
ctl key policy "$id2" --put "$T/p-lock.json" --bypass-policy-lockout-safety-check >/dev/null
# …bypassed, it is stored, and the caller is locked out of the key as promised
expect_fail 1 "AccessDeniedException: .*$ME" ctl key policy "$id2"

expect_fail 2 "only goes with --put" ctl key policy alias/g --bypass-policy-lockout-safety-check
expect_fail 1 "cannot read $T/nope.json" ctl key policy alias/g --put "$T/nope.json"
: >"$T/empty.json"
expect_fail 1 "is empty" ctl key policy alias/g --put "$T/empty.json"
expect_fail 1 "NotFoundException" ctl key policy alias/nope
expect_fail 2 "usage: envolctl key policy" ctl key policy

# --- grant create -------------------------------------------------------------------------------
out=$(ctl grant create alias/g --grantee "$ALICE" --operations Decrypt,Encrypt --retiring "$ME" \
    --constraint-equals app=db --constraint-equals env=prod --name g-one)
gid=$(sed -n 's/^GrantId: *//p' <<<"$out")
token=$(sed -n 's/^GrantToken: *//p' <<<"$out")
[ -n "$gid" ] && [ -n "$token" ] || fail "grant create: no GrantId or GrantToken in: $out"
# the same name and properties: the same grant (CreateGrant is idempotent by name)
again=$(ctl --json grant create "$arn" --grantee "$ALICE" --operations encrypt,DECRYPT --retiring "$ME" \
    --constraint-equals env=prod --constraint-equals app=db --name g-one | jq -r .GrantId)
[ "$again" = "$gid" ] || fail "grant create with the same name: $again, not $gid"
ctl --json grant create "$id" --grantee "$ALICE" --operations decrypt \
    --constraint-subset team=a --constraint-subset env=prod >"$T/c2.json"
gid2=$(jq -r .GrantId "$T/c2.json")
jq -e '(.GrantToken | length) > 0' "$T/c2.json" >/dev/null || fail "create --json: GrantToken"
[ -n "$gid2" ] && [ "$gid2" != "$gid" ] || fail "create --json: GrantId '$gid2'"
gid3=$(ctl --json grant create alias/g --grantee "$ENVOL" --operations Decrypt | jq -r .GrantId)

# --dry-run: allowed, nothing created
ctl grant create alias/g --grantee "$ALICE" --operations Decrypt --dry-run >"$T/dry.txt"
grep -q "would be created" "$T/dry.txt" || fail "dry run: output $(cat "$T/dry.txt")"
ctl --json grant create alias/g --grantee "$ALICE" --operations Decrypt --dry-run |
    jq -e '.__type == "DryRunOperationException"' >/dev/null || fail "dry run --json"
[ "$(ctl --json grant list alias/g | jq '.Grants | length')" = 3 ] || fail "dry run created a grant"

# --- grant list -----------------------------------------------------------------------------------
ctl grant list alias/g >"$T/list.txt"
head -1 "$T/list.txt" | grep -Eq '^GRANT ID +NAME +GRANTEE +RETIRING +OPERATIONS +CONSTRAINTS +CREATED$' ||
    fail "grant list header: $(head -1 "$T/list.txt")"
grep -E "^$gid +g-one +$ALICE +$ME +Decrypt,Encrypt +equals (app=db, env=prod|env=prod, app=db) +20[0-9]{2}-" \
    "$T/list.txt" >/dev/null || { cat "$T/list.txt"; fail "grant list: row of $gid"; }
grep -E "^$gid2 +- +$ALICE +- +Decrypt +subset " "$T/list.txt" >/dev/null ||
    { cat "$T/list.txt"; fail "grant list: row of $gid2"; }
ctl --json grant list "$arn" >"$T/list.json"
jq -e '.Truncated == false and (.Grants | length) == 3' "$T/list.json" >/dev/null || fail "list --json: shape"
jq -e --arg g "$gid" --arg me "$ME" --arg alice "$ALICE" '.Grants[] | select(.GrantId == $g) |
    .Name == "g-one" and .GranteePrincipal == $alice and .RetiringPrincipal == $me and
    (.Operations | sort) == ["Decrypt", "Encrypt"] and
    .Constraints.EncryptionContextEquals == {app: "db", env: "prod"} and
    (.CreationDate | type) == "number"' \
    "$T/list.json" >/dev/null || { cat "$T/list.json"; fail "list --json: grant $gid"; }
jq -e --arg g "$gid2" '.Grants[] | select(.GrantId == $g) |
    .Operations == ["Decrypt"] and .Constraints.EncryptionContextSubset == {team: "a", env: "prod"}' \
    "$T/list.json" >/dev/null || fail "list --json: grant $gid2"
[ "$(ctl --json grant list alias/g --grantee "$ALICE" | jq -r '[.Grants[].GrantId] | sort | join(" ")')" = \
    "$(printf '%s\n' "$gid" "$gid2" | sort | paste -sd ' ')" ] || fail "list --grantee"
[ "$(ctl --json grant list alias/g --grant-id "$gid3" | jq -r '[.Grants[].GranteePrincipal] | join(" ")')" = \
    "$ENVOL" ] || fail "list --grant-id"

# --- grant list-retirable --------------------------------------------------------------------------
ctl --json grant list-retirable "$ME" >"$T/ret.json"
[ "$(jq -r '[.Grants[].GrantId] | join(" ")' "$T/ret.json")" = "$gid" ] ||
    { cat "$T/ret.json"; fail "list-retirable: not exactly $gid"; }
ctl grant list-retirable "$ME" >"$T/ret.txt"
head -1 "$T/ret.txt" | grep -Eq '^KEY +GRANT ID +NAME ' || fail "list-retirable header"
grep -Eq "^$id +$gid +g-one " "$T/ret.txt" || { cat "$T/ret.txt"; fail "list-retirable row"; }

# --- grant retire / revoke ----------------------------------------------------------------------------
ctl grant retire alias/g "$gid" | grep -q "grant $gid of key .* retired" || fail "retire: output"
ctl --json grant list alias/g | jq -e --arg g "$gid" '[.Grants[].GrantId] | index($g) == null' >/dev/null ||
    fail "retire: $gid still listed"
tok4=$(ctl --json grant create alias/g --grantee "$ALICE" --retiring "$ME" --operations Decrypt | jq -r .GrantToken)
ctl grant retire --token "$tok4" | grep -q retired || fail "retire --token: output"
[ "$(ctl --json grant list-retirable "$ME" | jq '.Grants | length')" = 0 ] || fail "retire --token: still there"
ctl --json grant revoke "$id" "$gid2" | jq -e 'type == "object"' >/dev/null || fail "revoke --json"
ctl grant revoke alias/g "$gid3" | grep -q "grant $gid3 of key .* revoked" || fail "revoke: output"
[ "$(ctl --json grant list alias/g | jq '.Grants | length')" = 0 ] || fail "revoke: grants left"
expect_fail 1 "Exception" ctl grant revoke alias/g "$gid2"

# --- bad input ------------------------------------------------------------------------------------------
expect_fail 2 'unknown grant operation "Frobnicate"' \
    ctl grant create alias/g --grantee "$ALICE" --operations Decrypt,Frobnicate
expect_fail 2 'empty operation name' ctl grant create alias/g --grantee "$ALICE" --operations Decrypt,,Encrypt
expect_fail 2 '--constraint-equals "novalue": expected KEY=VALUE' \
    ctl grant create alias/g --grantee "$ALICE" --operations Decrypt --constraint-equals novalue
expect_fail 2 '--constraint-subset "=v": expected KEY=VALUE' \
    ctl grant create alias/g --grantee "$ALICE" --operations Decrypt --constraint-subset =v
expect_fail 2 "do not go together" ctl grant create alias/g --grantee "$ALICE" --operations Decrypt \
    --constraint-equals a=b --constraint-subset c=d
expect_fail 2 "--grantee ARN is required" ctl grant create alias/g --operations Decrypt
expect_fail 2 "--operations is required" ctl grant create alias/g --grantee "$ALICE"
expect_fail 1 "NotFoundException" \
    ctl grant create 11111111-2222-4333-8444-555555555555 --grantee "$ALICE" --operations Decrypt
expect_fail 1 "NotFoundException" ctl grant create alias/nope --grantee "$ALICE" --operations Decrypt
expect_fail 1 "NotFoundException" ctl grant list alias/nope
expect_fail 2 "not a key id" ctl grant list arn:aws:s3:::bucket
expect_fail 1 "ValidationException: .*Sign" ctl grant create alias/g --grantee "$ALICE" --operations Sign
expect_fail 1 "InvalidGrantTokenException" ctl grant retire --token not-a-token
expect_fail 2 "usage: envolctl grant retire" ctl grant retire alias/g
expect_fail 2 "usage: envolctl grant revoke" ctl grant revoke alias/g
expect_fail 2 'unknown command "frob"' ctl grant frob
[ "$(ctl --json grant list alias/g | jq '.Grants | length')" = 0 ] || fail "bad input created a grant"

# --- volume show: the grants of an attach ------------------------------------------------------------
ctl volume create v1 --size 1M --key alias/g >/dev/null
ctl --json volume show v1 >"$T/v1.json"
uuid=$(jq -r .volume_id "$T/v1.json")
jq -e '.grants == []' "$T/v1.json" >/dev/null || fail "volume show --json: grants of a new volume"
ctl volume show v1 | grep -Eq '^grants: +none$' || fail "volume show: grants line of a new volume"
# the grant envold makes at attach (attach-contract), made by hand, and two that are not v1's
ctx=()
while read -r pair; do ctx+=(--constraint-equals "$pair"); done < <(jq -r '.encryption_context |
    to_entries[] | "\(.key)=\(.value)"' "$T/v1.json")
[ ${#ctx[@]} -gt 0 ] || fail "v1 has no encryption context"
agid=$(ctl --json grant create "$(jq -r .key_arn "$T/v1.json")" --grantee "$ENVOL" --retiring "$ENVOL" \
    --operations Decrypt "${ctx[@]}" --name "envol-attach/$uuid" | jq -r .GrantId)
ctl grant create alias/g --grantee "$ENVOL" --operations Decrypt \
    --name envol-attach/11111111-2222-4333-8444-555555555555 >/dev/null
ctl grant create alias/g --grantee "$ALICE" --operations Decrypt >/dev/null
ctl --json volume show v1 >"$T/v1.json"
jq -e --arg g "$agid" --arg n "envol-attach/$uuid" --arg envol "$ENVOL" '(.grants | length) == 1 and
    .grants[0].GrantId == $g and .grants[0].Name == $n and .grants[0].GranteePrincipal == $envol and
    .grants[0].Constraints.EncryptionContextEquals == .encryption_context' "$T/v1.json" >/dev/null ||
    { jq .grants "$T/v1.json"; fail "volume show --json: the attach grant"; }
ctl volume show v1 >"$T/v1.txt"
grep -Eq "^grants: +1 \(envol-attach/$uuid\)$" "$T/v1.txt" || { cat "$T/v1.txt"; fail "volume show: grants line"; }
grep -Eq "^$agid +envol-attach/$uuid +$ENVOL +$ENVOL +Decrypt +equals " "$T/v1.txt" ||
    { cat "$T/v1.txt"; fail "volume show: the grant's row"; }
! grep -q "11111111-2222-4333-8444-555555555555" "$T/v1.txt" || fail "volume show lists another volume's grant"

# a caller the key policy denies ListGrants still sees the volume, and is told in one line
policy "$T/p-deny.json" '.Statement += [{Sid: "no-list", Effect: "Deny", Principal: {AWS: $me},
    Action: "kms:ListGrants", Resource: "*"}]'
ctl key policy alias/g --put "$T/p-deny.json" >/dev/null
expect_fail 1 "AccessDeniedException" ctl grant list alias/g
ctl volume show v1 >"$T/v1.txt" || fail "volume show failed when ListGrants is denied"
[ "$(grep -c '^grants:' "$T/v1.txt")" = 1 ] || fail "volume show: more than one grants line"
grep -Eq '^grants: +not listed \(AccessDeniedException: .*kms:ListGrants' "$T/v1.txt" ||
    { cat "$T/v1.txt"; fail "volume show: denied ListGrants not said"; }
grep -Eq '^key_state: +Enabled$' "$T/v1.txt" || fail "volume show: the rest is missing"
ctl --json volume show v1 | jq -e '.grants == null and (.grants_error | test("AccessDeniedException"))' \
    >/dev/null || fail "volume show --json: grants_error"

# the KMS stopped: the same
kill "$KMSD_PID"; wait "$KMSD_PID" 2>/dev/null || true
ctl volume show v1 | grep -Eq '^grants: +not listed \(' || fail "volume show without a KMS: grants line"
echo "PASS"
