#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-kms-sigv4-signed-headers.sh — envol-kmsd refuses a SigV4 request that leaves X-Amz-Target
# (or Content-Type, or any x-amz-* header) out of SignedHeaders: a DescribeKey signed over
# host;x-amz-date only, replayed with the target changed to DisableKey and ScheduleKeyDeletion,
# gets AWS's InvalidSignatureException and changes nothing; the aws CLI and boto3, which sign every
# header, keep working.
source "$(dirname "$0")/functions.sh"
[ -x "$AWS" ] || { echo "$0: skipped: no aws CLI"; exit 77; }
$PY -c 'import boto3' 2>/dev/null || { echo "$0: skipped: boto3 is not installed for $PY"; exit 77; }

envol_tmpdir
KMS_LISTEN=127.0.0.1:$(free_port)
write_config "$KMS_LISTEN"
start_kmsd

KEY=$(aws_kms create-key --description "signed headers" --query KeyMetadata.KeyId --output text)
[[ $KEY =~ ^[0-9a-f-]{36}$ ]] || fail "create-key with the aws CLI: '$KEY'"

# signed_call SIGNED_HEADERS TARGET_SIGNED TARGET_SENT — a request signed (by hand, as the
# SigV4 documentation says) over SIGNED_HEADERS with X-Amz-Target TARGET_SIGNED, sent with
# X-Amz-Target TARGET_SENT; prints "<HTTP status> <__type> <message>".
signed_call() {
    $PY - "$KMS_LISTEN" "$ACCESS_KEY" "$SECRET_KEY" "$KEY" "$@" <<'PY'
import datetime, hashlib, hmac, http.client, json, sys

listen, ak, sk, key, signed, target_signed, target_sent = sys.argv[1:8]
body = json.dumps({"KeyId": key, "PendingWindowInDays": 7}).encode()
now = datetime.datetime.now(datetime.timezone.utc)
amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
headers = {"host": listen, "x-amz-date": amz_date, "content-type": "application/x-amz-json-1.1",
           "x-amz-target": "TrentService." + target_signed}
names = signed.split(";")
canonical = "\n".join(["POST", "/", "", "".join(f"{n}:{headers[n]}\n" for n in names), signed,
                       hashlib.sha256(body).hexdigest()])
scope = f"{day}/local/kms/aws4_request"
to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(canonical.encode()).hexdigest()])
k = ("AWS4" + sk).encode()
for part in (day, "local", "kms", "aws4_request"):
    k = hmac.new(k, part.encode(), hashlib.sha256).digest()
sig = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
headers["x-amz-target"] = "TrentService." + target_sent
headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={signed}, "
                            f"Signature={sig}")
c = http.client.HTTPConnection(listen, timeout=10)
c.request("POST", "/", body=body, headers=headers)
r = c.getresponse()
data = r.read()
try:
    j = json.loads(data)
except ValueError:
    j = {}
print(r.status, j.get("__type", "-"), j.get("message", "-"))
PY
}

state() { aws_kms describe-key --key-id "$KEY" --query KeyMetadata.KeyState --output text; }

# The hand signer is right: signed over every header it sends, the request works.
out=$(signed_call "content-type;host;x-amz-date;x-amz-target" DescribeKey DescribeKey)
[ "${out%% *}" = 200 ] || fail "a fully signed DescribeKey was refused: $out"

# Signed over host;x-amz-date only: refused as sent, and with the operation swapped.
for op in DescribeKey DisableKey ScheduleKeyDeletion; do
    out=$(signed_call "host;x-amz-date" DescribeKey "$op")
    case $out in
    "400 InvalidSignatureException '"*"' must be a 'SignedHeader' in the AWS Authorization.") ;;
    *) fail "$op under a signature over host;x-amz-date: $out" ;;
    esac
    echo "$op, X-Amz-Target unsigned: $out"
done
# X-Amz-Target signed but Content-Type not: refused, naming Content-Type
out=$(signed_call "host;x-amz-date;x-amz-target" DisableKey DisableKey)
[ "$out" = "400 InvalidSignatureException 'content-type' must be a 'SignedHeader' in the AWS Authorization." ] ||
    fail "Content-Type unsigned: $out"
# every refusal is audited, and none of them touched the key
[ "$(state)" = Enabled ] || fail "the key is $(state) after the refused requests"
n=$(grep -c '"InvalidSignatureException"' "$T/state/audit.log" || true)
[ "$n" -ge 4 ] || fail "only $n refusals in the audit log"

# the aws CLI and boto3 sign every header and keep working
aws_kms disable-key --key-id "$KEY"
[ "$(state)" = Disabled ] || fail "aws CLI disable-key"
aws_kms enable-key --key-id "$KEY"
$PY - "http://$KMS_LISTEN" "$ACCESS_KEY" "$SECRET_KEY" "$KEY" <<'PY' || fail "boto3"
import sys, boto3
url, ak, sk, key = sys.argv[1:5]
kms = boto3.session.Session(aws_access_key_id=ak, aws_secret_access_key=sk,
                            region_name="local").client("kms", endpoint_url=url)
blob = kms.encrypt(KeyId=key, Plaintext=b"x" * 32)["CiphertextBlob"]
assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x" * 32
assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"
PY
echo OK
