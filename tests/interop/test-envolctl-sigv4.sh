#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-envolctl-sigv4.sh — envolctl over client.endpoint (TCP, AWS Signature V4 by libcurl)
# instead of the Unix socket: calls are made as the access key's principal (alice in the
# audit log), a key envolctl creates is seen by the real aws CLI and the other way round, and
# a wrong secret is refused with the AWS error and exit 1.
source "$(dirname "$0")/functions.sh"
requires jq
[ -x "$BIN/envol-kmsd" ] || { echo "$0: skipped: $BIN/envol-kmsd not built"; exit 77; }
[ -x "$AWS" ] || { echo "$0: skipped: no aws CLI"; exit 77; }

envol_tmpdir
KMS_LISTEN=127.0.0.1:$(free_port)
write_config "$KMS_LISTEN"
start_kmsd
cp "$CONF" "$T/tcp.conf"
cat >>"$T/tcp.conf" <<CONF
client: {
  kms_socket = "$T/run/no-such.sock";
  endpoint = "http://$KMS_LISTEN";
  access_key_id = "$ACCESS_KEY";
  secret_access_key = "$SECRET_KEY";
};
CONF
ctl() { "$BIN/envolctl" -c "$T/tcp.conf" "$@"; }

id=$(ctl --json key create --description "over tcp" --alias alias/tcp | jq -r .KeyMetadata.KeyId)
[ -n "$id" ] && [ "$id" != null ] || fail "create over SigV4"
[ "$(aws_kms describe-key --key-id alias/tcp --query KeyMetadata.Description --output text)" = "over tcp" ] ||
    fail "aws CLI does not see the key envolctl made"
aid=$(aws_kms create-key --description "from aws" --query KeyMetadata.KeyId --output text)
ctl key list | grep -Eq "^$aid .* from aws$" || fail "envolctl does not list the key the aws CLI made"

printf 'secret over tcp' >"$T/p"
ctl key encrypt tcp "$T/p" "$T/c" --context k=v >/dev/null
aws_kms decrypt --ciphertext-blob "fileb://$T/c" --encryption-context k=v --query Plaintext --output text |
    base64 -d >"$T/p2"
cmp "$T/p" "$T/p2" || fail "aws CLI cannot decrypt what envolctl encrypted"
ctl key decrypt "$T/c" "$T/p3" --context k=v >/dev/null
cmp "$T/p" "$T/p3" || fail "decrypt over SigV4"

"$BIN/envolctl" -c "$CONF" audit tail -n 3 | grep -q "user/alice" || fail "audit does not show alice"

sed -i "s/secret_access_key = \"$SECRET_KEY\";\$/secret_access_key = \"wrong-secret\";/" "$T/tcp.conf"
grep -q wrong-secret "$T/tcp.conf" || fail "could not change the secret"
rc=0; ctl key list >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "wrong secret: exit $rc"
grep -Eq "InvalidSignatureException|SignatureDoesNotMatch|UnrecognizedClient" "$T/err" || { cat "$T/err"; fail "wrong secret: error"; }
echo PASS
