#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-kms-slow-clients.sh — issue 9, item 11: slow and greedy HTTP clients on envol-kmsd's TCP
# port.  1,100 connections from 127.0.0.2 that trickle a request header do not shut out a
# SigV4 caller from 127.0.0.1 (per-source connection cap); the connections over the cap are
# closed; an oversize chunked body is answered 413 (not just dropped).
source "$(dirname "$0")/functions.sh"
requires curl
$PY -c 'import boto3' 2>/dev/null || { echo "$0: skipped: boto3 is not installed for $PY"; exit 77; }

envol_tmpdir
PORT=$(free_port)
write_config "127.0.0.1:$PORT"
start_kmsd
wait_until 10 "the TCP listener" curl -s -o /dev/null "http://127.0.0.1:$PORT/"

$PY - "$PORT" "$ACCESS_KEY" "$SECRET_KEY" <<'PY'
import socket, sys, time
import boto3, botocore.config

port, ak, sk = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)

# --- trickling clients: each sends part of a header and then waits -----------------------------
trick = []
for i in range(1100):
    s = socket.socket()
    s.settimeout(5)
    try:
        s.bind(("127.0.0.2", 0))
        s.connect(("127.0.0.1", port))
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    except OSError:
        s.close()
        continue
    trick.append(s)

kms = boto3.client("kms", endpoint_url="http://127.0.0.1:%d" % port, region_name="local",
                   aws_access_key_id=ak, aws_secret_access_key=sk,
                   config=botocore.config.Config(retries={"max_attempts": 1},
                                                 connect_timeout=5, read_timeout=5))
key = kms.create_key(Description="past the tricklers")["KeyMetadata"]["KeyId"]
blob = kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
if kms.decrypt(CiphertextBlob=blob)["Plaintext"] != b"x":
    fail("Decrypt while 1,100 clients trickle")

# The server closed the connections over the per-source cap: they read EOF (or a reset).
closed = 0
for s in trick:
    s.settimeout(0.2)
    try:
        if s.recv(1) == b"":
            closed += 1
    except socket.timeout:
        pass
    except OSError:
        closed += 1
if closed < 900:
    fail("only %d of %d trickling connections were closed" % (closed, len(trick)))
for s in trick:
    s.close()

# --- an oversize chunked body -------------------------------------------------------------------
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
          b"X-Amz-Target: TrentService.Encrypt\r\nTransfer-Encoding: chunked\r\n\r\n")
answer = b""
try:
    for i in range(40):  # 40 x 4 KiB > 64 KiB
        s.sendall(b"1000\r\n" + b"a" * 4096 + b"\r\n")
    s.sendall(b"0\r\n\r\n")
except OSError:
    pass
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
        answer += d
except OSError:
    pass
if not answer.startswith(b"HTTP/1.1 413"):
    fail("oversize chunked body: %r" % answer[:80])
print("PASS")
PY
