# SPDX-License-Identifier: LGPL-2.1-or-later
"""kms_sdk.py — what the boto3 scripts of tests/interop share (kms_boto3.py, kms_grants.py): a
KMS client for envol-kmsd's TCP listener, a check that exits with a message, and the AWS error
code and HTTP status of a call."""
import sys

import boto3
import botocore.config
from botocore.exceptions import ClientError

CFG = botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30)


def kms_client(endpoint, ak, sk):
    return boto3.session.Session(aws_access_key_id=ak, aws_secret_access_key=sk,
                                 region_name="local").client("kms", endpoint_url=endpoint,
                                                             config=CFG)


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)


def error_of(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, 200
