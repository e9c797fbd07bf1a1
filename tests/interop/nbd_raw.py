# SPDX-License-Identifier: LGPL-2.1-or-later
"""nbd_raw.py — a raw NBD client's option phase for tests that must send what libnbd will not
(options before STARTTLS, STARTTLS twice, unknown options): the fixed-newstyle greeting,
exact reads, and one option with its reply header checked.  Used by test-nbd-errors.sh and
test-tls-nbd.sh (PYTHONPATH=tests/interop)."""
import struct
import sys

REPLY_MAGIC = 0x3e889045565a9


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def recvall(s, n):
    """Exactly n bytes from s; EOFError if the server closes first."""
    b = b""
    while len(b) < n:
        k = s.recv(n - len(b))
        if not k:
            raise EOFError("closed after %d of %d bytes" % (len(b), n))
        b += k
    return b


def greet(s):
    """Reads the newstyle greeting and answers with FIXED_NEWSTYLE | NO_ZEROES."""
    g = recvall(s, 18)
    if g[:16] != b"NBDMAGICIHAVEOPT" or struct.unpack(">H", g[16:])[0] != 3:
        fail("greeting %r" % g)
    s.sendall(struct.pack(">I", 3))
    return s


def option(s, opt, data=b""):
    """Sends option opt with data; returns (reply type, reply data) of its first reply."""
    s.sendall(b"IHAVEOPT" + struct.pack(">II", opt, len(data)) + data)
    magic, o, typ, ln = struct.unpack(">QIII", recvall(s, 20))
    if magic != REPLY_MAGIC or o != opt:
        fail("option reply header %x %d" % (magic, o))
    return typ, recvall(s, ln)
