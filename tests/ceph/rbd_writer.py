#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# rbd_writer.py — verified writes through envold for the takeover tests (test-rbd-hosts.sh):
#
#   rbd_writer.py write URI LOG BLOCK COUNT
#       writes blocks 0, 1, … COUNT-1 (block i: BLOCK bytes of pattern "w<i>" at i*BLOCK), 8 in
#       flight at a time, a FLUSH after every 8, and appends the indices of the blocks each
#       FLUSH made durable to LOG (one per line, flushed at once).  Stops at the first error
#       (prints "stopped after N blocks: ERROR", exits 0), else prints "wrote N blocks".
#   rbd_writer.py verify URI LOG BLOCK COUNT
#       every block listed in LOG reads back its pattern, and every block from the last batch
#       in flight on (2 batches after the last logged one) up to COUNT reads as zeros.
#
# The pattern is test-attach-holder.py's (imported from it), so that its "read" checks blocks
# written here.
import importlib.util
import os
import sys

import nbd

DEPTH = 8

_spec = importlib.util.spec_from_file_location(
    "attach_holder",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop", "test-attach-holder.py"))
_holder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_holder)
pattern = _holder.pattern


def write(h, log_path, block, count):
    done = 0
    with open(log_path, "a") as log:
        try:
            for first in range(0, count, DEPTH):
                batch = range(first, min(first + DEPTH, count))
                cookies = [h.aio_pwrite(nbd.Buffer.from_bytearray(bytearray(pattern(f"w{i}", block))),
                                        i * block) for i in batch]
                while h.aio_in_flight() > 0:
                    h.poll(-1)
                for c in cookies:
                    h.aio_command_completed(c)  # raises the request's error
                h.flush()
                for i in batch:
                    log.write(f"{i}\n")
                log.flush()
                done += len(batch)
        except nbd.Error as e:
            print(f"stopped after {done} blocks: {e}", flush=True)
            return 0
    print(f"wrote {done} blocks", flush=True)
    return 0


def verify(h, log_path, block, count):
    acked = [int(x) for x in open(log_path).read().split()]
    for i in acked:
        if h.pread(block, i * block) != pattern(f"w{i}", block):
            print(f"FAIL: block {i} was acknowledged (flushed) but does not read back")
            return 1
    start = (max(acked) + 1 if acked else 0) + 2 * DEPTH
    zero = bytes(block)
    for i in range(start, count):
        if h.pread(block, i * block) != zero:
            print(f"FAIL: block {i} was never written but does not read as zeros")
            return 1
    print(f"verified: {len(acked)} flushed blocks read back, blocks {start}..{count - 1} zero")
    return 0


def main():
    mode, uri, log_path, block, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    h = nbd.NBD()
    h.connect_uri(uri)
    r = write(h, log_path, block, count) if mode == "write" else verify(h, log_path, block, count)
    try:
        h.shutdown()
    except nbd.Error:
        pass
    return r


if __name__ == "__main__":
    sys.exit(main())
