# SPDX-License-Identifier: LGPL-2.1-or-later
# test-xts-crosscheck.py — helper of test-xts-crosscheck.sh: compares libenvol's sector cipher
# (driven through build/tests/xts-tool) with python3-cryptography's AES-XTS, in both
# directions, for random keys and data, both sector sizes and sector numbers above 2^32.
#   usage: /usr/bin/python3 test-xts-crosscheck.py XTS_TOOL TMPDIR [ROUNDS]
import os
import random
import subprocess
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

TOOL, TMP = sys.argv[1], sys.argv[2]
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 24
U64 = 1 << 64


def py_xts(key, first, ss, data, encrypt):
    """Reference: python3-cryptography, one XTS call per sector, tweak = plain64 (LE 128)."""
    out = bytearray()
    for i in range(len(data) // ss):
        tweak = (first + i).to_bytes(16, "little")
        c = Cipher(algorithms.AES(key), modes.XTS(tweak))
        op = c.encryptor() if encrypt else c.decryptor()
        out += op.update(data[i * ss:(i + 1) * ss]) + op.finalize()
    return bytes(out)


def tool(op, keyfile, first, ss, data, expect_ok=True):
    p = subprocess.run([TOOL, op, keyfile, str(first), str(ss)], input=data,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if expect_ok and p.returncode != 0:
        sys.exit("FAIL: xts-tool %s first=%d ss=%d len=%d exited %d: %s"
                 % (op, first, ss, len(data), p.returncode, p.stderr.decode(errors="replace")))
    return p


def write_key(key):
    path = os.path.join(TMP, "xts.key")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
    return path


def random_key():
    while True:
        k = os.urandom(64)
        if k[:32] != k[32:]:
            return k


rng = random.SystemRandom()
fixed_firsts = [0, 1, 255, (1 << 32) - 1, 1 << 32, (1 << 32) + 1, 0xffffffffff,
                (1 << 63) + 12345]
combos = []
for i in range(ROUNDS):
    ss = 512 if i % 2 == 0 else 4096
    nsect = rng.choice([1, 2, 3, 8, 17]) if ss == 4096 else rng.choice([1, 2, 7, 64, 300])
    if i < len(fixed_firsts):
        first = fixed_firsts[i]
    elif i % 3 == 0:
        first = U64 - nsect          # the very last sectors of the 64-bit space
    else:
        first = rng.randrange((1 << 32) + 1, U64 - nsect)
    combos.append((ss, nsect, first))
# Spans that cross 2^32 inside one call.
combos.append((512, 40, (1 << 32) - 20))
combos.append((4096, 6, (1 << 32) - 3))

above = 0
for n, (ss, nsect, first) in enumerate(combos):
    key = random_key()
    keyfile = write_key(key)
    plain = os.urandom(ss * nsect)
    if first + nsect - 1 >= 1 << 32:
        above += 1

    # Direction 1: envol encrypts, cryptography decrypts (and must produce the same bytes).
    ct = tool("encrypt", keyfile, first, ss, plain).stdout
    if len(ct) != len(plain):
        sys.exit("FAIL: combo %d: ciphertext length %d != %d" % (n, len(ct), len(plain)))
    if ct == plain:
        sys.exit("FAIL: combo %d: ciphertext equals plaintext" % n)
    if py_xts(key, first, ss, ct, False) != plain:
        sys.exit("FAIL: combo %d (ss=%d first=%#x sectors=%d): cryptography cannot decrypt "
                 "envol's ciphertext" % (n, ss, first, nsect))
    if py_xts(key, first, ss, plain, True) != ct:
        sys.exit("FAIL: combo %d: ciphertexts differ" % n)

    # Direction 2: cryptography encrypts, envol decrypts.
    ct2 = py_xts(key, first, ss, plain, True)
    pt2 = tool("decrypt", keyfile, first, ss, ct2).stdout
    if pt2 != plain:
        sys.exit("FAIL: combo %d (ss=%d first=%#x sectors=%d): envol cannot decrypt "
                 "cryptography's ciphertext" % (n, ss, first, nsect))

    # The check can fail: a neighbouring sector number must not decrypt correctly.
    if first > 0 and py_xts(key, first - 1, ss, ct, False)[:ss] == plain[:ss]:
        sys.exit("FAIL: combo %d: decrypting at sector-1 matched, the check is blind" % n)
    print("ok %2d: sector_size=%4d first_sector=%#018x sectors=%3d" % (n, ss, first, nsect))

# The tool (and envol_xts) refuse input that is not a whole number of sectors.
keyfile = write_key(random_key())
for ss, ln in ((512, 511), (512, 700), (4096, 512), (4096, 4097)):
    p = tool("encrypt", keyfile, 0, ss, os.urandom(ln), expect_ok=False)
    if p.returncode == 0:
        sys.exit("FAIL: xts-tool accepted %d bytes at sector size %d" % (ln, ss))
# Equal key halves are refused.
half = os.urandom(32)
p = tool("encrypt", write_key(half + half), 0, 512, os.urandom(512), expect_ok=False)
if p.returncode == 0:
    sys.exit("FAIL: xts-tool accepted a key with equal halves")

if len(combos) < 20 or above < 10:
    sys.exit("FAIL: too few combinations (%d, %d above 2^32)" % (len(combos), above))
print("PASS: %d combinations (%d reaching above 2^32), both directions" % (len(combos), above))
