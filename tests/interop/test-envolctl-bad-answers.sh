#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-envolctl-bad-answers.sh — envolctl against a stand-in KMS (kms_fake.py on
# client.kms_socket) whose answers lack members, carry them with another type or out of range,
# are not JSON, or are HTTP errors without an AWS body: every "key …" and "volume create"
# command ends with exit status 1 and a message naming what is wrong, never a crash, and writes
# no output file.
source "$(dirname "$0")/functions.sh"
requires jq

envol_tmpdir
write_config
ID=1234abcd-12ab-34cd-56ef-1234567890ab
ARN=arn:aws:kms:local:000000000000:key/$ID
ANSWERS=$T/answers.json
$PY "$ENVOL_SOURCE_DIR/tests/interop/kms_fake.py" "$T/run/kms.sock" "$ANSWERS" 2>"$T/fake.log" &
FPID=$!
cleanup_fn "kill $FPID 2>/dev/null"

# answers OP=JSON… — the well-formed answers, with the given operations' answers replaced
answers() {
    local md="{\"KeyId\":\"$ID\",\"Arn\":\"$ARN\",\"KeyState\":\"Enabled\",\"CreationDate\":1735689600}"
    local args=(--argjson md "$md") filter='{
        DescribeKey: {body: {KeyMetadata: $md}},
        CreateKey: {body: {KeyMetadata: $md}},
        ListKeys: {body: {Keys: [{KeyId: $md.KeyId, KeyArn: $md.Arn}], Truncated: false}},
        ListAliases: {body: {Aliases: [], Truncated: false}},
        GetKeyRotationStatus: {body: {KeyRotationEnabled: false}},
        EnableKey: {body: {}},
        ScheduleKeyDeletion: {body: {KeyId: $md.Arn, DeletionDate: 1738281600, KeyState: "PendingDeletion", PendingWindowInDays: 30}},
        Encrypt: {body: {KeyId: $md.Arn, CiphertextBlob: "AQIDBA==", EncryptionAlgorithm: "SYMMETRIC_DEFAULT"}},
        Decrypt: {body: {KeyId: $md.Arn, Plaintext: "aGVsbG8=", EncryptionAlgorithm: "SYMMETRIC_DEFAULT"}},
        GenerateDataKeyWithoutPlaintext: {body: {KeyId: $md.Arn, CiphertextBlob: "AQIDBA=="}}
    }' a i=0
    for a in "$@"; do
        args+=(--argjson "v$i" "${a#*=}")
        filter+=" | .${a%%=*} = \$v$i"
        i=$((i + 1))
    done
    jq -n "${args[@]}" "$filter" >"$ANSWERS"
}
answers
for ((i = 0; i < 100; i++)); do [ -S "$T/run/kms.sock" ] && break; sleep 0.1; done
[ -S "$T/run/kms.sock" ] || { cat "$T/fake.log"; fail "kms_fake.py did not start"; }

# bad PATTERN CMD… — CMD exits 1 (not a crash, not success) saying PATTERN, and leaves no $T/o
bad() {
    local pat=$1 rc=0
    shift
    rm -f "$T/o"
    "$BIN/envolctl" -c "$CONF" "$@" >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" = 1 ] || { cat "$T/out" "$T/err" >&2; fail "'$*' exited $rc, expected 1 (answers: $(cat "$ANSWERS"))"; }
    grep -q -- "$pat" "$T/err" || { cat "$T/err" >&2; fail "'$*': stderr lacks '$pat'"; }
    [ ! -e "$T/o" ] || fail "'$*' wrote $T/o"
    echo "ok: $* -> $(head -1 "$T/err")"
}
echo hello >"$T/in"

# the well-formed answers work (the stand-in is right)
ctl key show "$ID" >/dev/null || fail "key show with good answers"
ctl key list >/dev/null || fail "key list with good answers"
ctl key decrypt "$T/in" "$T/o" >/dev/null && [ "$(cat "$T/o")" = hello ] || fail "decrypt with good answers"
rm -f "$T/o"

# DescribeKey (every command that resolves a KEY)
answers 'DescribeKey={"body":{}}'
bad "DescribeKey answer has no KeyMetadata" key show "$ID"
answers 'DescribeKey={"body":{"KeyMetadata":"x"}}'
bad "DescribeKey answer has no KeyMetadata" key enable "$ID"
answers 'DescribeKey={"body":{"KeyMetadata":{"Arn":"'"$ARN"'","KeyState":"Enabled"}}}'
bad "DescribeKey answer has no KeyMetadata" key disable "$ID"
answers 'DescribeKey={"body":{"KeyMetadata":{"KeyId":"'"$ID"'","KeyState":"Enabled"}}}'
bad "DescribeKey answer lacks KeyMetadata.Arn" key show "$ID"
answers 'DescribeKey={"body":{"KeyMetadata":{"KeyId":"'"$ID"'","Arn":"'"$ARN"'"}}}'
bad "DescribeKey answer lacks KeyMetadata.KeyState" key schedule-delete "$ID"
answers 'DescribeKey={"body":{"KeyMetadata":{"KeyId":5,"Arn":"'"$ARN"'","KeyState":"Enabled"}}}'
bad "DescribeKey answer has no KeyMetadata" key rotate "$ID"
answers 'DescribeKey={"body":"this is not JSON"}'
bad "not a JSON object" key show "$ID"
answers 'DescribeKey={"status":500,"body":"oops"}'
bad "HTTP 500" key show "$ID"
answers 'DescribeKey={"status":400,"body":{"__type":5}}'
bad "HTTP 400" key show "$ID"

# ListKeys, ListAliases
answers 'ListKeys={"body":{}}'
bad "ListKeys answer lacks Keys" key list
answers 'ListKeys={"body":{"Keys":[{"KeyArn":"x"}]}}'
bad "ListKeys answer lacks Keys\[0\].KeyId" key list
answers 'ListKeys={"body":{"Keys":[{"KeyId":"'"$ID"'"}],"Truncated":true}}'
bad "ListKeys answer is truncated but lacks NextMarker" key list
answers 'ListAliases={"body":{"Aliases":[{"TargetKeyId":"'"$ID"'"}]}}'
bad "ListAliases answer lacks Aliases\[0\].AliasName" key show "$ID"
answers 'ListKeys={"body":{"Keys":[{"KeyId":"'"$ID"'"}]}}' 'DescribeKey={"body":{"KeyMetadata":{"KeyId":"'"$ID"'"}}}'
bad "DescribeKey answer lacks KeyMetadata.Arn" key list

# CreateKey, ScheduleKeyDeletion
answers 'CreateKey={"body":{"KeyMetadata":{}}}'
bad "CreateKey answer lacks KeyMetadata.KeyId" key create
answers 'CreateKey={"body":{"KeyMetadata":{"KeyId":"'"$ID"'"}}}'
bad "CreateKey answer lacks KeyMetadata.Arn" key create --alias alias/x
answers 'ScheduleKeyDeletion={"body":{"KeyId":"'"$ARN"'"}}'
bad "lacks a valid DeletionDate" key schedule-delete "$ID"
answers 'ScheduleKeyDeletion={"body":{"DeletionDate":1e300}}'
bad "lacks a valid DeletionDate" key schedule-delete "$ID"
answers 'ScheduleKeyDeletion={"body":{"DeletionDate":"tomorrow"}}'
bad "lacks a valid DeletionDate" key schedule-delete "$ID"

# Encrypt, Decrypt: nothing is written
answers 'Encrypt={"body":{"KeyId":"'"$ARN"'"}}'
bad "Encrypt answer has no valid CiphertextBlob" key encrypt "$ID" "$T/in" "$T/o"
answers 'Encrypt={"body":{"KeyId":"'"$ARN"'","CiphertextBlob":"not base64!"}}'
bad "Encrypt answer has no valid CiphertextBlob" key encrypt "$ID" "$T/in" "$T/o"
answers 'Encrypt={"body":{"CiphertextBlob":"AQIDBA=="}}'
bad "Encrypt answer lacks KeyId" key encrypt "$ID" "$T/in" "$T/o"
answers 'Decrypt={"body":{"Plaintext":"aGVsbG8="}}'
bad "Decrypt answer lacks KeyId" key decrypt "$T/in" "$T/o"
answers 'Decrypt={"body":{"KeyId":"'"$ARN"'"}}'
bad "Decrypt answer has no valid Plaintext" key decrypt "$T/in" "$T/o"
answers 'Decrypt={"body":{"KeyId":"'"$ARN"'","Plaintext":7}}'
bad "Decrypt answer has no valid Plaintext" key decrypt "$T/in" "$T/o"

# volume create: GenerateDataKeyWithoutPlaintext
answers 'GenerateDataKeyWithoutPlaintext={"body":{"CiphertextBlob":"AQIDBA=="}}'
bad "lacks KeyId or CiphertextBlob" volume create v1 --size 1M
answers 'GenerateDataKeyWithoutPlaintext={"body":{"KeyId":"'"$ARN"'"}}'
bad "lacks KeyId or CiphertextBlob" volume create v1 --size 1M
[ -z "$(ls -A "$T/state/volumes")" ] || fail "a volume was created from a bad answer"
kill -0 "$FPID" || fail "kms_fake.py died"
echo PASS
