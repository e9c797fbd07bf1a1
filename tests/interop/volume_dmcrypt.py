# SPDX-License-Identifier: LGPL-2.1-or-later
# volume_dmcrypt.py — an independent reader of the envol v1 volume format, written from
# docs/format.md with python3-cryptography (not libenvol): parses and checks both header slots
# (SHA-256 checksum, fields, and the HMAC when sealed), then decrypts the data area exactly as
# dm-crypt's aes-xts-plain64 with --iv-large-sectors would (tweak = sector number, 128-bit
# little-endian) and compares it with an expected plaintext image.
#
#   /usr/bin/python3 volume_dmcrypt.py VOLUME EXPECTED_IMAGE   (DEK as hex on stdin)
import hashlib
import hmac
import struct
import sys
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SLOT_OFFSETS = {"A": 0, "B": 512 * 1024}
SLOT_SIZE = 64 * 1024
DATA_OFFSET = 1 << 20
FIXED = 160


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def parse_slot(raw):
    """Returns a dict, or None when the slot is invalid (as format.md says to treat it)."""
    if raw[0:8] != b"ENVOLHDR":
        return None
    version, slot_len = struct.unpack_from("<II", raw, 8)
    if version != 1 or not (FIXED + 32 <= slot_len <= SLOT_SIZE):
        return None
    body, checksum = raw[: slot_len - 32], raw[slot_len - 32 : slot_len]
    if hashlib.sha256(body).digest() != checksum:
        return None
    seq, flags, sector_size = struct.unpack_from("<QII", raw, 16)
    vol_uuid = raw[32:48]
    size, data_offset, created = struct.unpack_from("<QQQ", raw, 48)
    cipher = raw[72:104].rstrip(b"\0").decode()
    arn_len, blob_len, n_ctx = struct.unpack_from("<HHH", raw, 104)
    if raw[110:128] != bytes(18):
        fail("reserved bytes 110..127 are not zero")
    mac = raw[128:160]
    pos = FIXED
    arn = raw[pos : pos + arn_len].decode()
    pos += arn_len
    blob = raw[pos : pos + blob_len]
    pos += blob_len
    ctx = {}
    for _ in range(n_ctx):
        kl, vl = struct.unpack_from("<HH", raw, pos)
        pos += 4
        k = raw[pos : pos + kl].decode()
        v = raw[pos + kl : pos + kl + vl].decode()
        pos += kl + vl
        ctx[k] = v
    if pos != slot_len - 32:
        fail("variable part does not end at slot_len - 32")
    return dict(seq=seq, flags=flags, sector_size=sector_size, uuid=vol_uuid, size=size,
                data_offset=data_offset, created=created, cipher=cipher, arn=arn, blob=blob,
                ctx=ctx, mac=mac, body=body)


def main():
    vol_path, expected_path = sys.argv[1], sys.argv[2]
    dek = bytes.fromhex(sys.stdin.readline().strip())
    if len(dek) != 64:
        fail("DEK must be 64 bytes")
    with open(vol_path, "rb") as f:
        image = f.read()
    with open(expected_path, "rb") as f:
        expected = f.read()

    slots = {}
    for name, off in SLOT_OFFSETS.items():
        s = parse_slot(image[off : off + SLOT_SIZE])
        if s:
            slots[name] = s
    if not slots:
        fail("no valid header slot")
    name, h = max(slots.items(), key=lambda kv: kv[1]["seq"])
    print(f"slot {name}: seq {h['seq']} flags {h['flags']:#x} sector_size {h['sector_size']} "
          f"size {h['size']} cipher {h['cipher']}")
    if h["cipher"] != "aes-xts-plain64" or h["data_offset"] != DATA_OFFSET:
        fail("unexpected cipher or data offset")
    if h["ctx"].get("envol:volume-id") != str(uuid.UUID(bytes=h["uuid"])):
        fail("envol:volume-id context does not match the uuid")
    if h["size"] != len(expected):
        fail(f"header size {h['size']} != expected image size {len(expected)}")

    # The MAC (format.md "Header MAC"): HMAC-SHA256 under HKDF-SHA256(DEK, salt = uuid,
    # info = "envol v1 header mac") over the body with MAC zeroed and MAC_PENDING clear.
    if h["flags"] & 2:
        fail("header still MAC pending after a writable attach")
    mac_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=h["uuid"],
                   info=b"envol v1 header mac").derive(dek)
    body = bytearray(h["body"])
    body[128:160] = bytes(32)
    struct.pack_into("<I", body, 24, h["flags"] & ~2)
    if not hmac.compare_digest(hmac.new(mac_key, bytes(body), hashlib.sha256).digest(),
                               h["mac"]):
        fail("header MAC does not verify with the DEK")
    print("header MAC verified")

    ss = h["sector_size"]
    data = image[DATA_OFFSET : DATA_OFFSET + h["size"]]
    if len(data) != h["size"]:
        fail("backing file shorter than the data area")
    zero_sector = bytes(ss)
    stored_zero = 0
    for i in range(h["size"] // ss):
        c = data[i * ss : (i + 1) * ss]
        want = expected[i * ss : (i + 1) * ss]
        if c == zero_sector:
            stored_zero += 1
            got = zero_sector  # format.md: a stored all-zero sector reads as zeros
        else:
            d = Cipher(algorithms.AES(dek), modes.XTS(i.to_bytes(16, "little"))).decryptor()
            got = d.update(c) + d.finalize()
            if c == want:
                fail(f"sector {i} is stored in plaintext")
        if got != want:
            fail(f"sector {i} (sector size {ss}) decrypts to other bytes than were written")
    print(f"data area decrypted with aes-xts-plain64: {h['size'] // ss} sectors match, "
          f"{stored_zero} stored as zero bytes")


if __name__ == "__main__":
    main()
