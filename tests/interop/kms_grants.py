#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""kms_grants.py ENDPOINT — grants through boto3 (Debian's python3-boto3) against envol-kmsd
over TCP with SigV4, as three principals of test-kms-grants.sh's configuration: alice
(kms.admins), bob (no policy: the grantee) and carol (no policy: the retiring principal).
Prints the key id and a blob encrypted under {"volume": "v1"} for the shell part.  Exits
non-zero with a message on the first mismatch."""
import json
import sys

from kms_sdk import check, error_of, kms_client

ENDPOINT = sys.argv[1]
ACCT = "000000000000"
BOB = f"arn:aws:iam::{ACCT}:user/bob"
CAROL = f"arn:aws:iam::{ACCT}:user/carol"


def client(ak, sk):
    return kms_client(ENDPOINT, ak, sk)


alice = client("AKIDENVOLTEST0000001", "envol-test-secret-key-0000000000000000000")
bob = client("AKIDENVOLTESTBOB0001", "envol-test-secret-key-bob-00000000000000")
carol = client("AKIDENVOLTESTCAROL01", "envol-test-secret-key-carol-000000000000")

key = alice.create_key(Description="grants")["KeyMetadata"]["KeyId"]
arn = f"arn:aws:kms:local:{ACCT}:key/{key}"
V1 = {"volume": "v1"}

# no policy names bob: denied until a grant allows
code, _ = error_of(bob.encrypt, KeyId=key, Plaintext=b"x", EncryptionContext=V1)
check(code == "AccessDeniedException", f"bob before the grant: {code}")

spec = dict(KeyId=key, GranteePrincipal=BOB, RetiringPrincipal=CAROL,
            Operations=["Encrypt", "Decrypt"],
            Constraints={"EncryptionContextSubset": V1}, Name="boto3-grant")
g = alice.create_grant(**spec)
gid, token = g["GrantId"], g["GrantToken"]
check(len(gid) == 64, f"GrantId {gid}")
again = alice.create_grant(**spec)
check(again["GrantId"] == gid, "Name: the same grant again")
check(again["GrantToken"] != token, "Name: a new token")
check(len(alice.list_grants(KeyId=key)["Grants"]) == 1, "Name: one grant")
# Debian's botocore predates CreateGrant's DryRun: add it to the body before it is signed
dry = client("AKIDENVOLTEST0000001", "envol-test-secret-key-0000000000000000000")


def add_dry_run(params, **_):
    body = json.loads(params["body"])
    body["DryRun"] = True
    params["body"] = json.dumps(body).encode()


dry.meta.events.register("before-call.kms.CreateGrant", add_dry_run)
code, status = error_of(dry.create_grant, **dict(spec, Name="dry"))
check((code, status) == ("DryRunOperationException", 412), f"DryRun: {code} {status}")
check(len(alice.list_grants(KeyId=key)["Grants"]) == 1, "DryRun: nothing created")
code, _ = error_of(bob.create_grant, **dict(spec, Name="bob"))
check(code == "AccessDeniedException", f"bob CreateGrant without CreateGrant: {code}")

# the grantee uses the grant, constraint met; not met: denied
blob = bob.encrypt(KeyId=key, Plaintext=b"secret", EncryptionContext=dict(V1, x="y"),
                   GrantTokens=[token])["CiphertextBlob"]
check(bob.decrypt(CiphertextBlob=blob, EncryptionContext=dict(V1, x="y"))["Plaintext"] ==
      b"secret", "bob decrypts by the grant")
code, _ = error_of(bob.encrypt, KeyId=key, Plaintext=b"x", EncryptionContext={"volume": "v2"})
check(code == "AccessDeniedException", f"constraint not met: {code}")
code, _ = error_of(bob.describe_key, KeyId=key)
check(code == "AccessDeniedException", f"an operation the grant does not carry: {code}")
code, _ = error_of(bob.encrypt, KeyId=key, Plaintext=b"x", EncryptionContext=V1,
                   GrantTokens=["bm90IGEgdG9rZW4="])
check(code == "InvalidGrantTokenException", f"garbage token: {code}")

# ListGrants: botocore parses every member
entries = [e for p in alice.get_paginator("list_grants").paginate(KeyId=key)
           for e in p["Grants"]]
check([e["GrantId"] for e in entries] == [gid], f"ListGrants {entries}")
e = entries[0]
check(e["KeyId"] == arn and e["Name"] == "boto3-grant", f"entry {e}")
check(e["GranteePrincipal"] == BOB and e["RetiringPrincipal"] == CAROL, f"principals {e}")
check(e["IssuingAccount"] == f"arn:aws:iam::{ACCT}:root", f"IssuingAccount {e}")
check(sorted(e["Operations"]) == ["Decrypt", "Encrypt"], f"Operations {e}")
check(e["Constraints"] == {"EncryptionContextSubset": V1}, f"Constraints {e}")
check(hasattr(e["CreationDate"], "year"), "CreationDate parses as a timestamp")
code, _ = error_of(alice.list_grants, KeyId=key, GrantId="nope")
check(code == "InvalidGrantIdException", f"bad GrantId: {code}")

# ListRetirableGrants (names no key: identity policies alone), then retire by carol
r = alice.list_retirable_grants(RetiringPrincipal=CAROL)["Grants"]
check([x["GrantId"] for x in r] == [gid], f"ListRetirableGrants {r}")
code, _ = error_of(carol.list_retirable_grants, RetiringPrincipal=CAROL)
check(code == "AccessDeniedException", f"carol has no identity policy: {code}")
code, _ = error_of(bob.retire_grant, KeyId=key, GrantId=gid)
check(code == "AccessDeniedException", f"bob may not retire: {code}")
carol.retire_grant(GrantToken=token)
code, _ = error_of(bob.decrypt, CiphertextBlob=blob, EncryptionContext=dict(V1, x="y"))
check(code == "AccessDeniedException", f"retired grant still allows: {code}")
check(alice.list_retirable_grants(RetiringPrincipal=CAROL)["Grants"] == [], "retired: gone")

# revoke: only a policy allows it
g2 = alice.create_grant(KeyId=key, GranteePrincipal=BOB, Operations=["Decrypt", "RetireGrant"])
check(bob.decrypt(CiphertextBlob=blob, EncryptionContext=dict(V1, x="y"))["Plaintext"] ==
      b"secret", "bob decrypts by the second grant")
code, _ = error_of(bob.revoke_grant, KeyId=key, GrantId=g2["GrantId"])
check(code == "AccessDeniedException", f"bob may not revoke: {code}")
alice.revoke_grant(KeyId=key, GrantId=g2["GrantId"])
code, _ = error_of(bob.decrypt, CiphertextBlob=blob, EncryptionContext=dict(V1, x="y"))
check(code == "AccessDeniedException", f"revoked grant still allows: {code}")
code, _ = error_of(alice.revoke_grant, KeyId=key, GrantId=g2["GrantId"])
check(code == "NotFoundException", f"revoked twice: {code}")
print(key)
