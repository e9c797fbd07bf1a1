#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-kms-on-behalf.sh — envold's side of an attach as envol-kmsd sees it, with real Unix users
# on the KMS socket: under the managed key alias/envol/ebs, nobody creates a volume key
# directly but may not Decrypt it; daemon, a service principal (kms.services), creates a
# Decrypt grant for itself on nobody's behalf (X-Envol-On-Behalf-Of), decided as nobody with
# kms:ViaService, and decrypts with it.  Refused: the header from a non-service, on another
# operation, for a principal that does not exist; over TCP, a header left out of SigV4's
# SignedHeaders.  The audit records name nobody, invokedBy, the service's own principal, the
# grant used and the decisions, and the log verifies.
source "$(dirname "$0")/functions.sh"
requires jq runuser curl
NOBODY=$(getent passwd 65534 | cut -d: -f1) || { echo "$0: skipped: no uid 65534"; exit 77; }
getent passwd daemon >/dev/null || { echo "$0: skipped: no user daemon"; exit 77; }

envol_tmpdir
KMS_LISTEN=127.0.0.1:$(free_port)
write_config "$KMS_LISTEN"
SVC_AK=AKIDENVOLTESTSVC0001 SVC_SK=envol-test-secret-key-service-0000000000
# daemon on the Unix socket and a SigV4 principal are services (what envold would be)
$PY - "$CONF" "$SVC_AK" "$SVC_SK" <<'EOF'
import sys
p, ak, sk = sys.argv[1:4]
s = open(p).read()
old = 'services = [ "arn:aws:iam::000000000000:user/unix/envol"'
new = ('services = [ "arn:aws:iam::000000000000:user/unix/daemon", '
       '"arn:aws:iam::000000000000:user/envold", "arn:aws:iam::000000000000:user/unix/envol"')
assert old in s, "write_config changed: cannot add services"
s = s.replace(old, new)
old = 'principal = "arn:aws:iam::000000000000:user/alice"; } );'
new = ('principal = "arn:aws:iam::000000000000:user/alice"; },\n'
       f'    {{ access_key_id = "{ak}"; secret_access_key = "{sk}"; '
       'principal = "arn:aws:iam::000000000000:user/envold"; } );')
assert old in s, "write_config changed: cannot add credentials"
open(p, "w").write(s.replace(old, new))
EOF
start_kmsd
SOCK=$T/run/kms.sock
chmod 711 "$T" "$T/run"
chmod 666 "$SOCK"
CT='Content-Type: application/x-amz-json-1.1'
IAM=arn:aws:iam::000000000000
U_NOBODY=$IAM:user/unix/$NOBODY U_DAEMON=$IAM:user/unix/daemon
eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }
# as_user USER OP JSON [ON_BEHALF_OF] — one request over the Unix socket as USER
as_user() {
    local hdr=()
    [ -z "${4:-}" ] || hdr=(-H "X-Envol-On-Behalf-Of: $4")
    runuser -u "$1" -- curl -sS --unix-socket "$SOCK" -H "$CT" "${hdr[@]}" \
        -H "X-Amz-Target: TrentService.$2" -d "$3" http://localhost/
}

# ---- nobody and the managed key: create a volume key yes, decrypt it no ----
VOL=$(cat /proc/sys/kernel/random/uuid)
CTX="{\"envol:volume-id\":\"$VOL\"}"
as_user "$NOBODY" GenerateDataKeyWithoutPlaintext \
    "{\"KeyId\":\"alias/envol/ebs\",\"NumberOfBytes\":64,\"EncryptionContext\":$CTX}" >"$T/gen.json"
BLOB=$(jq -r .CiphertextBlob "$T/gen.json")
KEY_ARN=$(jq -r .KeyId "$T/gen.json")
[[ $KEY_ARN == arn:aws:kms:local:000000000000:key/* ]] || fail "GenerateDataKeyWithoutPlaintext as nobody: $(cat "$T/gen.json")"
DECRYPT="{\"CiphertextBlob\":\"$BLOB\",\"EncryptionContext\":$CTX}"
as_user "$NOBODY" Decrypt "$DECRYPT" >"$T/r.json"
eq "$(jq -r .__type "$T/r.json")" AccessDeniedException "nobody decrypts under the managed key"
grep -q "User: $U_NOBODY is not authorized to perform: kms:Decrypt on resource: $KEY_ARN" "$T/r.json" ||
    fail "nobody's Decrypt refusal: $(cat "$T/r.json")"
eq "$(as_user daemon Decrypt "$DECRYPT" | jq -r .__type)" AccessDeniedException \
    "the service decrypts without a grant"
as_user root GetKeyPolicy "{\"KeyId\":\"$KEY_ARN\"}" >"$T/policy.json"
eq "$(jq -r '.Policy | fromjson | .Statement[0].Condition.StringEquals["kms:ViaService"]' "$T/policy.json")" \
    envold.envol.internal "the managed key's policy"
eq "$(as_user root PutKeyPolicy "{\"KeyId\":\"$KEY_ARN\",\"Policy\":$(jq .Policy "$T/policy.json")}" |
      jq -r .__type)" AccessDeniedException "PutKeyPolicy on the managed key"

# ---- the service creates a grant for itself on nobody's behalf ----
GRANT_REQ="{\"KeyId\":\"$KEY_ARN\",\"GranteePrincipal\":\"$U_DAEMON\",\"RetiringPrincipal\":\"$U_DAEMON\",\"Operations\":[\"Decrypt\"],\"Constraints\":{\"EncryptionContextEquals\":$CTX},\"Name\":\"envol-attach/$VOL\"}"
eq "$(as_user daemon CreateGrant "$GRANT_REQ" | jq -r .__type)" AccessDeniedException \
    "the service creates a grant as itself"
DRY=$(jq -c '. + {DryRun: true}' <<<"$GRANT_REQ")
eq "$(as_user daemon CreateGrant "$DRY" "$U_NOBODY" | jq -r .__type)" DryRunOperationException \
    "DryRun CreateGrant on nobody's behalf"
as_user daemon CreateGrant "$GRANT_REQ" "$U_NOBODY" >"$T/grant.json"
GRANT_ID=$(jq -r .GrantId "$T/grant.json")
TOKEN=$(jq -r .GrantToken "$T/grant.json")
[[ $GRANT_ID =~ ^[0-9a-f]{64}$ ]] || fail "CreateGrant on nobody's behalf: $(cat "$T/grant.json")"
as_user daemon Decrypt "$(jq -c --arg t "$TOKEN" '. + {GrantTokens: [$t]}' <<<"$DECRYPT")" >"$T/dec.json"
eq "$(jq -r .Plaintext "$T/dec.json" | base64 -d | wc -c)" 64 "the service decrypts with its grant"

# ---- refusals of the header ----
refused() { # WHY USER OP JSON ON_BEHALF_OF
    as_user "$2" "$3" "$4" "$5" >"$T/r.json"
    eq "$(jq -r .__type "$T/r.json")" AccessDeniedException "$1"
    grep -q "$6" "$T/r.json" || fail "$1: $(cat "$T/r.json")"
}
refused "nobody acting for daemon" "$NOBODY" CreateGrant "$GRANT_REQ" "$U_DAEMON" \
    "User: $U_NOBODY is not authorized to act on behalf of $U_DAEMON .*not a service principal"
refused "the service on Decrypt" daemon Decrypt "$DECRYPT" "$U_NOBODY" \
    "only to perform kms:CreateGrant, not kms:Decrypt"
refused "a client that does not exist" daemon CreateGrant "$GRANT_REQ" "$IAM:user/unix/envol-no-such-user" \
    "cannot act on behalf of $IAM:user/unix/envol-no-such-user .*no such principal"
eq "$(as_user daemon CreateGrant "$GRANT_REQ" 'not an arn' | jq -r .__type)" ValidationException \
    "a malformed header"

# ---- over TCP: the header counts only when signed ----
# sigv4_call SIGNED_HEADERS — CreateGrant as the SigV4 service on nobody's behalf, signed by hand
# (as the SigV4 documentation says) over SIGNED_HEADERS; prints "<status> <__type or GrantId>"
sigv4_call() {
    $PY - "$KMS_LISTEN" "$SVC_AK" "$SVC_SK" "$U_NOBODY" "$KEY_ARN" "$CTX" "$1" <<'PY'
import datetime, hashlib, hmac, http.client, json, sys

listen, ak, sk, client, key, ctx, signed = sys.argv[1:8]
body = json.dumps({"KeyId": key, "GranteePrincipal": "arn:aws:iam::000000000000:user/envold",
                   "Operations": ["Decrypt"],
                   "Constraints": {"EncryptionContextEquals": json.loads(ctx)}}).encode()
now = datetime.datetime.now(datetime.timezone.utc)
amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
headers = {"host": listen, "x-amz-date": amz_date, "content-type": "application/x-amz-json-1.1",
           "x-amz-target": "TrentService.CreateGrant", "x-envol-on-behalf-of": client}
canonical = "\n".join(["POST", "/", "", "".join(f"{n}:{headers[n]}\n" for n in signed.split(";")),
                       signed, hashlib.sha256(body).hexdigest()])
scope = f"{day}/local/kms/aws4_request"
to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(canonical.encode()).hexdigest()])
k = ("AWS4" + sk).encode()
for part in (day, "local", "kms", "aws4_request"):
    k = hmac.new(k, part.encode(), hashlib.sha256).digest()
sig = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={signed}, "
                            f"Signature={sig}")
c = http.client.HTTPConnection(listen, timeout=10)
c.request("POST", "/", body=body, headers=headers)
r = c.getresponse()
j = json.loads(r.read() or b"{}")
print(r.status, j.get("__type") or j.get("GrantId", "-"), j.get("message", ""))
PY
}
out=$(sigv4_call "content-type;host;x-amz-date;x-amz-target")
[[ $out == "400 AccessDeniedException User: $IAM:user/envold cannot act on behalf"*"must be a 'SignedHeader'"* ]] ||
    fail "an unsigned X-Envol-On-Behalf-Of over TCP: $out"
out=$(sigv4_call "content-type;host;x-amz-date;x-amz-target;x-envol-on-behalf-of")
[[ $out =~ ^200\ [0-9a-f]{64} ]] || fail "a signed X-Envol-On-Behalf-Of over TCP: $out"

# ---- the audit trail ----
ctl --json audit tail -n 100 >"$T/audit.jsonl"
jq -e -s --arg n "$U_NOBODY" --arg d "$U_DAEMON" --arg g "$GRANT_ID" --arg k "$KEY_ARN" '
    ([.[] | select(.operation == "CreateGrant" and .error_code == null and .invokedByPrincipal == $d)] | length == 1) and
    (.[] | select(.operation == "CreateGrant" and .error_code == null and .invokedByPrincipal == $d) |
        .principal == $n and .userIdentity.arn == $n and .userIdentity.type == "IAMUser" and
        .invokedBy == "envold.envol.internal" and .decision == "allowed" and .key_arn == $k) and
    ([.[] | select(.operation == "Decrypt" and .principal == $d and .grantId == $g and
        .decision == "allowed" and .invokedBy == null)] | length == 1) and
    ([.[] | select(.operation == "Decrypt" and .principal == $n and .decision == "denied" and
        .error_code == "AccessDeniedException")] | length == 1) and
    ([.[] | select(.operation == "PutKeyPolicy" and .decision == "denied")] | length == 1) and
    ([.[] | select(.operation == "CreateGrant" and .principal == $n and
        .invokedByPrincipal == "arn:aws:iam::000000000000:user/envold" and
        .invokedBy == "envold.envol.internal" and .decision == "allowed")] | length == 1) and
    ([.[] | select(.operation == "CreateGrant" and .decision == "denied" and .invokedBy == null)] | length == 4)' \
    "$T/audit.jsonl" >/dev/null || { cat "$T/audit.jsonl"; fail "audit records of the on-behalf requests"; }
ctl audit verify | grep -q "chain intact" || fail "audit verify"
echo "test-kms-on-behalf: OK"
