#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""kms_boto3.py ENDPOINT ACCESS_KEY SECRET_KEY — boto3 (Debian's python3-boto3) against
envol-kmsd over TCP with SigV4: the core KMS flow, checked value by value.  Exits non-zero with
a message on the first mismatch."""
import base64
import os
import sys
import uuid

import boto3
import botocore.config
from kms_sdk import CFG, check, error_of, kms_client

ENDPOINT, AK, SK = sys.argv[1:4]


def client(ak=AK, sk=SK):
    return kms_client(ENDPOINT, ak, sk)


kms = client()
md = kms.create_key(Description="boto3 key", KeyUsage="ENCRYPT_DECRYPT",
                    KeySpec="SYMMETRIC_DEFAULT",
                    Tags=[{"TagKey": "made-by", "TagValue": "boto3"}])["KeyMetadata"]
key, arn = md["KeyId"], md["Arn"]
check(arn == f"arn:aws:kms:local:000000000000:key/{key}", f"Arn {arn}")
check(md["KeyState"] == "Enabled" and md["Enabled"] is True, "new key enabled")
check(md["KeyManager"] == "CUSTOMER", "KeyManager")
check(hasattr(md["CreationDate"], "year"), "CreationDate parses as a timestamp")
check(kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyId"] == key, "DescribeKey by ARN")

alias = "alias/boto3-" + uuid.uuid4().hex[:8]
kms.create_alias(AliasName=alias, TargetKeyId=key)
check(kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == key, "DescribeKey by alias")
names = [a["AliasName"] for a in kms.list_aliases(KeyId=key)["Aliases"]]
check(names == [alias], f"ListAliases {names}")
keys = [k["KeyId"] for p in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 1})
        for k in p["Keys"]]
check(key in keys and len(keys) == len(set(keys)), "ListKeys paginated with Limit=1")

# encrypt / decrypt with an encryption context
pt = os.urandom(4096)
ctx = {"envol:volume-id": str(uuid.uuid4()), "purpose": "boto3"}
enc = kms.encrypt(KeyId=alias, Plaintext=pt, EncryptionContext=ctx)
check(enc["KeyId"] == arn and enc["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT", "Encrypt output")
blob = enc["CiphertextBlob"]
dec = kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)
check(dec["Plaintext"] == pt and dec["KeyId"] == arn, "Decrypt round trip")
code, status = error_of(kms.decrypt, CiphertextBlob=blob, EncryptionContext={"purpose": "boto3"})
check((code, status) == ("InvalidCiphertextException", 400), f"context mismatch: {code} {status}")
code, _ = error_of(kms.encrypt, KeyId=key, Plaintext=b"x" * 4097)
check(code == "ValidationException", f"4097-byte plaintext: {code}")

# data keys
dk = kms.generate_data_key(KeyId=key, NumberOfBytes=64, EncryptionContext=ctx)
check(len(dk["Plaintext"]) == 64, "GenerateDataKey NumberOfBytes")
check(kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"]
      == dk["Plaintext"], "data key unwraps")
dkw = kms.generate_data_key_without_plaintext(KeyId=key, KeySpec="AES_256", EncryptionContext=ctx)
check("Plaintext" not in dkw, "WithoutPlaintext has no Plaintext")
check(len(kms.decrypt(CiphertextBlob=dkw["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"])
      == 32, "AES_256 data key")

# re-encrypt to a second key
key2 = kms.create_key()["KeyMetadata"]["KeyId"]
re = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext=ctx, DestinationKeyId=key2)
check(re["SourceKeyId"] == arn and re["KeyId"].endswith(key2), "ReEncrypt ids")
check(kms.decrypt(CiphertextBlob=re["CiphertextBlob"])["Plaintext"] == pt, "re-encrypted data")

# rotation: enable, rotate on demand, list, old ciphertext still decrypts
kms.enable_key_rotation(KeyId=key)
st = kms.get_key_rotation_status(KeyId=key)
check(st["KeyRotationEnabled"] is True, "rotation enabled")
check(st.get("RotationPeriodInDays") == 365, f"default period {st.get('RotationPeriodInDays')}")
kms.rotate_key_on_demand(KeyId=key)
rots = kms.list_key_rotations(KeyId=key)["Rotations"]
check(len(rots) == 1 and rots[0]["RotationType"] == "ON_DEMAND", f"ListKeyRotations {rots}")
check(kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)["Plaintext"] == pt,
      "old ciphertext after rotation")
blob2 = kms.encrypt(KeyId=key, Plaintext=pt, EncryptionContext=ctx)["CiphertextBlob"]
check(blob2 != blob and kms.decrypt(CiphertextBlob=blob2, EncryptionContext=ctx)["Plaintext"] == pt,
      "new ciphertext after rotation")

# disable / enable
kms.disable_key(KeyId=key)
code, _ = error_of(kms.decrypt, CiphertextBlob=blob, EncryptionContext=ctx)
check(code == "DisabledException", f"disabled key: {code}")
kms.enable_key(KeyId=key)

# tags
kms.tag_resource(KeyId=key, Tags=[{"TagKey": "env", "TagValue": "test"}])
tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key)["Tags"]}
check(tags == {"made-by": "boto3", "env": "test"}, f"tags {tags}")
kms.untag_resource(KeyId=key, TagKeys=["made-by"])
tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key)["Tags"]}
check(tags == {"env": "test"}, f"tags after untag {tags}")

# scheduled deletion and cancellation
sd = kms.schedule_key_deletion(KeyId=key2, PendingWindowInDays=30)
check(sd["KeyState"] == "PendingDeletion" and sd["PendingWindowInDays"] == 30, "schedule")
check(hasattr(sd["DeletionDate"], "year"), "DeletionDate is a timestamp")
code, _ = error_of(kms.encrypt, KeyId=key2, Plaintext=b"x")
check(code == "KMSInvalidStateException", f"pending deletion: {code}")
kms.cancel_key_deletion(KeyId=key2)
check(kms.describe_key(KeyId=key2)["KeyMetadata"]["KeyState"] == "Disabled", "after cancel")

# refusals
code, _ = error_of(kms.describe_key, KeyId=str(uuid.uuid4()))
check(code == "NotFoundException", f"unknown key id: {code}")
code, status = error_of(client(sk="wrong-secret").list_keys)
check((code, status) == ("InvalidSignatureException", 400), f"wrong secret: {code} {status}")
code, status = error_of(client(ak="AKIDNOBODY0000000000").list_keys)
check((code, status) == ("UnrecognizedClientException", 400), f"unknown access key: {code}")
code, _ = error_of(kms.generate_data_key, KeyId=key, KeySpec="AES_256", NumberOfBytes=32)
check(code == "ValidationException", f"KeySpec and NumberOfBytes: {code}")

# ---- what test-kms-aws-cli.sh covered call by call before it became a smoke test ----
raw = boto3.session.Session(aws_access_key_id=AK, aws_secret_access_key=SK,
                            region_name="local").client(
    "kms", endpoint_url=ENDPOINT,
    config=CFG.merge(botocore.config.Config(parameter_validation=False)))
key3 = kms.create_key(Description="first")["KeyMetadata"]["KeyId"]
arn3 = f"arn:aws:kms:local:000000000000:key/{key3}"
kms.update_key_description(KeyId=key3, Description="renamed")
check(kms.describe_key(KeyId=key3)["KeyMetadata"]["Description"] == "renamed",
      "UpdateKeyDescription")
# aliases: by alias ARN, AlreadyExists, UpdateAlias, DeleteAlias
alias3 = "alias/boto3-more-" + uuid.uuid4().hex[:8]
kms.create_alias(AliasName=alias3, TargetKeyId=key3)
check(kms.describe_key(KeyId=f"arn:aws:kms:local:000000000000:{alias3}")["KeyMetadata"]["KeyId"]
      == key3, "DescribeKey by alias ARN")
code, _ = error_of(kms.create_alias, AliasName=alias3, TargetKeyId=key)
check(code == "AlreadyExistsException", f"CreateAlias twice: {code}")
kms.update_alias(AliasName=alias3, TargetKeyId=key)
check(kms.describe_key(KeyId=alias3)["KeyMetadata"]["KeyId"] == key, "UpdateAlias")
kms.delete_alias(AliasName=alias3)
code, _ = error_of(kms.describe_key, KeyId=alias3)
check(code == "NotFoundException", f"deleted alias: {code}")
# decrypt refusals: no context, another KeyId, one flipped byte; a matching KeyId works
ctx3 = {"purpose": "test", "volume": "v1"}
blob3 = kms.encrypt(KeyId=key3, Plaintext=pt[:3000], EncryptionContext=ctx3)["CiphertextBlob"]
code, _ = error_of(kms.decrypt, CiphertextBlob=blob3)
check(code == "InvalidCiphertextException", f"Decrypt without its context: {code}")
code, _ = error_of(kms.decrypt, CiphertextBlob=blob3, EncryptionContext=ctx3, KeyId=key2)
check(code == "IncorrectKeyException", f"Decrypt with another KeyId: {code}")
check(kms.decrypt(CiphertextBlob=blob3, EncryptionContext=ctx3, KeyId=arn3)["Plaintext"]
      == pt[:3000], "Decrypt with its KeyId")
bad = bytearray(blob3)
bad[100] ^= 0x5A
code, _ = error_of(kms.decrypt, CiphertextBlob=bytes(bad), EncryptionContext=ctx3)
check(code == "InvalidCiphertextException", f"one flipped byte: {code}")
# data key sizes, random bytes
check(len(kms.decrypt(CiphertextBlob=kms.generate_data_key_without_plaintext(
    KeyId=key3, KeySpec="AES_128")["CiphertextBlob"])["Plaintext"]) == 16, "AES_128 data key")
check(len(kms.generate_random(NumberOfBytes=48)["Plaintext"]) == 48, "GenerateRandom")
# re-encrypt under a destination context: the source context no longer fits
re3 = kms.re_encrypt(CiphertextBlob=blob3, SourceEncryptionContext=ctx3, DestinationKeyId=key3,
                     DestinationEncryptionContext={"moved": "yes"})["CiphertextBlob"]
check(kms.decrypt(CiphertextBlob=re3, EncryptionContext={"moved": "yes"})["Plaintext"]
      == pt[:3000], "ReEncrypt with a destination context")
code, _ = error_of(kms.decrypt, CiphertextBlob=re3, EncryptionContext=ctx3)
check(code == "InvalidCiphertextException", f"re-encrypted under the old context: {code}")
# rotation period bounds, rotation off
kms.enable_key_rotation(KeyId=key3, RotationPeriodInDays=90)
check(kms.get_key_rotation_status(KeyId=key3)["RotationPeriodInDays"] == 90, "period 90")
code, _ = error_of(raw.enable_key_rotation, KeyId=key3, RotationPeriodInDays=89)
check(code == "ValidationException", f"RotationPeriodInDays 89: {code}")
kms.disable_key_rotation(KeyId=key3)
check(kms.get_key_rotation_status(KeyId=key3)["KeyRotationEnabled"] is False, "rotation off")
# a disabled key encrypts nothing
kms.disable_key(KeyId=key3)
code, _ = error_of(kms.encrypt, KeyId=key3, Plaintext=b"x")
check(code == "DisabledException", f"Encrypt under a disabled key: {code}")
kms.enable_key(KeyId=key3)
# deletion window bounds; a key pending deletion decrypts nothing; cancel leaves it Disabled
code, _ = error_of(raw.schedule_key_deletion, KeyId=key3, PendingWindowInDays=6)
check(code == "ValidationException", f"PendingWindowInDays 6: {code}")
sd = kms.schedule_key_deletion(KeyId=key3, PendingWindowInDays=7)
check(sd["PendingWindowInDays"] == 7, "PendingWindowInDays 7")
code, _ = error_of(kms.decrypt, CiphertextBlob=re3, EncryptionContext={"moved": "yes"})
check(code == "KMSInvalidStateException", f"Decrypt under a key pending deletion: {code}")
kms.cancel_key_deletion(KeyId=key3)
kms.enable_key(KeyId=key3)
check(kms.decrypt(CiphertextBlob=re3, EncryptionContext={"moved": "yes"})["Plaintext"]
      == pt[:3000], "Decrypt after CancelKeyDeletion and EnableKey")
# the managed key: made on first use, AWS-managed, neither disabled nor deleted
ebs = kms.generate_data_key_without_plaintext(
    KeyId="alias/envol/ebs", NumberOfBytes=64,
    EncryptionContext={"envol:volume-id": str(uuid.uuid4())})
md_ebs = kms.describe_key(KeyId="alias/envol/ebs")["KeyMetadata"]
check(md_ebs["KeyManager"] == "AWS" and ebs["KeyId"] == md_ebs["Arn"], "managed key")
code, _ = error_of(kms.disable_key, KeyId="alias/envol/ebs")
check(code is not None, "the managed key was disabled")
code, _ = error_of(kms.schedule_key_deletion, KeyId=md_ebs["KeyId"])
check(code is not None, "the managed key was scheduled for deletion")
code, _ = error_of(kms.encrypt, KeyId="alias/does-not-exist", Plaintext=b"x")
check(code == "NotFoundException", f"unknown alias: {code}")

# key policies (alice, the SigV4 principal, is in kms.admins: kms:* by identity policy)
import json
pol = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
check(pol["Statement"][0]["Sid"] == "Enable IAM User Permissions"
      and pol["Statement"][0]["Principal"]["AWS"] == "arn:aws:iam::000000000000:root",
      f"default policy {pol}")
check(kms.list_key_policies(KeyId=key)["PolicyNames"] == ["default"], "ListKeyPolicies")
ME = "arn:aws:iam::000000000000:user/alice"
mine = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": ME}, "Action": "kms:*", "Resource": "*"},
    {"Effect": "Deny", "Principal": {"AWS": ME}, "Action": "kms:Encrypt", "Resource": "*",
     "Condition": {"StringEquals": {"kms:EncryptionContext:purpose": "forbidden"}}}]}
kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(mine))
check(json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]) == mine, "GetKeyPolicy after Put")
kms.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"purpose": "fine"})
code, _ = error_of(kms.encrypt, KeyId=key, Plaintext=b"x",
                   EncryptionContext={"purpose": "forbidden"})
check(code == "AccessDeniedException", f"explicit deny with a context condition: {code}")
lockout = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": ME}, "Action": "kms:Decrypt", "Resource": "*"}]}
code, _ = error_of(kms.put_key_policy, KeyId=key, PolicyName="default",
                   Policy=json.dumps(lockout))
check(code == "MalformedPolicyDocumentException", f"lockout check: {code}")
code, _ = error_of(kms.put_key_policy, KeyId=key, PolicyName="default", Policy="{not json")
check(code == "MalformedPolicyDocumentException", f"bad JSON: {code}")
code, _ = error_of(kms.create_key, Policy=json.dumps(lockout))
check(code == "MalformedPolicyDocumentException", f"CreateKey lockout check: {code}")
code, _ = error_of(kms.create_alias, AliasName="alias/aws/mine", TargetKeyId=key)
check(code == "NotAuthorizedException", f"reserved alias: {code}")

# the response carries a request id (x-amzn-RequestId)
rid = kms.list_keys()["ResponseMetadata"]["RequestId"]
check(len(rid) == 36 and rid.count("-") == 4, f"RequestId {rid!r}")
print("boto3 flow OK")
