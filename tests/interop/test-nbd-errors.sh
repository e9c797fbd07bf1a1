#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-nbd-errors.sh — bad requests get the spec's error replies and the connection stays:
# past the end (EINVAL; ENOSPC for writes and zeroes), longer than 32 MiB (EINVAL), unaligned to
# the 512-byte minimum block size (EINVAL), FAST_ZERO with NO_HOLE (ENOTSUP); libnbd's strict
# checks are off so the requests reach envold.  Raw clients: STARTTLS is refused with
# "TLS is not enabled on this listener" (the Unix socket, TLS off), an unknown option gets ERR_UNSUP, GO on a missing export
# ERR_UNKNOWN; a client sending garbage (bad option magic, then bad request magic after
# EXPORT_NAME) is disconnected while another client keeps reading and writing.
source "$(dirname "$0")/functions.sh"
nbdsh() { $PY -m nbd "$@"; }   # nbdsh with the python that has the nbd module
requires nbdsh
$PY -c 'import nbd' 2>/dev/null || { echo "$0: skipped: python3-libnbd missing"; exit 77; }

envol_tmpdir
write_config
start_kmsd
"$BIN/envolctl" -c "$CONF" volume create err --size 64M >/dev/null
start_envold

SOCK=$T/run/nbd.sock PYTHONPATH=$ENVOL_SOURCE_DIR/tests/interop $PY - <<'PY'
import errno, os, socket, struct, sys
import nbd
from nbd_raw import fail, greet_socket, option, recvall

def eno(e):
    # nbd.Error.errno is a name ("EINVAL") in some libnbd versions, a number in others
    return e.errno if isinstance(e.errno, int) or e.errno is None else getattr(errno, e.errno, -1)

sock = os.environ["SOCK"]
uri = "nbd+unix:///err?socket=" + sock
size = 64 << 20

h = nbd.NBD()
h.set_strict_mode(0)        # let invalid requests reach the server
h.connect_uri(uri)
if not h.can_fast_zero() or not h.can_multi_conn():
    fail("flags")
h.pwrite(b"\x42" * 4096, 0)

def expect(what, err, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except nbd.Error as e:
        if eno(e) != err:
            fail("%s: errno %s (%s), want %s" % (what, e.errno, e.string, errno.errorcode[err]))
        # the connection survives: a normal read still works
        if h.pread(4096, 0) != b"\x42" * 4096:
            fail("%s: data after the error" % what)
        print("%s: %s, connection kept" % (what, errno.errorcode[err]))
        return
    fail("%s: no error" % what)

expect("read past the end", errno.EINVAL, h.pread, 512, size)
expect("read across the end", errno.EINVAL, h.pread, 1024, size - 512)
expect("write past the end", errno.ENOSPC, h.pwrite, b"\0" * 512, size)
expect("zero past the end", errno.ENOSPC, h.zero, 4096, size - 2048)
expect("trim past the end", errno.EINVAL, h.trim, 4096, size - 2048)
expect("read larger than 32 MiB", errno.EINVAL, h.pread, (32 << 20) + 512, 0)
expect("write larger than 32 MiB", errno.EINVAL, h.pwrite, b"\1" * ((32 << 20) + 512), 0)
expect("unaligned read offset", errno.EINVAL, h.pread, 512, 100)
expect("unaligned read length", errno.EINVAL, h.pread, 100, 0)
expect("unaligned write", errno.EINVAL, h.pwrite, b"\7" * 1000, 512)
expect("fast zero with no hole", errno.ENOTSUP, h.zero, 4096, 8192,
       nbd.CMD_FLAG_FAST_ZERO | nbd.CMD_FLAG_NO_HOLE)
h.zero(4096, 8192, nbd.CMD_FLAG_FAST_ZERO)        # a hole is fast: fine
if h.pread(8192, 4096) != bytes(8192):
    fail("fast zero did not zero")
h.cache(1 << 20, 0)
h.flush()

def raw():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sock)
    return greet_socket(s)

s = raw()
typ, text = option(s, 5)                          # STARTTLS
if typ != 0x80000002 or text != b"TLS is not enabled on this listener":
    fail("STARTTLS: %x %r" % (typ, text))
typ, text = option(s, 0x4242)
if typ != 0x80000001:
    fail("unknown option: %x %r" % (typ, text))
typ, text = option(s, 7, struct.pack(">I", 4) + b"nope" + struct.pack(">H", 0))
if typ != 0x80000006 or b"nope" not in text:
    fail("GO on a missing export: %x %r" % (typ, text))
typ, text = option(s, 9, struct.pack(">II", 3, 0) + b"err")   # before STRUCTURED_REPLY
if typ != 0x80000003:
    fail("LIST_META_CONTEXT without structured replies: %x" % typ)
typ, text = option(s, 3, b"x")
if typ != 0x80000003:
    fail("LIST with data: %x" % typ)
typ, text = option(s, 3)
names = []
while typ == 2:
    n = struct.unpack(">I", text[:4])[0]
    names.append(text[4:4 + n])
    magic, o, typ, ln = struct.unpack(">QIII", recvall(s, 20))
    text = recvall(s, ln)
if typ != 1:
    fail("LIST did not end with ACK: %x" % typ)
if names != [b"err"]:
    fail("LIST: %r" % names)
s.close()
print("raw handshake: STARTTLS, unknown option, missing export, bad LIST answered")

# garbage during the handshake: disconnected
s = raw()
s.sendall(os.urandom(64))
try:
    while s.recv(4096):
        pass
except (ConnectionResetError, socket.timeout) as e:
    if isinstance(e, socket.timeout):
        fail("garbage option: still connected")
s.close()

# garbage after EXPORT_NAME: disconnected, while h keeps working
s = raw()
s.sendall(b"IHAVEOPT" + struct.pack(">II", 1, 3) + b"err")
hdr = recvall(s, 10)
if struct.unpack(">Q", hdr[:8])[0] != size:
    fail("EXPORT_NAME reply %r" % hdr)
s.sendall(b"\xde\xad\xbe\xef" * 7)
try:
    while s.recv(4096):
        pass
except ConnectionResetError:
    pass
except socket.timeout:
    fail("bad request magic: still connected")
s.close()
h.pwrite(b"\x99" * 65536, 1 << 20)
if h.pread(65536, 1 << 20) != b"\x99" * 65536:
    fail("other client broken after the garbage clients")
print("garbage clients disconnected; the other client kept working")

# a second handle for the request-stream check with the simple (non-structured) replies
h2 = nbd.NBD()
h2.set_strict_mode(0)
h2.set_request_structured_replies(False)
h2.connect_uri(uri)
try:
    h2.pread(512, size)
    fail("simple replies: no error past the end")
except nbd.Error as e:
    if eno(e) != errno.EINVAL:
        fail("simple replies: errno %s" % e.errno)
if h2.pread(65536, 1 << 20) != b"\x99" * 65536:
    fail("simple replies: data")
h2.shutdown()
h.shutdown()
print("simple replies: error reply and data")
PY
grep -q "bad request magic" "$T/envold.log" || fail "envold did not log the bad request magic"
kill -TERM "$ENVOLD_PID"
wait "$ENVOLD_PID" || fail "envold exited $? on SIGTERM"
[ ! -S "$T/run/nbd.sock" ] || fail "envold left its socket behind"
echo "SIGTERM: envold exited 0"
