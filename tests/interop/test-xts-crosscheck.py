# SPDX-License-Identifier: LGPL-2.1-or-later
# test-xts-crosscheck.py — helper of test-xts-crosscheck.sh: compares libenvol's sector cipher
# (driven through build/tests/xts-tool) with python3-cryptography's AES-XTS, in both
# directions, for random keys and data, both sector sizes and sector numbers above 2^32 —
# once through the default (auto) path and once on every backend usable here (xts-tool --list).
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


def tool(backend, op, keyfile, first, ss, data, expect_ok=True):
    p = subprocess.run([TOOL, "--backend", backend, op, keyfile, str(first), str(ss)],
                       input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if expect_ok and p.returncode != 0:
        sys.exit("FAIL: xts-tool --backend %s %s first=%d ss=%d len=%d exited %d: %s"
                 % (backend, op, first, ss, len(data), p.returncode,
                    p.stderr.decode(errors="replace")))
    return p


def write_key(key, name="xts.key"):
    path = os.path.join(TMP, name)
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

# Which backends this build has, and their start-up self-test results: none may have failed.
listing = subprocess.run([TOOL, "--list"], stdout=subprocess.PIPE, check=True).stdout.decode()
backends = []
for line in listing.splitlines():
    name, status, why = (line.split(" ", 2) + [""])[:3]
    print("backend %-9s %-10s %s" % (name, status, why))
    if status == "FAILED":
        sys.exit("FAIL: backend %s failed its self-test: %s" % (name, why))
    if status == "passed":
        backends.append(name)
if "openssl" not in backends or len(backends) < 2:
    sys.exit("FAIL: expected openssl and at least one more backend, got %s" % backends)

# One key, plaintext and reference ciphertext per combination, shared by every backend.
cases = []
above = 0
for n, (ss, nsect, first) in enumerate(combos):
    key = random_key()
    plain = os.urandom(ss * nsect)
    ct = py_xts(key, first, ss, plain, True)
    if ct == plain or py_xts(key, first, ss, ct, False) != plain:
        sys.exit("FAIL: combo %d: cryptography does not round-trip" % n)
    # The check can fail: a neighbouring sector number must not decrypt correctly.
    if first > 0 and py_xts(key, first - 1, ss, ct, False)[:ss] == plain[:ss]:
        sys.exit("FAIL: combo %d: decrypting at sector-1 matched, the check is blind" % n)
    if first + nsect - 1 >= 1 << 32:
        above += 1
    cases.append((ss, nsect, first, key, plain, ct))

# The cases' files, written once: key, plaintext, reference ciphertext.
for n, (ss, nsect, first, key, plain, ct) in enumerate(cases):
    write_key(key, "case%d.key" % n)
    for what, data in (("plain", plain), ("ct", ct)):
        with open(os.path.join(TMP, "case%d.%s" % (n, what)), "wb") as f:
            f.write(data)

for backend in ["auto"] + backends:
    # Every case in both directions through one xts-tool process per backend ("batch"): the
    # backends' start-up self-tests then run once, not twice per case.
    lines = []
    for n, (ss, nsect, first, key, plain, ct) in enumerate(cases):
        f = os.path.join(TMP, "case%d" % n)
        # Direction 1: envol encrypts; the same bytes as cryptography's (which decrypts them).
        lines.append("encrypt %s.key %d %d %s.plain %s.%s.enc\n" % (f, first, ss, f, f, backend))
        # Direction 2: cryptography encrypts, envol decrypts.
        lines.append("decrypt %s.key %d %d %s.ct %s.%s.dec\n" % (f, first, ss, f, f, backend))
    p = subprocess.run([TOOL, "--backend", backend, "batch"], input="".join(lines).encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.exit("FAIL: xts-tool --backend %s batch exited %d: %s"
                 % (backend, p.returncode, p.stderr.decode(errors="replace")))
    for n, (ss, nsect, first, key, plain, ct) in enumerate(cases):
        f = os.path.join(TMP, "case%d.%s" % (n, backend))
        with open(f + ".enc", "rb") as fe, open(f + ".dec", "rb") as fd:
            out, back = fe.read(), fd.read()
        if out != ct:
            sys.exit("FAIL: %s combo %d (ss=%d first=%#x sectors=%d): envol's ciphertext "
                     "differs from cryptography's (%d vs %d bytes)"
                     % (backend, n, ss, first, nsect, len(out), len(ct)))
        if back != plain:
            sys.exit("FAIL: %s combo %d (ss=%d first=%#x sectors=%d): envol cannot decrypt "
                     "cryptography's ciphertext" % (backend, n, ss, first, nsect))
        print("ok %-8s %2d: sector_size=%4d first_sector=%#018x sectors=%3d"
              % (backend, n, ss, first, nsect))

    # The tool (and envol_xts) refuse input that is not a whole number of sectors.
    keyfile = write_key(random_key())
    for ss, ln in ((512, 511), (512, 700), (4096, 512), (4096, 4097)):
        p = tool(backend, "encrypt", keyfile, 0, ss, os.urandom(ln), expect_ok=False)
        if p.returncode == 0:
            sys.exit("FAIL: xts-tool (%s) accepted %d bytes at sector size %d"
                     % (backend, ln, ss))
    # Equal key halves are refused.
    half = os.urandom(32)
    p = tool(backend, "encrypt", write_key(half + half), 0, 512, os.urandom(512),
             expect_ok=False)
    if p.returncode == 0:
        sys.exit("FAIL: xts-tool (%s) accepted a key with equal halves" % backend)

if len(combos) < 20 or above < 10:
    sys.exit("FAIL: too few combinations (%d, %d above 2^32)" % (len(combos), above))
print("PASS: %d combinations (%d reaching above 2^32), both directions, on auto and %s"
      % (len(combos), above, ", ".join(backends)))
