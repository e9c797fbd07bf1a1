#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""kms_model.py SRC DEST_DIR — copy a botocore KMS service model (service-2.json) into
DEST_DIR/kms/2014-11-01/, adding the on-demand rotation API that AWS published in 2024 and that
the installed botocore (1.29) predates: RotateKeyOnDemand, ListKeyRotations, and
RotationPeriodInDays / NextRotationDate / OnDemandRotationStartDate on EnableKeyRotation and
GetKeyRotationStatus.  With AWS_DATA_PATH=DEST_DIR the real aws CLI and boto3 load it, so the
tests drive those operations through the real clients rather than hand-made requests."""
import json
import os
import sys


def main() -> int:
    src, dest = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        m = json.load(f)
    ops, shapes = m["operations"], m["shapes"]
    errors = [{"shape": s} for s in ("NotFoundException", "DisabledException",
                                      "InvalidArnException", "DependencyTimeoutException",
                                      "KMSInternalException", "KMSInvalidStateException",
                                      "UnsupportedOperationException", "LimitExceededException",
                                      "ConflictException") if s in shapes]

    shapes["RotationPeriodInDaysType"] = {"type": "integer", "box": True, "max": 2560, "min": 90}
    shapes["EnableKeyRotationRequest"]["members"]["RotationPeriodInDays"] = {
        "shape": "RotationPeriodInDaysType"}
    shapes["GetKeyRotationStatusResponse"]["members"].update({
        "KeyId": {"shape": "KeyIdType"},
        "RotationPeriodInDays": {"shape": "RotationPeriodInDaysType"},
        "NextRotationDate": {"shape": "DateType"},
        "OnDemandRotationStartDate": {"shape": "DateType"},
    })
    shapes["RotateKeyOnDemandRequest"] = {
        "type": "structure", "required": ["KeyId"], "members": {"KeyId": {"shape": "KeyIdType"}}}
    shapes["RotateKeyOnDemandResponse"] = {
        "type": "structure", "members": {"KeyId": {"shape": "KeyIdType"}}}
    shapes["RotationType"] = {"type": "string", "enum": ["AUTOMATIC", "ON_DEMAND"]}
    shapes["RotationsListEntry"] = {"type": "structure", "members": {
        "KeyId": {"shape": "KeyIdType"},
        "RotationDate": {"shape": "DateType"},
        "RotationType": {"shape": "RotationType"},
    }}
    shapes["RotationsList"] = {"type": "list", "member": {"shape": "RotationsListEntry"}}
    shapes["ListKeyRotationsRequest"] = {"type": "structure", "required": ["KeyId"], "members": {
        "KeyId": {"shape": "KeyIdType"},
        "Limit": {"shape": "LimitType"},
        "Marker": {"shape": "MarkerType"},
    }}
    shapes["ListKeyRotationsResponse"] = {"type": "structure", "members": {
        "Rotations": {"shape": "RotationsList"},
        "NextMarker": {"shape": "MarkerType"},
        "Truncated": {"shape": "BooleanType"},
    }}
    for name in ("RotateKeyOnDemand", "ListKeyRotations"):
        ops.setdefault(name, {
            "name": name,
            "http": {"method": "POST", "requestUri": "/"},
            "input": {"shape": name + "Request"},
            "output": {"shape": name + "Response"},
            "errors": errors,
        })

    out = os.path.join(dest, "kms", "2014-11-01")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "service-2.json"), "w", encoding="utf-8") as f:
        json.dump(m, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
