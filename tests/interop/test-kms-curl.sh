#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-kms-curl.sh — envol-kmsd's listeners with curl: SigV4 from curl --aws-sigv4 on TCP (and the
# AWS errors for missing, garbled, unknown-key and wrong-region signatures), the Unix socket with
# SO_PEERCRED (principal user/unix/root, mode 0660, an Authorization header ignored, another uid
# refused), response headers, stale socket removal after kill -9, a non-loopback kms.listen without TLS
# refused, and SIGTERM exiting 0 and removing the socket; with the test clock moved, expired and
# future signatures, and the daemon's tick rotating a key when due and destroying one whose
# deletion window is over.
source "$(dirname "$0")/functions.sh"
requires curl jq setpriv

envol_tmpdir
use_test_clock
PORT=$(free_port)
KMS_LISTEN=localhost:$PORT
write_config "$KMS_LISTEN"
start_kmsd
SOCK=$T/run/kms.sock
CT='Content-Type: application/x-amz-json-1.1'
eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }

# The daemon answers TCP once its thread pool runs; wait for it.
for ((i = 0; i < 50; i++)); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.1
done

# ---- TCP with curl's own SigV4 signer ----
sig() {
    curl -sS --aws-sigv4 "aws:amz:local:kms" --user "$ACCESS_KEY:$SECRET_KEY" -H "$CT" \
        -H "X-Amz-Target: TrentService.$1" --data-binary "$2" -D "$T/headers" \
        "http://127.0.0.1:$PORT/"
}
KEY=$(sig CreateKey '{"Description":"curl key"}' | jq -r .KeyMetadata.KeyId)
[[ $KEY =~ ^[0-9a-f-]{36}$ ]] || fail "CreateKey over curl --aws-sigv4: '$KEY'"
grep -qi '^content-type: application/x-amz-json-1.1' "$T/headers" || fail "response Content-Type"
grep -Eqi '^x-amzn-requestid: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}' \
    "$T/headers" || fail "x-amzn-RequestId is not a UUID"
CT_B64=$(sig Encrypt "{\"KeyId\":\"$KEY\",\"Plaintext\":\"aGVsbG8gd29ybGQ=\"}" | jq -r .CiphertextBlob)
eq "$(sig Decrypt "{\"CiphertextBlob\":\"$CT_B64\"}" | jq -r .Plaintext)" aGVsbG8gd29ybGQ= \
    "Decrypt over curl --aws-sigv4"

# errors: missing, garbled, unknown key, wrong secret, wrong region, wrong service
status_and_type() {  # prints "<http status> <__type>"
    local code
    code=$(curl -sS -o "$T/body" -w '%{http_code}' "$@")
    echo "$code $(jq -r '.__type' "$T/body")"
}
U=http://127.0.0.1:$PORT/
eq "$(status_and_type -H "$CT" -H 'X-Amz-Target: TrentService.ListKeys' -d '{}' "$U")" \
    "400 MissingAuthenticationTokenException" "no Authorization"
eq "$(status_and_type -H "$CT" -H 'X-Amz-Target: TrentService.ListKeys' \
      -H 'Authorization: AWS4-HMAC-SHA256 Credential=x' -d '{}' "$U")" \
    "400 IncompleteSignatureException" "garbled Authorization"
eq "$(status_and_type -H "$CT" -H 'X-Amz-Target: TrentService.ListKeys' \
      -H 'Authorization: Basic YWxpY2U6c2VjcmV0' -d '{}' "$U")" \
    "400 IncompleteSignatureException" "Basic Authorization"
eq "$(status_and_type --aws-sigv4 aws:amz:local:kms --user "AKIDWHOISTHIS0000000:$SECRET_KEY" \
      -H "$CT" -H 'X-Amz-Target: TrentService.ListKeys' -d '{}' "$U")" \
    "400 UnrecognizedClientException" "unknown access key"
eq "$(status_and_type --aws-sigv4 aws:amz:local:kms --user "$ACCESS_KEY:wrong-secret" \
      -H "$CT" -H 'X-Amz-Target: TrentService.ListKeys' -d '{}' "$U")" \
    "400 InvalidSignatureException" "wrong secret"
eq "$(status_and_type --aws-sigv4 aws:amz:us-east-1:kms --user "$ACCESS_KEY:$SECRET_KEY" \
      -H "$CT" -H 'X-Amz-Target: TrentService.ListKeys' -d '{}' "$U")" \
    "400 InvalidSignatureException" "wrong region"
eq "$(status_and_type --aws-sigv4 aws:amz:local:s3 --user "$ACCESS_KEY:$SECRET_KEY" \
      -H "$CT" -H 'X-Amz-Target: TrentService.ListKeys' -d '{}' "$U")" \
    "400 InvalidSignatureException" "wrong service"
# a signed request whose body was changed on the way
AUTHZ=$(curl -sS -v --aws-sigv4 aws:amz:local:kms --user "$ACCESS_KEY:$SECRET_KEY" -H "$CT" \
        -H 'X-Amz-Target: TrentService.ListKeys' -d '{}' "$U" 2>&1 >/dev/null \
        | sed -n 's/^> [Aa]uthorization: //p' | tr -d '\r')
DATE=$(curl -sS -v --aws-sigv4 aws:amz:local:kms --user "$ACCESS_KEY:$SECRET_KEY" -H "$CT" \
        -H 'X-Amz-Target: TrentService.ListKeys' -d '{}' "$U" 2>&1 >/dev/null \
        | sed -n 's/^> [Xx]-[Aa]mz-[Dd]ate: //p' | tr -d '\r')
[ -n "$AUTHZ" ] && [ -n "$DATE" ] || fail "could not capture curl's signature"
eq "$(status_and_type -H "$CT" -H 'X-Amz-Target: TrentService.ListKeys' -H "X-Amz-Date: $DATE" \
      -H "Authorization: $AUTHZ" -d '{"Limit":1}' "$U" | cut -d' ' -f2)" \
    InvalidSignatureException "modified body"
# expired: move the daemon's clock 20 minutes ahead
echo 1200 >"$ENVOL_TEST_CLOCK_FILE"
eq "$(status_and_type --aws-sigv4 aws:amz:local:kms --user "$ACCESS_KEY:$SECRET_KEY" \
      -H "$CT" -H 'X-Amz-Target: TrentService.ListKeys' -d '{}' "$U")" \
    "400 InvalidSignatureException" "expired signature"
grep -q "Signature expired" "$T/body" || fail "expired message: $(cat "$T/body")"
echo -1200 >"$ENVOL_TEST_CLOCK_FILE"
eq "$(status_and_type --aws-sigv4 aws:amz:local:kms --user "$ACCESS_KEY:$SECRET_KEY" \
      -H "$CT" -H 'X-Amz-Target: TrentService.ListKeys' -d '{}' "$U")" \
    "400 InvalidSignatureException" "signature from the future"
grep -q "Signature not yet current" "$T/body" || fail "future message: $(cat "$T/body")"
echo 0 >"$ENVOL_TEST_CLOCK_FILE"

# ---- Unix socket: SO_PEERCRED ----
uds() {
    curl -sS --unix-socket "$SOCK" -H "$CT" -H "X-Amz-Target: TrentService.$1" \
        --data-binary "$2" "${@:3}" http://localhost/
}
eq "$(stat -c %a "$SOCK")" 660 "socket mode"
KEY2=$(uds CreateKey '{"Description":"unix key"}' | jq -r .KeyMetadata.KeyId)
[[ $KEY2 =~ ^[0-9a-f-]{36}$ ]] || fail "CreateKey over the Unix socket"
grep -F "$KEY2" "$T/state/audit.log" | grep -q 'arn:aws:iam::000000000000:user/unix/root' \
    || fail "Unix caller not audited as user/unix/root"
grep -F "$KEY2" "$T/state/audit.log" | grep -q 'unix:pid=' || fail "Unix source not audited"
# an Authorization header on the Unix socket is ignored, even a bogus one
eq "$(uds DescribeKey "{\"KeyId\":\"$KEY\"}" -H 'Authorization: AWS4-HMAC-SHA256 bogus' \
      | jq -r .KeyMetadata.KeyId)" "$KEY" "Authorization ignored on the Unix socket"
# another uid: refused by the socket mode, then (socket opened up) by authorization
chmod 711 "$T"
if setpriv --reuid=65534 --regid=65534 --clear-groups curl -s --unix-socket "$SOCK" \
    -H "$CT" -H 'X-Amz-Target: TrentService.ListKeys' -d '{}' http://localhost/ >/dev/null; then
    fail "uid 65534 connected to a 0660 root socket"
fi
chmod 666 "$SOCK"
setpriv --reuid=65534 --regid=65534 --clear-groups curl -sS --unix-socket "$SOCK" \
    -H "$CT" -H 'X-Amz-Target: TrentService.ListKeys' -d '{}' http://localhost/ >"$T/body"
eq "$(jq -r .__type "$T/body")" AccessDeniedException "uid 65534 over the Unix socket"
NOBODY=$(getent passwd 65534 | cut -d: -f1)
grep -q "arn:aws:iam::000000000000:user/unix/${NOBODY:-65534}" "$T/state/audit.log" \
    || fail "uid 65534 not audited as user/unix/${NOBODY:-65534}"
chmod 660 "$SOCK"
chmod 700 "$T"

# ---- the daemon's tick, by the test clock: automatic rotation, deletion after the window ----
RKEY=$(uds CreateKey '{}' | jq -r .KeyMetadata.KeyId)
uds EnableKeyRotation "{\"KeyId\":\"$RKEY\",\"RotationPeriodInDays\":90}" >/dev/null
echo $((91 * 86400)) >"$ENVOL_TEST_CLOCK_FILE"
automatic() { uds ListKeyRotations "{\"KeyId\":\"$RKEY\"}" |
              jq -e '[.Rotations[] | select(.RotationType == "AUTOMATIC")] | length == 1' >/dev/null; }
wait_until 10 "an AUTOMATIC rotation 91 days later" automatic
echo 0 >"$ENVOL_TEST_CLOCK_FILE"
# SKEY's 7-day window starts now, DKEY's a day later: at day 7.5 the tick destroys SKEY (the
# signal that it ran) and must leave DKEY pending; at day 9 it destroys DKEY too.
state_of() { uds DescribeKey "{\"KeyId\":\"$1\"}" | jq -r '.KeyMetadata.KeyState // .__type'; }
SKEY=$(uds CreateKey '{}' | jq -r .KeyMetadata.KeyId)
uds ScheduleKeyDeletion "{\"KeyId\":\"$SKEY\",\"PendingWindowInDays\":7}" >/dev/null
echo 86400 >"$ENVOL_TEST_CLOCK_FILE"
DKEY=$(uds CreateKey '{}' | jq -r .KeyMetadata.KeyId)
DBLOB=$(uds Encrypt "{\"KeyId\":\"$DKEY\",\"Plaintext\":\"aGVsbG8=\"}" | jq -r .CiphertextBlob)
uds ScheduleKeyDeletion "{\"KeyId\":\"$DKEY\",\"PendingWindowInDays\":7}" >/dev/null
echo $((7 * 86400 + 43200)) >"$ENVOL_TEST_CLOCK_FILE"
gone() { [ "$(state_of "$1")" = NotFoundException ]; }
wait_until 10 "the first key destroyed after its window" gone "$SKEY"
eq "$(state_of "$DKEY")" PendingDeletion "a key 6.5 days into its 7-day window"
echo $((9 * 86400)) >"$ENVOL_TEST_CLOCK_FILE"
wait_until 10 "the second key destroyed after its window" gone "$DKEY"
echo 0 >"$ENVOL_TEST_CLOCK_FILE"
uds Decrypt "{\"CiphertextBlob\":\"$DBLOB\"}" |
    jq -e '.__type | test("NotFound|InvalidCiphertext|KMSInvalidState")' >/dev/null ||
    fail "a ciphertext of the destroyed key decrypted"
uds ListKeys '{}' | jq -e --arg k "$DKEY" '[.Keys[].KeyId] | index($k) == null' >/dev/null ||
    fail "the destroyed key is still listed"

# ---- kill -9 leaves a stale socket; a restart replaces it ----
kill -9 "$KMSD_PID"
wait "$KMSD_PID" 2>/dev/null || true
[ -S "$SOCK" ] || fail "expected a stale socket after kill -9"
start_kmsd   # returns at once (the stale socket exists): wait until the new daemon answers
for ((i = 0; i < 100; i++)); do
    uds ListKeys '{}' >/dev/null 2>&1 && break
    sleep 0.1
done
eq "$(uds DescribeKey "{\"KeyId\":\"$KEY2\"}" | jq -r .KeyMetadata.KeyId)" "$KEY2" \
    "restart over a stale socket"

# ---- SIGTERM: exit 0, socket removed ----
kill -TERM "$KMSD_PID"
rc=0; wait "$KMSD_PID" || rc=$?
eq "$rc" 0 "exit status after SIGTERM"
[ ! -e "$SOCK" ] || fail "socket left behind after SIGTERM"

# ---- missing directories are created: socket parents 0755 whatever the umask ----
sed -e "s|^state_dir = .*|state_dir = \"$T/fresh/state\";|" \
    -e "s|^runtime_dir = .*|runtime_dir = \"$T/fresh/run/deeper\";|" \
    -e "s|listen = \"$KMS_LISTEN\"|listen = \"\"|" "$CONF" >"$T/fresh.conf"
(umask 077; exec "$BIN/envol-kmsd" -c "$T/fresh.conf" >"$T/fresh.log" 2>&1) &
FPID=$!
cleanup_fn "kill $FPID 2>/dev/null"
for ((i = 0; i < 100; i++)); do [ -S "$T/fresh/run/deeper/kms.sock" ] && break; sleep 0.1; done
[ -S "$T/fresh/run/deeper/kms.sock" ] || { cat "$T/fresh.log"; fail "no socket in a fresh runtime_dir"; }
eq "$(stat -c %a "$T/fresh/run" "$T/fresh/run/deeper" | tr '\n' ' ')" "755 755 " "created socket dirs"
eq "$(stat -c %a "$T/fresh/run/deeper/kms.sock")" 660 "socket mode under umask 077"
kill -TERM "$FPID"
wait "$FPID" || fail "fresh daemon: exit status after SIGTERM"

# ---- a non-loopback TCP address without TLS is refused at start (unless allow_plain_http;
# test-tls-kms-listen.sh serves it) ----
for bad in "0.0.0.0:$PORT" "192.0.2.1:$PORT" "[::]:$PORT"; do
    sed "s|listen = \"$KMS_LISTEN\"|listen = \"$bad\"|; s|allow_plain_http = true;|allow_plain_http = false;|" \
        "$CONF" >"$T/bad.conf"
    grep -qF "\"$bad\"" "$T/bad.conf" || fail "could not write bad.conf"
    rc=0; "$BIN/envol-kmsd" -c "$T/bad.conf" >"$T/bad.log" 2>&1 || rc=$?
    [ "$rc" -ne 0 ] || fail "envol-kmsd started on $bad"
    grep -q "a TCP listener without TLS" "$T/bad.log" || { cat "$T/bad.log"; fail "message for $bad"; }
done
sed "s|listen = \"$KMS_LISTEN\"|listen = \"no-port\"|" "$CONF" >"$T/bad.conf"
rc=0; "$BIN/envol-kmsd" -c "$T/bad.conf" >"$T/bad.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && grep -q "HOST:PORT" "$T/bad.log" || fail "malformed kms.listen accepted"

# ---- options ----
"$BIN/envol-kmsd" --version | grep -q '^envol-kmsd ' || fail "--version"
"$BIN/envol-kmsd" --help | grep -q -- '--config' || fail "--help"
rc=0; "$BIN/envol-kmsd" --no-such-option >/dev/null 2>&1 || rc=$?
eq "$rc" 2 "exit status for a bad option"
echo OK
