#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-kms-bad-input.sh — hostile input over the wire to envol-kmsd, each answered with its AWS
# error (or the connection cut), the daemon still serving afterwards: bodies over 64 KiB (with
# Content-Length and chunked), malformed JSON, wrong member types, bad base64, a 5000-byte
# plaintext, missing members, unknown and unsupported operations, wrong method/path/content type,
# too many headers; then stalled and excess connections (kms_conn_storm.py).
source "$(dirname "$0")/functions.sh"
requires curl jq

envol_tmpdir
PORT=$(free_port)
KMS_LISTEN=127.0.0.1:$PORT
write_config "$KMS_LISTEN"
start_kmsd
SOCK=$T/run/kms.sock
CT='Content-Type: application/x-amz-json-1.1'
eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }

# call OP BODY-FILE [curl args…] — prints "<status> <__type or ok>"
call() {
    local op=$1 body=$2 code; shift 2
    code=$(curl -sS --unix-socket "$SOCK" -o "$T/resp" -w '%{http_code}' -H "$CT" \
           -H "X-Amz-Target: TrentService.$op" --data-binary "@$body" "$@" http://localhost/) \
        || code="curl-failed"
    if [ "$code" = 200 ]; then echo "200 ok"; else echo "$code $(jq -r '.__type' "$T/resp" 2>/dev/null)"; fi
}
alive() {
    printf '{}' >"$T/empty.json"
    eq "$(call ListKeys "$T/empty.json")" "200 ok" "daemon still serving after: $1"
}
j() { printf '%s' "$1" >"$T/req.json"; echo "$T/req.json"; }

KEY=$(curl -sS --unix-socket "$SOCK" -H "$CT" -H 'X-Amz-Target: TrentService.CreateKey' -d '{}' \
      http://localhost/ | jq -r .KeyMetadata.KeyId)
[[ $KEY =~ ^[0-9a-f-]{36}$ ]] || fail "CreateKey"
BLOB=$(curl -sS --unix-socket "$SOCK" -H "$CT" -H 'X-Amz-Target: TrentService.Encrypt' \
       -d "{\"KeyId\":\"$KEY\",\"Plaintext\":\"AAAA\"}" http://localhost/ | jq -r .CiphertextBlob)

# ---- size ----
$PY -c 'import sys; sys.stdout.write("{\"KeyId\":\"x\",\"Plaintext\":\"" + "A" * 70000 + "\"}")' \
    >"$T/big.json"
eq "$(call Encrypt "$T/big.json")" "413 ValidationException" "70 KB body (Content-Length)"
alive "70 KB body"
# the same, chunked (no Content-Length): the daemon cuts the connection or answers 413
r=$(call Encrypt "$T/big.json" -H 'Transfer-Encoding: chunked')
case "$r" in "413 ValidationException" | curl-failed* | "000 "*) ;; *) fail "chunked 70 KB body: $r" ;; esac
alive "chunked 70 KB body"
# 64 KiB exactly is allowed through to the JSON layer (and refused there for its content)
$PY -c 'import sys; p = "{\"KeyId\":\"x\",\"Plaintext\":\"\"}"; sys.stdout.write(p[:-2] + "A" * (65536 - len(p)) + "\"}")' \
    >"$T/64k.json"
eq "$(stat -c %s "$T/64k.json")" 65536 "64 KiB request size"
r=$(call Encrypt "$T/64k.json")
[ "${r%% *}" != 413 ] || fail "a 65536-byte body was refused as too large"
alive "64 KiB body"

# ---- JSON ----
eq "$(call Encrypt "$(j '{"KeyId":')")" "400 SerializationException" "truncated JSON"
alive "truncated JSON"
eq "$(call Encrypt "$(j 'not json at all')")" "400 SerializationException" "not JSON"
eq "$(call Encrypt "$(j '[1,2,3]')")" "400 SerializationException" "JSON array body"
printf '{"KeyId":"%s","Plaintext":"\xff\xfe"}' "$KEY" >"$T/req.json"
r=$(call Encrypt "$T/req.json")
case "$r" in "400 SerializationException" | "400 ValidationException") ;; *) fail "invalid UTF-8: $r" ;; esac
alive "malformed JSON"
eq "$(call Encrypt "$(j "{\"KeyId\":5,\"Plaintext\":\"AAAA\"}")")" "400 SerializationException" \
    "KeyId of the wrong type"
eq "$(call Encrypt "$(j "{\"KeyId\":\"$KEY\",\"Plaintext\":[1]}")")" "400 SerializationException" \
    "Plaintext of the wrong type"
eq "$(call ListKeys "$(j '{"Limit":"ten"}')")" "400 SerializationException" "Limit of the wrong type"
alive "wrong types"
eq "$(call Encrypt "$(j "{\"KeyId\":\"$KEY\",\"Plaintext\":\"!!notbase64!!\"}")")" \
    "400 SerializationException" "bad base64 plaintext"
eq "$(call Decrypt "$(j '{"CiphertextBlob":"AAA"}')")" "400 SerializationException" \
    "bad base64 (length) ciphertext"
alive "bad base64"
$PY -c "import base64,sys; sys.stdout.write('{\"KeyId\":\"$KEY\",\"Plaintext\":\"' + base64.b64encode(b'x'*5000).decode() + '\"}')" \
    >"$T/5000.json"
eq "$(call Encrypt "$T/5000.json")" "400 ValidationException" "5000-byte plaintext"
eq "$(call Encrypt "$(j '{"Plaintext":"AAAA"}')")" "400 ValidationException" "missing KeyId"
eq "$(call Decrypt "$(j '{}')")" "400 ValidationException" "missing CiphertextBlob"
eq "$(call Decrypt "$(j '{"CiphertextBlob":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}')")" \
    "400 InvalidCiphertextException" "garbage ciphertext"
alive "validation errors"

# ---- operations and HTTP shape ----
eq "$(call NoSuchOperation "$(j '{}')")" "400 UnknownOperationException" "unknown operation"
eq "$(call Sign "$(j "{\"KeyId\":\"$KEY\",\"Message\":\"AAAA\",\"SigningAlgorithm\":\"RSASSA_PSS_SHA_256\"}")")" \
    "400 UnsupportedOperationException" "unsupported AWS operation"
eq "$(call 'ListKeys;drop' "$(j '{}')")" "400 UnknownOperationException" "malformed target"
code=$(curl -sS --unix-socket "$SOCK" -o "$T/resp" -w '%{http_code}' http://localhost/)
eq "$code $(jq -r .__type "$T/resp")" "400 UnknownOperationException" "GET /"
code=$(curl -sS --unix-socket "$SOCK" -o "$T/resp" -w '%{http_code}' -H "$CT" \
       -H 'X-Amz-Target: TrentService.ListKeys' -d '{}' http://localhost/other)
eq "$code $(jq -r .__type "$T/resp")" "400 UnknownOperationException" "POST /other"
code=$(curl -sS --unix-socket "$SOCK" -o "$T/resp" -w '%{http_code}' \
       -H 'Content-Type: text/plain' -H 'X-Amz-Target: TrentService.ListKeys' -d '{}' http://localhost/)
eq "$code $(jq -r .__type "$T/resp")" "400 UnknownOperationException" "wrong Content-Type"
code=$(curl -sS --unix-socket "$SOCK" -o "$T/resp" -w '%{http_code}' -H "$CT" -d '{}' http://localhost/)
eq "$code $(jq -r .__type "$T/resp")" "400 UnknownOperationException" "no X-Amz-Target"
hdrs=()
for ((i = 0; i < 80; i++)); do hdrs+=(-H "X-Filler-$i: $i"); done
code=$(curl -sS -o "$T/resp" -w '%{http_code}' -H "$CT" \
       -H 'X-Amz-Target: TrentService.ListKeys' "${hdrs[@]}" -d '{}' "http://127.0.0.1:$PORT/")
eq "$code $(jq -r .__type "$T/resp")" "400 ValidationException" "80 extra headers on TCP"
alive "HTTP shape errors"

# the ciphertext from the start still decrypts: nothing above disturbed the key store
eq "$(call Decrypt "$(j "{\"CiphertextBlob\":\"$BLOB\"}")")" "200 ok" "Decrypt after the abuse"
eq "$(jq -r .Plaintext "$T/resp")" AAAA "plaintext after the abuse"
grep -q '"SerializationException"' "$T/state/audit.log" || fail "refusals not audited"
grep -q '"ValidationException"' "$T/state/audit.log" || fail "413 not audited"

# ---- connections: stalled, cut off after the timeout, over the limit, garbage ----
$PY "$ENVOL_SOURCE_DIR/tests/interop/kms_conn_storm.py" "$SOCK" "$PORT" 15
alive "connection storm"
kill -0 "$KMSD_PID" || fail "envol-kmsd died"
echo OK
