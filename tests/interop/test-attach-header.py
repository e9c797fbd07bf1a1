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
#       SLOT: A, B, both, active (valid, highest sequence) or inactive (the other slot)
#       WHAT: one field changed: arn (flip the last byte of the key ARN), arn=ARN (another
#       key ARN of the same length), size (halve the
#       logical size), version (2), sector_size (512 <-> 4096), data_offset (+4096), cipher
#       ("aes-cbc-essiv:sha256"), read_only (flip the flag), uuid (flip a bit), created (+1);
#       or the forgery of issue 9: pending_size / pending_read_only (MAC_PENDING set, MAC
#       zeroed, and size halved / read-only flag flipped)
#       Recomputes the slot checksum unless "nofix", so only authentication can tell.
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
    for name in (["A", "B"] if sys.argv[3] == "both" else [sys.argv[3]]):
        tamper(path, buf, name, sys.argv[4], len(sys.argv) > 5 and sys.argv[5] == "nofix")


def tamper(path, buf, which, what, nofix):
    name, s = pick(buf, which)
    if s is None:
        sys.exit(f"slot {name} is not valid")
    off = SLOTS[name]
    flags = s["flags"]
    if what == "arn":
        buf[off + 160 + s["arn_len"] - 1] ^= 0x01
    elif what.startswith("arn="):
        arn = what[4:].encode()
        if len(arn) != s["arn_len"]:
            sys.exit("arn=: the new key ARN must have the length of the old one")
        buf[off + 160:off + 160 + len(arn)] = arn
    elif what == "size":
        struct.pack_into("<Q", buf, off + 48, s["size"] // 2)
    elif what == "version":
        struct.pack_into("<I", buf, off + 8, 2)
    elif what == "sector_size":
        struct.pack_into("<I", buf, off + 28, 4096 if s["sector_size"] == 512 else 512)
    elif what == "data_offset":
        struct.pack_into("<Q", buf, off + 56, struct.unpack_from("<Q", buf, off + 56)[0] + 4096)
    elif what == "cipher":
        buf[off + 72:off + 104] = b"aes-cbc-essiv:sha256".ljust(32, b"\0")
    elif what == "read_only":
        struct.pack_into("<I", buf, off + 24, flags ^ 1)
    elif what == "uuid":
        buf[off + 47] ^= 0x01
    elif what == "created":
        struct.pack_into("<Q", buf, off + 64, struct.unpack_from("<Q", buf, off + 64)[0] + 1)
    elif what in ("pending_size", "pending_read_only"):
        buf[off + 128:off + 160] = bytes(32)
        if what == "pending_size":
            struct.pack_into("<I", buf, off + 24, flags | 2)
            struct.pack_into("<Q", buf, off + 48, s["size"] // 2)
        else:
            struct.pack_into("<I", buf, off + 24, (flags | 2) ^ 1)
    else:
        sys.exit(f"unknown field {what}")
    if not nofix:
        body = bytes(buf[off:off + s["len"] - 32])
        buf[off + s["len"] - 32:off + s["len"]] = hashlib.sha256(body).digest()
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(buf[off:off + SLOT_SIZE])
    print(f"tampered slot {name} ({what})")


if __name__ == "__main__":
    main()
