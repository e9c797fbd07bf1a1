#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-attach-scan.py — checks a volume's backing file from outside envol:
#
#   test-attach-scan.py noplain BACKING MARKER RANDOM
#       fails if BACKING contains MARKER (or its first 16 bytes) or ANY 64-byte window of the
#       file RANDOM, at any byte offset.
#   test-attach-scan.py decrypt BACKING DEK SECTOR_SIZE DATA_OFFSET IMAGE
#       decrypts the data area with python3-cryptography's AES-XTS (tweak = sector number as
#       a 128-bit little-endian integer, the volume's own sector size, "plain64") using the
#       64-byte DEK in the file DEK, and fails unless it equals IMAGE (a stored all-zero
#       sector stands for a sector of zeros, as format v1 says).
#   test-attach-scan.py devcmp DEVICE BACKING SECTOR_SIZE DATA_OFFSET IMAGE
#       compares what a dm-crypt plain mapping DEVICE reads with IMAGE, sector by sector, for
#       every sector stored non-zero in BACKING (dm-crypt decrypts holes into noise).
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

CHUNK = 32  # any 64-byte window of RANDOM contains a whole CHUNK-aligned chunk of CHUNK bytes


def noplain(backing, marker, random_path):
    data = open(backing, "rb").read()
    rnd = open(random_path, "rb").read()
    marker = marker.encode()
    for m in (marker, marker[:16]):
        pos = data.find(m)
        if pos >= 0:
            sys.exit(f"FAIL: plaintext marker {m!r} found in {backing} at offset {pos}")
    # Index the first 8 bytes of every CHUNK-aligned chunk of RANDOM, then look at every 8-byte
    # word of BACKING at every byte offset (8 alignments of a native-endian word view).
    prefixes = {}
    for k in range(0, len(rnd) - CHUNK + 1, CHUNK):
        prefixes.setdefault(int.from_bytes(rnd[k:k + 8], "little"), []).append(k)
    keys = set(prefixes)
    hits = 0
    for align in range(8):
        n = (len(data) - align) // 8
        words = memoryview(data)[align:align + 8 * n].cast("Q")
        if keys.isdisjoint(words):
            continue
        for i, w in enumerate(words):
            if w not in keys:
                continue
            q = align + 8 * i
            for k in prefixes[w]:
                if data[q:q + CHUNK] == rnd[k:k + CHUNK]:
                    hits += 1
                    if hits <= 5:
                        print(f"random plaintext chunk {k} found at {backing} offset {q}")
    if hits:
        sys.exit(f"FAIL: {hits} chunks of the random plaintext found in {backing}")
    print(f"noplain: {len(data)} bytes scanned, no marker, no 64-byte window of "
          f"{len(rnd)} random bytes")


def decrypt(backing, dek_path, sector_size, data_offset, image):
    dek = open(dek_path, "rb").read()
    if len(dek) != 64:
        sys.exit(f"FAIL: DEK is {len(dek)} bytes, want 64")
    want = open(image, "rb").read()
    if len(want) % sector_size:
        sys.exit("FAIL: image is not a whole number of sectors")
    zero = bytes(sector_size)
    bad = 0
    with open(backing, "rb") as f:
        f.seek(data_offset)
        for i in range(len(want) // sector_size):
            ct = f.read(sector_size)
            ct = ct + bytes(sector_size - len(ct))  # past EOF of a sparse file: zeros
            if ct == zero:
                pt = zero
            else:
                d = Cipher(algorithms.AES(dek), modes.XTS(i.to_bytes(16, "little"))).decryptor()
                pt = d.update(ct) + d.finalize()
            if pt != want[i * sector_size:(i + 1) * sector_size]:
                bad += 1
                if bad <= 5:
                    print(f"sector {i}: decrypted data differs from what was written")
    if bad:
        sys.exit(f"FAIL: {bad} sectors do not decrypt to what was written")
    print(f"decrypt: {len(want) // sector_size} sectors of {sector_size} bytes decrypt "
          f"to what was written")


def devcmp(device, backing, sector_size, data_offset, image):
    want = open(image, "rb").read()
    zero = bytes(sector_size)
    bad = checked = 0
    with open(device, "rb") as dev, open(backing, "rb") as f:
        f.seek(data_offset)
        for i in range(len(want) // sector_size):
            ct = f.read(sector_size)
            got = dev.read(sector_size)
            if ct == zero or len(ct) < sector_size:
                continue
            checked += 1
            if got != want[i * sector_size:(i + 1) * sector_size]:
                bad += 1
    if bad or not checked:
        sys.exit(f"FAIL: {bad} of {checked} stored sectors read differently through {device}")
    print(f"devcmp: {checked} stored sectors read the same through {device}")


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "noplain":
        noplain(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 7 and sys.argv[1] == "decrypt":
        decrypt(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    elif len(sys.argv) == 7 and sys.argv[1] == "devcmp":
        devcmp(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    else:
        sys.exit(__doc__ if __doc__ else "usage: see the comment at the top")


if __name__ == "__main__":
    main()
