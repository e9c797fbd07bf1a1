#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-kms-boto3.sh — boto3 (Debian's python3-boto3) against envol-kmsd over TCP with SigV4:
# keys, aliases, paging, encrypt/decrypt with contexts, data keys, re-encrypt, rotation,
# disable/enable, tags, deletion scheduling, the managed key, and the AWS error codes and statuses
# (kms_boto3.py); the audit log records the refusals and verifies.  This is the full coverage of
# the API through an AWS SDK; test-kms-aws-cli.sh is a smoke test of the CLI.
source "$(dirname "$0")/functions.sh"
$PY -c 'import boto3' 2>/dev/null || { echo "$0: skipped: boto3 is not installed for $PY"; exit 77; }

envol_tmpdir
KMS_LISTEN=127.0.0.1:$(free_port)
write_config "$KMS_LISTEN"
# The installed botocore predates RotateKeyOnDemand/ListKeyRotations: load the newer model.
BOTO_MODEL=$($PY -c 'import os, botocore as b; print(os.path.dirname(b.__file__))')
$PY "$ENVOL_SOURCE_DIR/tests/interop/kms_model.py" \
    "$BOTO_MODEL/data/kms/2014-11-01/service-2.json" "$T/models"
start_kmsd

AWS_DATA_PATH=$T/models AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    AWS_EC2_METADATA_DISABLED=true \
    $PY "$ENVOL_SOURCE_DIR/tests/interop/kms_boto3.py" "http://$KMS_LISTEN" "$ACCESS_KEY" "$SECRET_KEY"
kill -0 "$KMSD_PID" || fail "envol-kmsd died"
# every refusal and success above is in the audit log, which still verifies
grep -q '"InvalidSignatureException"' "$T/state/audit.log" || fail "signature refusal not audited"
grep -q '"UnrecognizedClientException"' "$T/state/audit.log" || fail "unknown access key not audited"
"$BIN/envolctl" -c "$CONF" audit verify "$T/state/audit.log" || fail "audit log does not verify"
echo OK
