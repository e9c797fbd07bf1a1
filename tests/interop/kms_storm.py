#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""kms_storm.py storm SOCK RECORDS THREADS — CreateKey / Encrypt / GenerateDataKeyWithoutPlaintext
(on the thread's newest key: the managed key's policy lets nobody Decrypt directly, so verify
could not) from THREADS keep-alive connections on envol-kmsd's
Unix socket until the daemon goes away; every acknowledged (HTTP 200, full body read) KeyId and
ciphertext is appended to RECORDS (JSON lines) before the next request.
kms_storm.py verify SOCK RECORDS — every recorded key is described and every recorded ciphertext
decrypts (to its plaintext, or to a data key of the recorded length).
kms_storm.py bench SOCK THREADS SECONDS — Decrypt throughput (requests/s) with THREADS clients."""
import base64
import json
import os
import socket
import sys
import threading
import time
import uuid


class Conn:
    """HTTP/1.1 keep-alive over a Unix socket, just enough for the KMS JSON API."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(30)
        self.s.connect(path)
        self.buf = b""

    def call(self, op, body):
        data = json.dumps(body).encode()
        self.s.sendall(b"POST / HTTP/1.1\r\nHost: localhost\r\n"
                       b"Content-Type: application/x-amz-json-1.1\r\n"
                       b"X-Amz-Target: TrentService." + op.encode() + b"\r\n"
                       b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
        while b"\r\n\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for h in lines[1:]:
            k, _, v = h.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v.strip())
        while len(self.buf) < length:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed mid-body")
            self.buf += chunk
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, json.loads(body) if body else {}


def storm(sock, records, threads):
    lock = threading.Lock()
    out = open(records, "a", encoding="utf-8")
    counts = {"keys": 0, "blobs": 0, "errors": 0}

    def record(rec):
        with lock:
            out.write(json.dumps(rec) + "\n")
            out.flush()

    def worker(n):
        try:
            c = Conn(sock)
            keys = []
            i = 0
            while True:
                i += 1
                if not keys or i % 3 == 0:
                    st, r = c.call("CreateKey", {"Description": f"storm {n}.{i}"})
                    if st != 200:
                        counts["errors"] += 1
                        continue
                    keys.append(r["KeyMetadata"]["KeyId"])
                    record({"key": keys[-1]})
                    counts["keys"] += 1
                elif i % 3 == 1:
                    pt = os.urandom(64)
                    ctx = {"storm": f"{n}.{i}"}
                    st, r = c.call("Encrypt", {"KeyId": keys[-1], "EncryptionContext": ctx,
                                               "Plaintext": base64.b64encode(pt).decode()})
                    if st != 200:
                        counts["errors"] += 1
                        continue
                    record({"blob": r["CiphertextBlob"], "pt": base64.b64encode(pt).decode(),
                            "ctx": ctx})
                    counts["blobs"] += 1
                else:
                    ctx = {"envol:volume-id": str(uuid.uuid4())}
                    st, r = c.call("GenerateDataKeyWithoutPlaintext",
                                   {"KeyId": keys[-1], "NumberOfBytes": 64,
                                    "EncryptionContext": ctx})
                    if st != 200:
                        counts["errors"] += 1
                        continue
                    record({"blob": r["CiphertextBlob"], "len": 64, "ctx": ctx})
                    counts["blobs"] += 1
        except (OSError, ConnectionError, ValueError):
            return  # the daemon was killed

    ts = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out.close()
    print(f"storm: {counts['keys']} keys and {counts['blobs']} ciphertexts acknowledged, "
          f"{counts['errors']} refused")
    return 0


def verify(sock, records):
    c = Conn(sock)
    keys = blobs = 0
    with open(records, encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a torn last line cannot happen (written by this process), but be safe
            if "key" in rec:
                st, r = c.call("DescribeKey", {"KeyId": rec["key"]})
                if st != 200 or r["KeyMetadata"]["KeyState"] != "Enabled":
                    print(f"FAIL: acknowledged key {rec['key']} lost: {st} {r}", file=sys.stderr)
                    return 1
                keys += 1
            else:
                st, r = c.call("Decrypt", {"CiphertextBlob": rec["blob"],
                                           "EncryptionContext": rec["ctx"]})
                if st != 200:
                    print(f"FAIL: acknowledged ciphertext does not decrypt: {st} {r}",
                          file=sys.stderr)
                    return 1
                pt = base64.b64decode(r["Plaintext"])
                if ("pt" in rec and pt != base64.b64decode(rec["pt"])) or \
                   ("len" in rec and len(pt) != rec["len"]):
                    print("FAIL: ciphertext decrypts to the wrong plaintext", file=sys.stderr)
                    return 1
                blobs += 1
    print(f"verify: {keys} keys and {blobs} ciphertexts intact")
    return 0 if keys > 0 and blobs > 0 else 1


def bench(sock, threads, seconds):
    c = Conn(sock)
    st, r = c.call("CreateKey", {})
    key = r["KeyMetadata"]["KeyId"]
    st, r = c.call("Encrypt", {"KeyId": key, "Plaintext": base64.b64encode(b"k" * 64).decode()})
    blob = r["CiphertextBlob"]
    stop = time.monotonic() + seconds
    done = [0] * threads

    def worker(n):
        cc = Conn(sock)
        while time.monotonic() < stop:
            st, _ = cc.call("Decrypt", {"CiphertextBlob": blob})
            if st != 200:
                raise SystemExit(f"Decrypt answered {st}")
            done[n] += 1

    ts = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(f"bench: {sum(done) / seconds:.0f} Decrypt/s with {threads} clients")
    return 0


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "storm":
        sys.exit(storm(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    if mode == "verify":
        sys.exit(verify(sys.argv[2], sys.argv[3]))
    if mode == "bench":
        sys.exit(bench(sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
    sys.exit(f"unknown mode {mode}")
