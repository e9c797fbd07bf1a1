#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-tls-kms.sh — HTTPS for envol-kmsd's TCP listener (kms.tls_certificates, certificates made
# now by make-certs.sh): the aws CLI with --ca-bundle and boto3 with verify= sign with SigV4
# over https://127.0.0.1:PORT; envolctl over https with client.tls_ca as a file and as a
# directory, and with --ca (overriding client.tls_ca), --cert and --tls-key.  Refused: a TCP listener without TLS unless kms.allow_plain_http = true, plain HTTP
# against the HTTPS listener, and clients trusting another CA (aws CLI, boto3, envolctl).
source "$(dirname "$0")/functions.sh"
requires openssl curl jq
[ -x "$AWS" ] || { echo "$0: skipped: no aws CLI"; exit 77; }
$PY -c 'import boto3' 2>/dev/null || { echo "$0: skipped: boto3 is not installed for $PY"; exit 77; }

envol_tmpdir
C=$T/certs
bash "$ENVOL_SOURCE_DIR/tests/interop/make-certs.sh" "$C"
KMS_LISTEN=127.0.0.1:$(free_port)
URL=https://$KMS_LISTEN
write_config "$KMS_LISTEN"

# ---- a TCP listener without TLS: refused unless allow_plain_http ----
sed -i '/allow_plain_http = true;/d' "$CONF"
! "$BIN/envol-kmsd" -c "$CONF" >"$T/plain.log" 2>&1 || fail "envol-kmsd served plain HTTP on TCP"
grep -q "a TCP listener without TLS: set kms.tls_certificates, or kms.allow_plain_http = true" \
    "$T/plain.log" || { cat "$T/plain.log"; fail "no reason for refusing plain HTTP"; }
echo "plain HTTP on TCP without allow_plain_http: refused to start"

sed -i "s|^  listen = \"$KMS_LISTEN\";|&\n  tls_certificates = \"$C/server\";|" "$CONF"
grep -q "tls_certificates = \"$C/server\"" "$CONF" || fail "could not set kms.tls_certificates"
start_kmsd
grep -q "HTTPS with the certificate in $C/server" "$T/kmsd.log" ||
    { cat "$T/kmsd.log"; fail "HTTPS listener not logged"; }

# ---- plain HTTP against the HTTPS listener gets no answer ----
if curl -sS --max-time 5 -o /dev/null "http://$KMS_LISTEN/" 2>"$T/err"; then
    fail "plain HTTP answered on the HTTPS listener"
fi
echo "plain HTTP on the HTTPS listener: refused ($(head -c 80 "$T/err"))"

# ---- aws CLI with --ca-bundle ----
aws_tls() { # CA-FILE ARGS…
    local ca=$1; shift
    AWS_ACCESS_KEY_ID=$ACCESS_KEY AWS_SECRET_ACCESS_KEY=$SECRET_KEY AWS_DEFAULT_REGION=local \
        AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null \
        AWS_SHARED_CREDENTIALS_FILE=/dev/null \
        $AWS --endpoint-url "$URL" --ca-bundle "$ca" kms "$@"
}
kid=$(aws_tls "$C/server/ca-cert.pem" create-key --description "over https" \
    --query KeyMetadata.KeyId --output text)
[ -n "$kid" ] || fail "aws CLI create-key over HTTPS"
printf 'secret over https' >"$T/p"
aws_tls "$C/server/ca-cert.pem" encrypt --key-id "$kid" --plaintext "fileb://$T/p" \
    --query CiphertextBlob --output text | base64 -d >"$T/c"
aws_tls "$C/server/ca-cert.pem" decrypt --ciphertext-blob "fileb://$T/c" --query Plaintext \
    --output text | base64 -d >"$T/p2"
cmp "$T/p" "$T/p2" || fail "aws CLI round trip over HTTPS"
if AWS_MAX_ATTEMPTS=1 aws_tls "$C/otherca/ca-cert.pem" list-keys >/dev/null 2>"$T/err"; then
    fail "aws CLI trusted a server certificate from another CA"
fi
grep -qi "certificate\|SSL" "$T/err" || { cat "$T/err"; fail "aws CLI: wrong CA without a TLS error"; }
echo "aws CLI --ca-bundle: served; another CA: refused"

# ---- boto3 with verify= ----
AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
    $PY - "$URL" "$ACCESS_KEY" "$SECRET_KEY" "$C/server/ca-cert.pem" "$C/otherca/ca-cert.pem" \
    "$kid" <<'PYEOF'
import sys, boto3, botocore.config, botocore.exceptions
url, ak, sk, ca, other, kid = sys.argv[1:]
def kms(verify):
    return boto3.client("kms", endpoint_url=url, region_name="local", verify=verify,
                        aws_access_key_id=ak, aws_secret_access_key=sk,
                        config=botocore.config.Config(retries={"max_attempts": 1}))
k = kms(ca)
assert any(x["KeyId"] == kid for x in k.list_keys()["Keys"]), "boto3: key not listed"
blob = k.encrypt(KeyId=kid, Plaintext=b"boto3 over https",
                 EncryptionContext={"k": "v"})["CiphertextBlob"]
assert k.decrypt(CiphertextBlob=blob, EncryptionContext={"k": "v"})["Plaintext"] == \
    b"boto3 over https", "boto3: round trip"
try:
    kms(other).list_keys()
except botocore.exceptions.SSLError:
    pass
else:
    raise SystemExit("boto3 trusted a server certificate from another CA")
print("boto3 verify=: served; another CA: refused")
PYEOF

# ---- envolctl over https with client.tls_ca (file, directory) ----
tls_client_conf() { # OUT CA [ENDPOINT]
    cp "$CONF" "$1"
    cat >>"$1" <<CONF
client: {
  kms_socket = "$T/run/no-such.sock";
  endpoint = "${3:-$URL}";
  access_key_id = "$ACCESS_KEY";
  secret_access_key = "$SECRET_KEY";
  tls_ca = "$2";
};
CONF
}
tls_client_conf "$T/file.conf" "$C/server/ca-cert.pem"
"$BIN/envolctl" -c "$T/file.conf" key list | grep -q "^$kid " || fail "envolctl over https (CA file)"
mkdir "$T/cadir"
cp "$C/server/ca-cert.pem" "$T/cadir/"
openssl rehash "$T/cadir" 2>/dev/null || fail "openssl rehash"
tls_client_conf "$T/dir.conf" "$T/cadir"
"$BIN/envolctl" -c "$T/dir.conf" key list | grep -q "^$kid " || fail "envolctl over https (CA dir)"
"$BIN/envolctl" -c "$T/dir.conf" key decrypt "$T/c" "$T/p3" >/dev/null
cmp "$T/p" "$T/p3" || fail "envolctl decrypt over https"
"$BIN/envolctl" -c "$CONF" audit tail -n 3 | grep -q "user/alice" || fail "audit does not show alice"

tls_client_conf "$T/other.conf" "$C/otherca/ca-cert.pem"
rc=0; "$BIN/envolctl" -c "$T/other.conf" key list >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || { cat "$T/err"; fail "envolctl with another CA: exit $rc"; }
grep -qi "certificate\|SSL\|TLS" "$T/err" || { cat "$T/err"; fail "envolctl: wrong CA, no TLS error"; }
"$BIN/envolctl" -c "$T/other.conf" --ca "$C/server/ca-cert.pem" key list | grep -q "^$kid " ||
    fail "envolctl --ca does not override client.tls_ca"
rc=0; "$BIN/envolctl" -c "$T/file.conf" key list --ca "$C/otherca/ca-cert.pem" >/dev/null \
    2>/dev/null || rc=$?
[ "$rc" = 1 ] || fail "envolctl --ca (another CA, after the command): exit $rc"
"$BIN/envolctl" -c "$T/file.conf" --cert "$C/client/client-cert.pem" \
    --tls-key "$C/client/client-key.pem" key list | grep -q "^$kid " ||
    fail "envolctl --cert/--tls-key"
rc=0; "$BIN/envolctl" -c "$T/file.conf" --cert "$C/client/client-cert.pem" key list \
    >/dev/null 2>"$T/err2" || rc=$?
[ "$rc" = 1 ] && grep -q "client.tls_cert and client.tls_key go together" "$T/err2" ||
    { cat "$T/err2"; fail "envolctl --cert without a key: exit $rc"; }
echo "envolctl client.tls_ca (file, directory), --ca, --cert/--tls-key: served; another CA: refused"
cat "$T/err"

tls_client_conf "$T/http.conf" "$C/server/ca-cert.pem" "http://$KMS_LISTEN"
rc=0; "$BIN/envolctl" -c "$T/http.conf" key list >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || { cat "$T/err"; fail "envolctl over plain http to the HTTPS listener: exit $rc"; }
echo "envolctl over http:// to the HTTPS listener: refused"

# ---- allow_plain_http = true: plain TCP starts (with a warning) ----
stop() { kill "$KMSD_PID"; wait "$KMSD_PID" || true; }
stop
sed -i "\\|tls_certificates = \"$C/server\";|d; s|^  listen = \"$KMS_LISTEN\";|&\n  allow_plain_http = true;|" "$CONF"
start_kmsd
grep -q "plain HTTP over TCP (kms.allow_plain_http = true)" "$T/kmsd.log" ||
    { cat "$T/kmsd.log"; fail "no warning for plain HTTP"; }
tls_client_conf "$T/http.conf" "$C/server/ca-cert.pem" "http://$KMS_LISTEN"
"$BIN/envolctl" -c "$T/http.conf" key list | grep -q "^$kid " || fail "plain http with allow_plain_http"
echo "allow_plain_http = true: plain HTTP served, with a warning"
echo PASS
