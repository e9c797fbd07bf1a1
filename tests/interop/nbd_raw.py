# SPDX-License-Identifier: LGPL-2.1-or-later
# nbd_raw.py — a minimal NBD client on a raw socket for the interop tests: it does exactly what
# a test asks (an export chosen with NBD_OPT_EXPORT_NAME or NBD_OPT_GO with or without
# NBD_INFO_BLOCK_SIZE, requests sent without reading replies, options before STARTTLS,
# STARTTLS twice, unknown options), which libnbd will not.  PYTHONPATH=tests/interop.
import socket
import struct
import sys

OPT_MAGIC = 0x49484156454F5054
REP_MAGIC = 0x3E889045565A9
REQ_MAGIC = 0x25609513
SIMPLE_MAGIC = 0x67446698
OPT_EXPORT_NAME, OPT_ABORT, OPT_LIST, OPT_GO = 1, 2, 3, 7
REP_ACK, REP_SERVER, REP_INFO = 1, 2, 3
INFO_BLOCK_SIZE = 3
CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH = 0, 1, 2, 3
ESHUTDOWN = 108


class Error(Exception):
    pass


def recvall(s, n):
    b = bytearray()
    while len(b) < n:
        k = s.recv(n - len(b))
        if not k:
            raise EOFError("server closed the connection after %d of %d bytes" % (len(b), n))
        b += k
    return bytes(b)


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def greet_socket(s):
    """Reads the newstyle greeting on a connected s and answers FIXED_NEWSTYLE | NO_ZEROES."""
    g = recvall(s, 18)
    if g[:16] != b"NBDMAGICIHAVEOPT" or struct.unpack(">H", g[16:])[0] != 3:
        raise Error("bad greeting %r" % g)
    s.sendall(struct.pack(">I", 3))
    return s


def greet(path, timeout=30):
    """Connects to the Unix socket path and does the greeting; returns the socket."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path)
    return greet_socket(s)


def send_option(s, opt, data=b""):
    s.sendall(struct.pack(">QII", OPT_MAGIC, opt, len(data)) + data)


def option(s, opt, data=b""):
    """Sends option opt with data; returns (reply type, reply data) of its first reply."""
    send_option(s, opt, data)
    magic, o, typ, ln = struct.unpack(">QIII", recvall(s, 20))
    if magic != REP_MAGIC or o != opt:
        fail("option reply header %x %d" % (magic, o))
    return typ, recvall(s, ln)


def read_option_reply(s):
    magic, opt, rtype, length = struct.unpack(">QIII", recvall(s, 20))
    if magic != REP_MAGIC:
        raise Error("bad option reply magic %#x" % magic)
    return rtype, recvall(s, length)


def connect(path, name, go=True, block_size=False, timeout=30):
    """Returns (socket, export size).  go=False uses NBD_OPT_EXPORT_NAME."""
    s = greet(path, timeout)
    n = name.encode()
    if not go:
        send_option(s, OPT_EXPORT_NAME, n)
        size, _flags = struct.unpack(">QH", recvall(s, 10))
        return s, size
    infos = [INFO_BLOCK_SIZE] if block_size else []
    send_option(s, OPT_GO, struct.pack(">I", len(n)) + n + struct.pack(">H", len(infos)) +
                b"".join(struct.pack(">H", i) for i in infos))
    size = None
    while True:
        rtype, data = read_option_reply(s)
        if rtype == REP_ACK:
            return s, size
        if rtype == REP_INFO and struct.unpack(">H", data[:2])[0] == 0:
            size = struct.unpack(">Q", data[2:10])[0]
        elif rtype & 0x80000000:
            raise Error("GO refused (%#x): %s" % (rtype, data.decode(errors="replace")))


def send_request(s, cmd, offset, length, cookie, data=b"", flags=0):
    s.sendall(struct.pack(">IHHQQI", REQ_MAGIC, flags, cmd, cookie, offset, length) + data)


def read_reply(s, lengths):
    """Reads one simple reply; lengths maps cookies of READs to their lengths.
    Returns (cookie, error, data)."""
    magic, err, cookie = struct.unpack(">IIQ", recvall(s, 16))
    if magic != SIMPLE_MAGIC:
        raise Error("bad reply magic %#x" % magic)
    data = recvall(s, lengths.get(cookie, 0)) if err == 0 else b""
    return cookie, err, data


def pread(s, offset, length, cookie=1):
    send_request(s, CMD_READ, offset, length, cookie)
    c, err, data = read_reply(s, {cookie: length})
    if c != cookie or err:
        raise Error("read %d@%d: cookie %d error %d" % (length, offset, c, err))
    return data


def pwrite(s, offset, data, cookie=2):
    send_request(s, CMD_WRITE, offset, len(data), cookie, data)
    c, err, _ = read_reply(s, {})
    if c != cookie or err:
        raise Error("write %d@%d: cookie %d error %d" % (len(data), offset, c, err))
