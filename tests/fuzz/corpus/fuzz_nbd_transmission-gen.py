#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# fuzz_nbd_transmission-gen.py — writes the seed corpus of tests/fuzz/fuzz_nbd_transmission.c
# into fuzz_nbd_transmission/ beside this file: what a client sends after the greeting (client
# flags, options, requests with their write payloads) to envold's export "fuzz" (1 MiB,
# 512-byte sectors).  Run it again after changing it and commit the files it writes.
import os
import struct

EXPORT = b"fuzz"
SIZE = 1 << 20

NO_ZEROES = 2
OPT_EXPORT_NAME, OPT_ABORT, OPT_LIST, OPT_INFO, OPT_GO = 1, 2, 3, 6, 7
OPT_STRUCTURED_REPLY, OPT_LIST_META, OPT_SET_META = 8, 9, 10
INFO_BLOCK_SIZE = 3
CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH, CMD_TRIM, CMD_CACHE = 0, 1, 2, 3, 4, 5
CMD_WRITE_ZEROES, CMD_BLOCK_STATUS = 6, 7
FUA, NO_HOLE, DF, REQ_ONE, FAST_ZERO = 1, 2, 4, 8, 16


def flags(f=1 | NO_ZEROES):
    return struct.pack(">I", f)


def option(opt, data=b""):
    return b"IHAVEOPT" + struct.pack(">II", opt, len(data)) + data


def info_go(opt, name=EXPORT, infos=(INFO_BLOCK_SIZE,)):
    data = struct.pack(">I", len(name)) + name + struct.pack(">H", len(infos))
    return option(opt, data + b"".join(struct.pack(">H", i) for i in infos))


def meta(opt, name=EXPORT, queries=(b"base:allocation",)):
    data = struct.pack(">I", len(name)) + name + struct.pack(">I", len(queries))
    return option(opt, data + b"".join(struct.pack(">I", len(q)) + q for q in queries))


cookie = 0


def request(cmd, offset=0, length=0, fl=0, payload=None):
    global cookie
    cookie += 1
    r = struct.pack(">IHHQQI", 0x25609513, fl, cmd, cookie, offset, length)
    if cmd == CMD_WRITE:
        r += payload if payload is not None else bytes((cookie + i) & 0xFF for i in range(length))
    return r


def go_structured(name=EXPORT):
    return (flags() + option(OPT_STRUCTURED_REPLY) + meta(OPT_SET_META, name)
            + info_go(OPT_GO))


SEEDS = {
    # every command once, with structured replies and base:allocation
    "structured_all_commands": go_structured() + b"".join([
        request(CMD_WRITE, 0, 4096),
        request(CMD_READ, 0, 4096),
        request(CMD_READ, 0, 4096, DF),
        request(CMD_WRITE, 512, 512, FUA),
        request(CMD_FLUSH),
        request(CMD_TRIM, 8192, 4096),
        request(CMD_WRITE_ZEROES, 16384, 4096, NO_HOLE),
        request(CMD_WRITE_ZEROES, 32768, 8192, FAST_ZERO),
        request(CMD_WRITE_ZEROES, 32768, 8192, FAST_ZERO | NO_HOLE),
        request(CMD_BLOCK_STATUS, 0, SIZE),
        request(CMD_BLOCK_STATUS, 0, SIZE, REQ_ONE),
        request(CMD_CACHE, 0, 65536),
        request(CMD_DISC),
    ]),
    # NBD_OPT_EXPORT_NAME with the 124 zero bytes, simple replies
    "export_name_simple": flags(1) + option(OPT_EXPORT_NAME, EXPORT) + b"".join([
        request(CMD_WRITE, 4096, 1024),
        request(CMD_READ, 4096, 1024),
        request(CMD_READ, SIZE, 512),
        request(CMD_BLOCK_STATUS, 0, 512),
        request(CMD_DISC),
    ]),
    # refused requests: the connection stays, write payloads are consumed
    "errors": go_structured() + b"".join([
        request(CMD_READ, SIZE - 512, 1024),
        request(CMD_WRITE, SIZE, 512),
        request(CMD_WRITE, 100, 512),
        request(CMD_READ, 0, 100),
        request(CMD_READ, 0, 0),
        request(CMD_READ, 0, (32 << 20) + 512),
        request(CMD_WRITE, 0, 512, NO_HOLE),
        request(CMD_TRIM, 512, SIZE),
        request(CMD_WRITE_ZEROES, SIZE - 512, 1024),
        request(CMD_BLOCK_STATUS, 0, 512, FAST_ZERO),
        request(9, 0, 512),
        request(CMD_READ, 0, 512),
    ]) + b"\xde\xad\xbe\xef" * 7,
    # READ and WRITE above the 64 KiB inline size, and FUA writes, go to the worker pool
    "large_io": go_structured() + b"".join([
        request(CMD_WRITE, 0, 66048),
        request(CMD_WRITE, 66048, 4096, FUA),
        request(CMD_READ, 0, 70144),
        request(CMD_TRIM, 0, 65536, FUA),
        request(CMD_BLOCK_STATUS, 0, 262144),
        request(CMD_READ, 0, 65536),
    ]),
    # the whole option set before GO, then end of stream in transmission
    "options_then_eof": flags() + b"".join([
        option(OPT_LIST),
        option(OPT_LIST, b"x"),
        info_go(OPT_INFO, infos=(0, 1, 2, 3)),
        info_go(OPT_INFO, b"missing"),
        info_go(OPT_GO, b"missing"),
        info_go(OPT_GO, b""),
        meta(OPT_LIST_META),
        option(OPT_STRUCTURED_REPLY),
        meta(OPT_LIST_META, queries=()),
        meta(OPT_LIST_META, queries=(b"base:",)),
        option(5),
        option(0x4242, b"abc"),
        info_go(OPT_GO),
    ]) + request(CMD_READ, 0, 512),
    # base:allocation chosen for another export: BLOCK_STATUS refused on this one
    "meta_other_export": flags() + option(OPT_STRUCTURED_REPLY)
    + meta(OPT_SET_META, b"other") + info_go(OPT_GO) + request(CMD_BLOCK_STATUS, 0, 4096)
    + request(CMD_DISC),
    "abort": flags() + option(OPT_ABORT),
}

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_nbd_transmission")
os.makedirs(here, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)
    print("%s: %d bytes" % (name, len(data)))
