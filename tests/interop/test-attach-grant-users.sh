#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-attach-grant-users.sh — every NBD connection is authorized as its own principal (issue
# 10 item 6): two Unix users on one volume whose key policy allows `nobody` kms:CreateGrant
# through envold only (kms:ViaService = envold.envol.internal, kms:GrantIsForAWSResource):
# nbdinfo as nobody attaches, as daemon it is refused with NBD_REP_ERR_POLICY and a message
# naming daemon's principal and the volume, both while the volume is detached and while nobody
# holds it attached (the CreateGrant DryRun of a further connection); envold's own principal,
# a kms.services member, cannot Decrypt the volume's blob directly (AccessDeniedException).
source "$(dirname "$0")/functions.sh"
requires jq nbdinfo nbdsh runuser
[ -x "$AWS" ] || { echo "$0: skipped: $AWS missing"; exit 77; }

grant_setup
cat >"$T/key-policy.json" <<'JSON'
{"Version": "2012-10-17", "Statement": [
  {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
   "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "kms:*", "Resource": "*"},
  {"Sid": "AttachByNobodyThroughEnvold", "Effect": "Allow",
   "Principal": {"AWS": "arn:aws:iam::000000000000:user/unix/nobody"},
   "Action": "kms:CreateGrant", "Resource": "*",
   "Condition": {"StringEquals": {"kms:ViaService": "envold.envol.internal"},
                 "Bool": {"kms:GrantIsForAWSResource": "true"}}}]}
JSON
key=$(aws_kms create-key --description "attach by nobody" --policy "file://$T/key-policy.json" \
    --query KeyMetadata.Arn --output text)
[[ $key == arn:aws:kms:* ]] || fail "create-key with a policy: '$key'"
ctl volume create shared --size 8M --key "$key" >/dev/null
start_envold_service
uri=$(attach_uri shared)

# as_user USER CMD… — CMD as USER, from a directory USER may enter
as_user() { (cd / && runuser -u "$1" -- "${@:2}"); }

# expect_denied WHO WHEN — WHO's attach is refused with the policy message
expect_denied() {
    local out
    if out=$(as_user "$1" env LIBNBD_DEBUG=1 nbdinfo --size "$uri" 2>&1); then
        fail "$1 attached $2"
    fi
    REFUSAL=$(sed -n 's/.*server error message: //p' <<<"$out" | tail -1)
    grep -q "server policy prevents NBD_OPT_GO" <<<"$out" ||
        fail "$1 $2: not NBD_REP_ERR_POLICY: $out"
    grep -q "access denied: arn:aws:iam::000000000000:user/unix/$1 may not attach volume shared" \
        <<<"$REFUSAL" || fail "$1 $2: the message does not name the principal and volume: $REFUSAL"
    grep -q "AccessDeniedException" <<<"$REFUSAL" || fail "$1 $2: no KMS reason: $REFUSAL"
    echo "$1 $2: refused: $REFUSAL"
}

# ---- detached: nobody attaches, daemon is refused ----
size=$(as_user nobody nbdinfo --size "$uri") || fail "nobody could not attach: $(tail -3 "$T/envold.log")"
[ "$size" = 8388608 ] || fail "nobody: size $size"
echo "nobody attached (size $size)"
attach_wait_detached shared
expect_denied daemon "(volume detached)"
[ "$(ctl --json volume show shared | jq -r .attached)" = false ] || fail "attached after a refusal"

# ---- attached by nobody: a further connection of nobody works, daemon's is refused ----
mkfifo "$T/hold"
as_user nobody nbdsh -u "$uri" -c 'print("connected", flush=True)
import sys
sys.stdin.read()' <"$T/hold" >"$T/hold.out" 2>&1 &
HOLD_PID=$!
cleanup_fn "kill $HOLD_PID 2>/dev/null"
exec {hold}>"$T/hold"
wait_until 20 "nobody's held connection" grep -q connected "$T/hold.out"
[ "$(ctl --json volume show shared | jq -r .attached)" = true ] || fail "not shown attached"
expect_denied daemon "(volume attached by nobody)"
[ "$(as_user nobody nbdinfo --size "$uri")" = 8388608 ] || fail "nobody's second connection refused"
exec {hold}>&-
wait "$HOLD_PID" || fail "nobody's held connection: $(cat "$T/hold.out")"
attach_wait_detached shared

# ---- envold's own principal decrypts nothing without a grant ----
ctl --json volume show shared >"$T/show.json"
jq '{CiphertextBlob: .ciphertext_blob, EncryptionContext: .encryption_context}' "$T/show.json" \
    >"$T/decrypt.json"
[ "$(jq -r '.EncryptionContext["envol:volume-id"]' "$T/decrypt.json")" != null ] ||
    fail "volume show gives no encryption context: $(cat "$T/show.json")"
if envold_kms decrypt --cli-input-json "file://$T/decrypt.json" >"$T/decrypt.out" 2>&1; then
    fail "envold's principal decrypted the volume's key without a grant"
fi
grep -q AccessDeniedException "$T/decrypt.out" || fail "envold's Decrypt: $(cat "$T/decrypt.out")"
grep -q "$ENVOLD_PRINCIPAL" "$T/decrypt.out" || fail "the refusal does not name envold: $(cat "$T/decrypt.out")"
echo "envold's own Decrypt: $(grep -o 'AccessDeniedException.*' "$T/decrypt.out" | head -1)"
# ... while the admin who made the volume may (the blob and context are right)
aws_kms decrypt --cli-input-json "file://$T/decrypt.json" --query KeyId --output text |
    grep -q "${key#*key/}" || fail "the admin cannot decrypt the blob either"
echo "test-attach-grant-users: ok"
