#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-kms-aws-cli.sh — a smoke test of the real aws CLI v2 against envol-kmsd over TCP with
# SigV4: one or two calls per command family (keys with paging, aliases, file encryption with
# fileb:// and an encryption context, data keys, re-encryption, rotation, disable, tags,
# scheduled deletion and its cancellation) and one AWS error, as the CLI shows it.  The full API coverage through an AWS SDK is test-kms-boto3.sh (kms_boto3.py); the
# daemon's clock-driven rotation and deletion are in test-kms-curl.sh.
source "$(dirname "$0")/functions.sh"
requires jq base64 cmp
[ -x "$AWS" ] || { echo "$0: skipped: $AWS is not installed"; exit 77; }

envol_tmpdir
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

# ---- keys: create (with a tag), describe, list with paging ----
KEY=$(aws_kms create-key --description "first test key" --tags TagKey=team,TagValue=storage \
      --query KeyMetadata.KeyId --output text)
[[ $KEY =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] || fail "KeyId '$KEY'"
ARN=arn:aws:kms:local:000000000000:key/$KEY
eq "$(aws_kms describe-key --key-id "$ARN" \
      --query '[KeyMetadata.KeyId, KeyMetadata.KeyState, KeyMetadata.Description]' --output text)" \
    "$KEY	Enabled	first test key" "DescribeKey by ARN"
KEY2=$(aws_kms create-key --query KeyMetadata.KeyId --output text)
# --page-size 1 makes the CLI send Limit=1 and follow NextMarker until Truncated is false
paged=$(aws_kms list-keys --page-size 1 --query 'Keys[].KeyId' --output text | tr '\t' '\n' | sort)
eq "$paged" "$(printf '%s\n' "$KEY" "$KEY2" | sort)" "ListKeys paged with Limit/Marker"

# ---- aliases, encrypt / decrypt files with an encryption context ----
aws_kms create-alias --alias-name alias/test-one --target-key-id "$KEY"
head -c 3000 /dev/urandom >"$T/plain.bin"
aws_kms encrypt --key-id alias/test-one --plaintext "fileb://$T/plain.bin" \
    --encryption-context purpose=test,volume=v1 --query CiphertextBlob --output text |
    base64 -d >"$T/ct.bin"
aws_kms decrypt --ciphertext-blob "fileb://$T/ct.bin" --encryption-context volume=v1,purpose=test \
    >"$T/dec.json"
jq -r .Plaintext "$T/dec.json" | base64 -d | cmp - "$T/plain.bin" || fail "decrypted file differs"
eq "$(jq -r .KeyId "$T/dec.json")" "$ARN" "Decrypt KeyId"

# ---- data keys, re-encryption ----
aws_kms generate-data-key --key-id "$KEY" --key-spec AES_256 --encryption-context app=db >"$T/dk.json"
eq "$(jq -r .Plaintext "$T/dk.json" | base64 -d | wc -c)" 32 "GenerateDataKey AES_256"
jq -e '(.CiphertextBlob | length) > 0' "$T/dk.json" >/dev/null || fail "GenerateDataKey blob"
aws_kms re-encrypt --ciphertext-blob "fileb://$T/ct.bin" \
    --source-encryption-context purpose=test,volume=v1 --destination-key-id "$KEY2" >"$T/re.json"
eq "$(jq -r '[.SourceKeyId, .KeyId] | join(" ")' "$T/re.json")" "$ARN ${ARN%/*}/$KEY2" "ReEncrypt"
jq -r .CiphertextBlob "$T/re.json" | base64 -d >"$T/re.bin"

# ---- rotation ----
aws_kms enable-key-rotation --key-id "$KEY" --rotation-period-in-days 90
[[ $(aws_kms rotate-key-on-demand --key-id "$KEY" --query KeyId --output text) == *"$KEY" ]] ||
    fail "RotateKeyOnDemand"

# ---- disable, and an AWS error as the CLI shows it ----
aws_kms disable-key --key-id "$KEY2"
expect_error DisabledException aws_kms decrypt --ciphertext-blob "fileb://$T/re.bin"

# ---- tags ----
eq "$(aws_kms list-resource-tags --key-id "$KEY" --query 'Tags[].[TagKey, TagValue]' --output text)" \
    "team	storage" "ListResourceTags"

# ---- scheduled deletion and its cancellation ----
eq "$(aws_kms schedule-key-deletion --key-id "$KEY2" --pending-window-in-days 7 \
      --query KeyState --output text)" PendingDeletion "ScheduleKeyDeletion"
eq "$(aws_kms cancel-key-deletion --key-id "$KEY2" --query KeyId --output text)" "${ARN%/*}/$KEY2" \
    "CancelKeyDeletion"

kill -0 "$KMSD_PID" || fail "envol-kmsd died"
echo "OK"
