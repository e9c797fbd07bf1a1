#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-attach-holder.py — keeps ONE libnbd connection to an export open for a shell test and
# does I/O on it on request, so the test can change the key's state in between.
#
#   test-attach-holder.py URI
# prints "connected SIZE" (or "refused MESSAGE" and exits 1), then reads commands on stdin:
#   write OFF LEN SEED   write LEN bytes of the pattern SEED at OFF, then FLUSH
#   read OFF LEN SEED    read LEN bytes at OFF and compare with the pattern SEED
#   zero OFF LEN         check that LEN bytes at OFF read as zeros
#   quit                 disconnect and exit
# and answers each with one line: "ok" or "error MESSAGE".
import hashlib
import sys

import nbd


def pattern(seed, length):
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:length])


def main():
    h = nbd.NBD()
    try:
        h.connect_uri(sys.argv[1])
    except nbd.Error as e:
        print(f"refused {e}", flush=True)
        return 1
    print(f"connected {h.get_size()}", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            if words[0] == "quit":
                h.shutdown()
                print("ok", flush=True)
                return 0
            off, length = int(words[1]), int(words[2])
            if words[0] == "write":
                h.pwrite(pattern(words[3], length), off)
                h.flush()
                print("ok", flush=True)
            elif words[0] == "read":
                got = h.pread(length, off)
                print("ok" if got == pattern(words[3], length) else
                      f"error data mismatch at {off}+{length}", flush=True)
            elif words[0] == "zero":
                got = h.pread(length, off)
                print("ok" if got == bytes(length) else f"error not zero at {off}", flush=True)
            else:
                print(f"error unknown command {words[0]}", flush=True)
        except nbd.Error as e:
            print(f"error {e}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
