#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-attach-header.py — reads and tampers with a volume file's header slots from outside
# envol, after the layout of docs/format.md (slots at 0 and 512 KiB; little-endian fields:
# magic[8] "ENVOLHDR", version u32 @8, slot_len u32 @12, sequence u64 @16, flags u32 @24,
# sector_size u32 @28, uuid[16] @32, size u64 @48, ..., key_arn_len u16 @104, variable part
# (key ARN first) @160; SHA-256 of bytes [0, slot_len - 32) stored in the last 32 bytes).
#
#   test-attach-header.py info FILE
#       one line per slot: "A valid seq=N flags=F size=S" or "A invalid"
#   test-attach-header.py tamper FILE SLOT WHAT [nofix]
#       SLOT: A, B, active (valid, highest sequence) or inactive (the other slot)
#       WHAT: arn (flip the last byte of the key ARN) or size (halve the logical size)
#       Recomputes the slot checksum unless "nofix", so only the MAC can tell.
import hashlib
import struct
import sys

SLOTS = {"A": 0, "B": 512 << 10}
SLOT_SIZE = 64 << 10


def parse(buf, off):
    s = buf[off:off + SLOT_SIZE]
    if s[0:8] != b"ENVOLHDR":
        return None
    slot_len = struct.unpack_from("<I", s, 12)[0]
    if slot_len < 192 or slot_len > SLOT_SIZE:
        return None
    if hashlib.sha256(s[:slot_len - 32]).digest() != s[slot_len - 32:slot_len]:
        return None
    seq, flags, ss = struct.unpack_from("<QII", s, 16)
    size = struct.unpack_from("<Q", s, 48)[0]
    arn_len = struct.unpack_from("<H", s, 104)[0]
    return {"len": slot_len, "seq": seq, "flags": flags, "sector_size": ss, "size": size,
            "arn_len": arn_len}


def pick(buf, which):
    slots = {n: parse(buf, o) for n, o in SLOTS.items()}
    if which in SLOTS:
        return which, slots[which]
    valid = sorted((s["seq"], n) for n, s in slots.items() if s)
    if not valid:
        sys.exit("no valid slot")
    active = valid[-1][1]
    if which == "active":
        return active, slots[active]
    other = "B" if active == "A" else "A"
    return other, slots[other]


def main():
    path = sys.argv[2]
    with open(path, "rb") as f:
        buf = bytearray(f.read(1 << 20))
    if sys.argv[1] == "info":
        for n, o in SLOTS.items():
            s = parse(buf, o)
            print(f"{n} valid seq={s['seq']} flags={s['flags']} size={s['size']}" if s
                  else f"{n} invalid")
        return
    name, s = pick(buf, sys.argv[3])
    if s is None:
        sys.exit(f"slot {name} is not valid")
    off = SLOTS[name]
    if sys.argv[4] == "arn":
        buf[off + 160 + s["arn_len"] - 1] ^= 0x01
    elif sys.argv[4] == "size":
        struct.pack_into("<Q", buf, off + 48, s["size"] // 2)
    else:
        sys.exit(f"unknown field {sys.argv[4]}")
    if not (len(sys.argv) > 5 and sys.argv[5] == "nofix"):
        body = bytes(buf[off:off + s["len"] - 32])
        buf[off + s["len"] - 32:off + s["len"]] = hashlib.sha256(body).digest()
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(buf[off:off + SLOT_SIZE])
    print(f"tampered slot {name} ({sys.argv[4]})")


if __name__ == "__main__":
    main()
