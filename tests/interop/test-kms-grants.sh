#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-kms-grants.sh — grants against envol-kmsd: boto3 over TCP with SigV4 as three principals
# (kms_grants.py: the grantee uses the grant, constraints, tokens, ListGrants' shape, retire by
# the retiring principal, revoke by an admin, ListRetirableGrants), then the aws CLI
# (create-grant, list-grants, list-retirable-grants, retire-grant) for a Unix user of the KMS
# socket: nobody decrypts through its grant, daemon (no grant) does not.  The audit log verifies.
source "$(dirname "$0")/functions.sh"
requires jq runuser curl
$PY -c 'import boto3' 2>/dev/null || { echo "$0: skipped: boto3 is not installed for $PY"; exit 77; }
[ -x "$AWS" ] || { echo "$0: skipped: $AWS is not installed"; exit 77; }
NOBODY=$(getent passwd 65534 | cut -d: -f1) || { echo "$0: skipped: no uid 65534"; exit 77; }
getent passwd daemon >/dev/null || { echo "$0: skipped: no user daemon"; exit 77; }

envol_tmpdir
KMS_LISTEN=127.0.0.1:$(free_port)
write_config "$KMS_LISTEN"
# two more SigV4 principals without any policy: bob (a grantee) and carol (a retiring principal)
$PY - "$CONF" <<'EOF'
import sys
p = sys.argv[1]
s = open(p).read()
old = 'principal = "arn:aws:iam::000000000000:user/alice"; } );'
new = ('principal = "arn:aws:iam::000000000000:user/alice"; },\n'
       '    { access_key_id = "AKIDENVOLTESTBOB0001"; secret_access_key = '
       '"envol-test-secret-key-bob-00000000000000"; '
       'principal = "arn:aws:iam::000000000000:user/bob"; },\n'
       '    { access_key_id = "AKIDENVOLTESTCAROL01"; secret_access_key = '
       '"envol-test-secret-key-carol-000000000000"; '
       'principal = "arn:aws:iam::000000000000:user/carol"; } );')
assert old in s, "write_config changed: cannot add credentials"
open(p, "w").write(s.replace(old, new))
EOF
start_kmsd
SOCK=$T/run/kms.sock
CT='Content-Type: application/x-amz-json-1.1'
eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }

# ---- boto3 ----
AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
    $PY "$ENVOL_SOURCE_DIR/tests/interop/kms_grants.py" "http://$KMS_LISTEN" >"$T/boto3.out"
KEY=$(cat "$T/boto3.out")
[[ $KEY =~ ^[0-9a-f-]{36}$ ]] || fail "kms_grants.py printed '$KEY'"

# ---- the aws CLI, for Unix users of the KMS socket ----
# as_user USER OP JSON — one request over the Unix socket as USER; the body on stdout
as_user() {
    runuser -u "$1" -- curl -sS --unix-socket "$SOCK" -H "$CT" \
        -H "X-Amz-Target: TrentService.$2" -d "$3" http://localhost/
}
UNIX_NOBODY=arn:aws:iam::000000000000:user/unix/$NOBODY
CTX='{"volume":"v9"}'
BLOB=$(aws_kms encrypt --key-id "$KEY" --plaintext "$(printf unix-secret | base64)" \
       --encryption-context volume=v9 --query CiphertextBlob --output text)
chmod 711 "$T" "$T/run"
chmod 666 "$SOCK"
DECRYPT="{\"CiphertextBlob\":\"$BLOB\",\"EncryptionContext\":$CTX}"
eq "$(as_user "$NOBODY" Decrypt "$DECRYPT" | jq -r .__type)" AccessDeniedException \
    "nobody before its grant"
GRANT=$(aws_kms create-grant --key-id "$KEY" --grantee-principal "$UNIX_NOBODY" \
        --retiring-principal arn:aws:iam::000000000000:user/alice --operations Decrypt \
        --constraints "EncryptionContextEquals={volume=v9}" --name unix-nobody \
        --query GrantId --output text)
[[ $GRANT =~ ^[0-9a-f]{64}$ ]] || fail "create-grant printed '$GRANT'"
eq "$(aws_kms list-grants --key-id "$KEY" --query 'Grants[0].[GrantId,GranteePrincipal,Name]' \
      --output text)" "$GRANT	$UNIX_NOBODY	unix-nobody" "list-grants"
eq "$(as_user "$NOBODY" Decrypt "$DECRYPT" | jq -r .Plaintext | base64 -d)" unix-secret \
    "nobody decrypts through its grant"
eq "$(as_user daemon Decrypt "$DECRYPT" | jq -r .__type)" AccessDeniedException \
    "daemon has no grant"
eq "$(as_user "$NOBODY" Decrypt "{\"CiphertextBlob\":\"$BLOB\"}" | jq -r .__type)" \
    AccessDeniedException "nobody without the context of EncryptionContextEquals"
eq "$(aws_kms list-retirable-grants --retiring-principal arn:aws:iam::000000000000:user/alice \
      --query 'Grants[].GrantId' --output text)" "$GRANT" "list-retirable-grants"
aws_kms retire-grant --key-id "$KEY" --grant-id "$GRANT"
eq "$(as_user "$NOBODY" Decrypt "$DECRYPT" | jq -r .__type)" AccessDeniedException \
    "nobody after retire-grant"
eq "$(aws_kms list-grants --key-id "$KEY" --query 'length(Grants)' --output text)" 0 \
    "no grants left"
chmod 660 "$SOCK"
chmod 700 "$T"

kill -0 "$KMSD_PID" || fail "envol-kmsd died"
grep -q '"CreateGrant"' "$T/state/audit.log" || fail "CreateGrant not audited"
grep -q '"RetireGrant"' "$T/state/audit.log" || fail "RetireGrant not audited"
"$BIN/envolctl" -c "$CONF" audit verify "$T/state/audit.log" || fail "audit log does not verify"
echo OK
