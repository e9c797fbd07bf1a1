#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-kms-aws-cli.sh — the real aws CLI v2 against envol-kmsd over TCP with SigV4: keys, aliases,
# file encryption with fileb:// and encryption contexts, data keys, re-encrypt, rotation (on
# demand and by the clock), disable/enable, scheduled deletion and its cancellation, deletion
# after the window (test clock moved), tags, the managed key, and refusals (wrong secret, unknown
# access key, unknown key id, expired signature).
source "$(dirname "$0")/functions.sh"
requires curl jq base64 cmp
[ -x "$AWS" ] || { echo "$0: skipped: $AWS is not installed"; exit 77; }

envol_tmpdir
use_test_clock
KMS_LISTEN=127.0.0.1:$(free_port)
write_config "$KMS_LISTEN"
# The installed botocore predates RotateKeyOnDemand/ListKeyRotations: give the CLI the newer model.
CLI_MODEL=$($PY -c 'import os, awscli.botocore as b; print(os.path.dirname(b.__file__))' 2>/dev/null ||
            $PY -c 'import os, botocore as b; print(os.path.dirname(b.__file__))')
$PY "$ENVOL_SOURCE_DIR/tests/interop/kms_model.py" \
    "$CLI_MODEL/data/kms/2014-11-01/service-2.json" "$T/models"
export AWS_DATA_PATH=$T/models
start_kmsd

# expect_error CODE CMD… — CMD must fail, and the CLI must name the AWS error CODE.
expect_error() {
    local code=$1; shift
    if "$@" >"$T/out" 2>"$T/err"; then
        cat "$T/out" >&2; fail "expected $code, but this succeeded: $*"
    fi
    grep -q "($code)" "$T/err" || { cat "$T/err" >&2; fail "expected $code from: $*"; }
}
eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }
# kms_unix OP JSON — the same API on the Unix socket (principal root), for use while the test
# clock is moved (the aws CLI signs with the real time and would be refused as expired).
kms_unix() {
    curl -sS --unix-socket "$T/run/kms.sock" -H 'Content-Type: application/x-amz-json-1.1' \
        -H "X-Amz-Target: TrentService.$1" --data-binary "$2" http://localhost/
}
set_clock() { echo "$1" >"$ENVOL_TEST_CLOCK_FILE"; }
# wait_for CMD… — retry CMD for up to 10 s (the daemon's maintenance tick runs every second)
wait_for() {
    local i
    for ((i = 0; i < 50; i++)); do "$@" && return 0; sleep 0.2; done
    return 1
}

# ---- keys ----
KEY=$(aws_kms create-key --description "first test key" \
      --tags TagKey=team,TagValue=storage --query KeyMetadata.KeyId --output text)
[[ $KEY =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] || fail "KeyId '$KEY'"
ARN=arn:aws:kms:local:000000000000:key/$KEY
aws_kms describe-key --key-id "$KEY" >"$T/desc.json"
eq "$(jq -r .KeyMetadata.Arn "$T/desc.json")" "$ARN" "Arn"
eq "$(jq -r .KeyMetadata.KeyState "$T/desc.json")" Enabled "KeyState"
eq "$(jq -r .KeyMetadata.Enabled "$T/desc.json")" true "Enabled"
eq "$(jq -r .KeyMetadata.KeyManager "$T/desc.json")" CUSTOMER "KeyManager"
eq "$(jq -r .KeyMetadata.KeyUsage "$T/desc.json")" ENCRYPT_DECRYPT "KeyUsage"
eq "$(jq -r .KeyMetadata.KeySpec "$T/desc.json")" SYMMETRIC_DEFAULT "KeySpec"
eq "$(jq -r .KeyMetadata.Description "$T/desc.json")" "first test key" "Description"
eq "$(aws_kms describe-key --key-id "$ARN" --query KeyMetadata.KeyId --output text)" "$KEY" "by ARN"
aws_kms update-key-description --key-id "$KEY" --description "renamed"
eq "$(aws_kms describe-key --key-id "$KEY" --query KeyMetadata.Description --output text)" \
    renamed "UpdateKeyDescription"

KEY2=$(aws_kms create-key --query KeyMetadata.KeyId --output text)
KEY3=$(aws_kms create-key --query KeyMetadata.KeyId --output text)
all=$(aws_kms list-keys --query 'Keys[].KeyId' --output text | tr '\t' '\n' | sort)
for k in "$KEY" "$KEY2" "$KEY3"; do grep -qx "$k" <<<"$all" || fail "ListKeys lacks $k"; done
# --page-size 1 makes the CLI send Limit=1 and follow NextMarker until Truncated is false
paged=$(aws_kms list-keys --page-size 1 --query 'Keys[].KeyId' --output text | tr '\t' '\n' | sort)
eq "$paged" "$all" "ListKeys paged with Limit/Marker"
aws_kms list-keys --max-items 1 >"$T/page.json"
eq "$(jq '.Keys | length' "$T/page.json")" 1 "ListKeys --max-items 1"
[ "$(jq -r '.NextToken // empty' "$T/page.json")" != "" ] || fail "no NextToken with more keys"

# ---- aliases ----
aws_kms create-alias --alias-name alias/test-one --target-key-id "$KEY"
eq "$(aws_kms describe-key --key-id alias/test-one --query KeyMetadata.KeyId --output text)" \
    "$KEY" "DescribeKey by alias"
eq "$(aws_kms describe-key --key-id arn:aws:kms:local:000000000000:alias/test-one \
      --query KeyMetadata.KeyId --output text)" "$KEY" "DescribeKey by alias ARN"
eq "$(aws_kms list-aliases --key-id "$KEY" --query 'Aliases[].AliasName' --output text)" \
    alias/test-one "ListAliases --key-id"
aws_kms list-aliases --query 'Aliases[?AliasName==`alias/test-one`].TargetKeyId' --output text \
    | grep -qx "$KEY" || fail "ListAliases lacks alias/test-one"
expect_error AlreadyExistsException aws_kms create-alias --alias-name alias/test-one --target-key-id "$KEY2"
aws_kms update-alias --alias-name alias/test-one --target-key-id "$KEY2"
eq "$(aws_kms describe-key --key-id alias/test-one --query KeyMetadata.KeyId --output text)" \
    "$KEY2" "UpdateAlias"
aws_kms create-alias --alias-name alias/test-two --target-key-id "$KEY"
aws_kms delete-alias --alias-name alias/test-two
expect_error NotFoundException aws_kms describe-key --key-id alias/test-two

# ---- encrypt / decrypt files ----
head -c 3000 /dev/urandom >"$T/plain.bin"
aws_kms encrypt --key-id "$KEY" --plaintext "fileb://$T/plain.bin" \
    --encryption-context purpose=test,volume=v1 --query CiphertextBlob --output text \
    | base64 -d >"$T/ct.bin"
[ "$(stat -c %s "$T/ct.bin")" -gt 3000 ] || fail "ciphertext too short"
aws_kms decrypt --ciphertext-blob "fileb://$T/ct.bin" --encryption-context volume=v1,purpose=test \
    >"$T/dec.json"
jq -r .Plaintext "$T/dec.json" | base64 -d >"$T/out.bin"
cmp "$T/plain.bin" "$T/out.bin" || fail "decrypted file differs"
eq "$(jq -r .KeyId "$T/dec.json")" "$ARN" "Decrypt KeyId"
eq "$(jq -r .EncryptionAlgorithm "$T/dec.json")" SYMMETRIC_DEFAULT "EncryptionAlgorithm"
expect_error InvalidCiphertextException aws_kms decrypt --ciphertext-blob "fileb://$T/ct.bin" \
    --encryption-context purpose=test,volume=v2
expect_error InvalidCiphertextException aws_kms decrypt --ciphertext-blob "fileb://$T/ct.bin"
expect_error IncorrectKeyException aws_kms decrypt --ciphertext-blob "fileb://$T/ct.bin" \
    --encryption-context purpose=test,volume=v1 --key-id "$KEY2"
eq "$(aws_kms decrypt --ciphertext-blob "fileb://$T/ct.bin" --key-id "$ARN" \
      --encryption-context purpose=test,volume=v1 --query Plaintext --output text | base64 -d \
      | cmp - "$T/plain.bin" && echo same)" same "Decrypt with matching KeyId"
# one flipped byte in the middle of the blob
cp "$T/ct.bin" "$T/bad.bin"
printf '\x5a' | dd of="$T/bad.bin" bs=1 seek=100 conv=notrunc status=none
cmp -s "$T/ct.bin" "$T/bad.bin" && printf '\xa5' | dd of="$T/bad.bin" bs=1 seek=100 conv=notrunc status=none
expect_error InvalidCiphertextException aws_kms decrypt --ciphertext-blob "fileb://$T/bad.bin" \
    --encryption-context purpose=test,volume=v1
head -c 4097 /dev/zero >"$T/big.bin"
expect_error ValidationException aws_kms encrypt --key-id "$KEY" --plaintext "fileb://$T/big.bin"

# ---- data keys ----
aws_kms generate-data-key --key-id alias/test-one --key-spec AES_256 \
    --encryption-context app=db >"$T/dk.json"
jq -r .Plaintext "$T/dk.json" | base64 -d >"$T/dk.plain"
eq "$(stat -c %s "$T/dk.plain")" 32 "AES_256 data key length"
jq -r .CiphertextBlob "$T/dk.json" | base64 -d >"$T/dk.ct"
eq "$(jq -r .KeyId "$T/dk.json")" "arn:aws:kms:local:000000000000:key/$KEY2" "GenerateDataKey KeyId"
aws_kms decrypt --ciphertext-blob "fileb://$T/dk.ct" --encryption-context app=db \
    --query Plaintext --output text | base64 -d | cmp - "$T/dk.plain" || fail "data key unwrap"
eq "$(aws_kms generate-data-key --key-id "$KEY" --number-of-bytes 64 --query Plaintext \
      --output text | base64 -d | wc -c)" 64 "NumberOfBytes 64"
aws_kms generate-data-key-without-plaintext --key-id "$KEY" --key-spec AES_128 \
    --encryption-context envol:volume-id=0b8a2f0e-0000-4000-8000-000000000001 >"$T/dkw.json"
[ "$(jq -r '.Plaintext // "none"' "$T/dkw.json")" = none ] || fail "WithoutPlaintext returned Plaintext"
jq -r .CiphertextBlob "$T/dkw.json" | base64 -d >"$T/dkw.ct"
eq "$(aws_kms decrypt --ciphertext-blob "fileb://$T/dkw.ct" \
      --encryption-context envol:volume-id=0b8a2f0e-0000-4000-8000-000000000001 \
      --query Plaintext --output text | base64 -d | wc -c)" 16 "AES_128 data key length"
expect_error ValidationException aws_kms generate-data-key --key-id "$KEY" --key-spec AES_256 \
    --number-of-bytes 32
eq "$(aws_kms generate-random --number-of-bytes 48 --query Plaintext --output text | base64 -d \
      | wc -c)" 48 "GenerateRandom"

# ---- re-encrypt ----
aws_kms re-encrypt --ciphertext-blob "fileb://$T/ct.bin" \
    --source-encryption-context purpose=test,volume=v1 --destination-key-id "$KEY3" \
    --destination-encryption-context moved=yes >"$T/re.json"
eq "$(jq -r .SourceKeyId "$T/re.json")" "$ARN" "ReEncrypt SourceKeyId"
eq "$(jq -r .KeyId "$T/re.json")" "arn:aws:kms:local:000000000000:key/$KEY3" "ReEncrypt KeyId"
jq -r .CiphertextBlob "$T/re.json" | base64 -d >"$T/re.bin"
aws_kms decrypt --ciphertext-blob "fileb://$T/re.bin" --encryption-context moved=yes \
    --query Plaintext --output text | base64 -d | cmp - "$T/plain.bin" || fail "re-encrypted data"
expect_error InvalidCiphertextException aws_kms decrypt --ciphertext-blob "fileb://$T/re.bin" \
    --encryption-context purpose=test,volume=v1

# ---- rotation ----
eq "$(aws_kms get-key-rotation-status --key-id "$KEY" --query KeyRotationEnabled --output text)" \
    False "rotation initially off"
aws_kms enable-key-rotation --key-id "$KEY" --rotation-period-in-days 90
aws_kms get-key-rotation-status --key-id "$KEY" >"$T/rot.json"
eq "$(jq -r .KeyRotationEnabled "$T/rot.json")" true "rotation enabled"
eq "$(jq -r .RotationPeriodInDays "$T/rot.json")" 90 "RotationPeriodInDays"
# (the CLI itself refuses 89 from the model's min; send it raw to see the daemon refuse it too)
kms_unix EnableKeyRotation "{\"KeyId\":\"$KEY\",\"RotationPeriodInDays\":89}" \
    | jq -e '.__type == "ValidationException"' >/dev/null || fail "RotationPeriodInDays 89 accepted"
aws_kms rotate-key-on-demand --key-id "$KEY" >"$T/rod.json"
[[ $(jq -r .KeyId "$T/rod.json") == *"$KEY" ]] || fail "RotateKeyOnDemand KeyId $(cat "$T/rod.json")"
aws_kms list-key-rotations --key-id "$KEY" >"$T/rots.json"
eq "$(jq '.Rotations | length' "$T/rots.json")" 1 "one rotation listed"
eq "$(jq -r '.Rotations[0].RotationType' "$T/rots.json")" ON_DEMAND "RotationType"
# the old ciphertext still decrypts; new ciphertexts decrypt too
aws_kms decrypt --ciphertext-blob "fileb://$T/ct.bin" --encryption-context purpose=test,volume=v1 \
    --query Plaintext --output text | base64 -d | cmp - "$T/plain.bin" || fail "pre-rotation ciphertext"
aws_kms encrypt --key-id "$KEY" --plaintext "fileb://$T/plain.bin" --query CiphertextBlob \
    --output text | base64 -d >"$T/ct2.bin"
aws_kms decrypt --ciphertext-blob "fileb://$T/ct2.bin" --query Plaintext --output text \
    | base64 -d | cmp - "$T/plain.bin" || fail "post-rotation ciphertext"
# automatic rotation when the period is over (91 days later by the test clock)
set_clock $((91 * 86400))
automatic() { kms_unix ListKeyRotations "{\"KeyId\":\"$KEY\"}" \
              | jq -e '[.Rotations[] | select(.RotationType == "AUTOMATIC")] | length == 1' >/dev/null; }
wait_for automatic || fail "no AUTOMATIC rotation 91 days later"
set_clock 0
aws_kms decrypt --ciphertext-blob "fileb://$T/ct.bin" --encryption-context purpose=test,volume=v1 \
    --query Plaintext --output text | base64 -d | cmp - "$T/plain.bin" || fail "after auto rotation"
aws_kms disable-key-rotation --key-id "$KEY"
eq "$(aws_kms get-key-rotation-status --key-id "$KEY" --query KeyRotationEnabled --output text)" \
    False "rotation disabled"

# ---- disable / enable ----
aws_kms disable-key --key-id "$KEY"
eq "$(aws_kms describe-key --key-id "$KEY" --query KeyMetadata.KeyState --output text)" Disabled "state"
expect_error DisabledException aws_kms encrypt --key-id "$KEY" --plaintext "fileb://$T/plain.bin"
expect_error DisabledException aws_kms decrypt --ciphertext-blob "fileb://$T/ct.bin" \
    --encryption-context purpose=test,volume=v1
aws_kms enable-key --key-id "$KEY"
aws_kms decrypt --ciphertext-blob "fileb://$T/ct.bin" --encryption-context purpose=test,volume=v1 \
    --query Plaintext --output text | base64 -d | cmp - "$T/plain.bin" || fail "after re-enable"

# ---- tags ----
eq "$(aws_kms list-resource-tags --key-id "$KEY" --query 'Tags[?TagKey==`team`].TagValue' \
      --output text)" storage "tag from CreateKey"
aws_kms tag-resource --key-id "$KEY" --tags TagKey=env,TagValue=test TagKey=owner,TagValue=ops
eq "$(aws_kms list-resource-tags --key-id "$KEY" --query 'Tags[?TagKey==`env`].TagValue' \
      --output text)" test "TagResource"
eq "$(aws_kms list-resource-tags --key-id "$KEY" --query 'length(Tags)')" 3 "three tags"
aws_kms untag-resource --key-id "$KEY" --tag-keys env
eq "$(aws_kms list-resource-tags --key-id "$KEY" --query 'Tags[].TagKey' --output text \
      | tr '\t' '\n' | sort | tr '\n' ' ')" "owner team " "UntagResource"

# ---- scheduled deletion ----
expect_error ValidationException aws_kms schedule-key-deletion --key-id "$KEY3" --pending-window-in-days 6
aws_kms schedule-key-deletion --key-id "$KEY3" --pending-window-in-days 7 >"$T/sched.json"
eq "$(jq -r .KeyState "$T/sched.json")" PendingDeletion "ScheduleKeyDeletion KeyState"
eq "$(jq -r .PendingWindowInDays "$T/sched.json")" 7 "PendingWindowInDays"
expect_error KMSInvalidStateException aws_kms encrypt --key-id "$KEY3" --plaintext "fileb://$T/plain.bin"
expect_error KMSInvalidStateException aws_kms decrypt --ciphertext-blob "fileb://$T/re.bin" \
    --encryption-context moved=yes
aws_kms cancel-key-deletion --key-id "$KEY3" >/dev/null
eq "$(aws_kms describe-key --key-id "$KEY3" --query KeyMetadata.KeyState --output text)" Disabled \
    "state after CancelKeyDeletion"
aws_kms enable-key --key-id "$KEY3"
aws_kms decrypt --ciphertext-blob "fileb://$T/re.bin" --encryption-context moved=yes \
    --query Plaintext --output text | base64 -d | cmp - "$T/plain.bin" || fail "after cancel"
aws_kms schedule-key-deletion --key-id "$KEY3" --pending-window-in-days 7 >/dev/null
# 6 days later the key still exists
set_clock $((6 * 86400))
sleep 2
kms_unix DescribeKey "{\"KeyId\":\"$KEY3\"}" | jq -e '.KeyMetadata.KeyState == "PendingDeletion"' \
    >/dev/null || fail "key gone before its window ended"
# 8 days later the daemon has destroyed it
set_clock $((8 * 86400))
gone() { kms_unix DescribeKey "{\"KeyId\":\"$KEY3\"}" | jq -e '.__type == "NotFoundException"' >/dev/null; }
wait_for gone || fail "key not destroyed after its deletion window"
set_clock 0
expect_error NotFoundException aws_kms describe-key --key-id "$KEY3"
if aws_kms decrypt --ciphertext-blob "fileb://$T/re.bin" --encryption-context moved=yes \
    >/dev/null 2>"$T/err"; then fail "ciphertext of a deleted key decrypted"; fi
grep -Eq "\((NotFoundException|InvalidCiphertextException|KMSInvalidStateException)\)" "$T/err" \
    || { cat "$T/err" >&2; fail "deleted key: unexpected error"; }
kms_unix ListKeys '{}' | jq -e --arg k "$KEY3" '[.Keys[].KeyId] | index($k) == null' >/dev/null \
    || fail "deleted key still listed"

# ---- the managed key ----
aws_kms generate-data-key-without-plaintext --key-id alias/envol/ebs --number-of-bytes 64 \
    --encryption-context envol:volume-id=0b8a2f0e-0000-4000-8000-000000000002 >"$T/ebs.json"
aws_kms describe-key --key-id alias/envol/ebs >"$T/ebs-desc.json"
eq "$(jq -r .KeyMetadata.KeyManager "$T/ebs-desc.json")" AWS "managed key KeyManager"
eq "$(jq -r .KeyId "$T/ebs.json")" "$(jq -r .KeyMetadata.Arn "$T/ebs-desc.json")" "managed key ARN"
if aws_kms disable-key --key-id alias/envol/ebs >/dev/null 2>&1; then fail "managed key disabled"; fi
if aws_kms schedule-key-deletion --key-id "$(jq -r .KeyMetadata.KeyId "$T/ebs-desc.json")" \
    >/dev/null 2>&1; then fail "managed key scheduled for deletion"; fi

# ---- refusals ----
expect_error NotFoundException aws_kms describe-key --key-id 00000000-0000-4000-8000-000000000000
expect_error NotFoundException aws_kms encrypt --key-id alias/does-not-exist --plaintext "fileb://$T/plain.bin"
SECRET_KEY=not-the-right-secret expect_error InvalidSignatureException aws_kms list-keys
ACCESS_KEY=AKIDUNKNOWN000000000 expect_error UnrecognizedClientException aws_kms list-keys
set_clock 1200
expect_error InvalidSignatureException aws_kms list-keys
grep -q "Signature expired" "$T/err" || fail "expired signature message: $(cat "$T/err")"
set_clock -1200
expect_error InvalidSignatureException aws_kms list-keys
grep -q "Signature not yet current" "$T/err" || fail "future signature message: $(cat "$T/err")"
set_clock 0
aws_kms list-keys >/dev/null

# every refusal and success above is in the audit log, which still verifies
grep -q '"InvalidSignatureException"' "$T/state/audit.log" || fail "signature refusal not audited"
grep -q '"UnrecognizedClientException"' "$T/state/audit.log" || fail "unknown key not audited"
if [ -x "$BIN/envolctl" ]; then
    "$BIN/envolctl" -c "$CONF" audit verify "$T/state/audit.log" || fail "audit log does not verify"
fi
kill -0 "$KMSD_PID" || fail "envol-kmsd died"
echo "OK"
