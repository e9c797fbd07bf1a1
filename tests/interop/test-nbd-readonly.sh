#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-nbd-readonly.sh — read-only exports: a volume created --read-only is exported with
# NBD_FLAG_READ_ONLY and refuses writes, trims and zeroes with EPERM (reads work); an envold
# started with --read-only exports every volume read-only, and two such servers can share a
# volume (shared lock) while a read-write one is refused.
source "$(dirname "$0")/functions.sh"
nbdsh() { $PY -m nbd "$@"; }   # nbdsh with the python that has the nbd module
requires nbdinfo nbdsh jq
$PY -c 'import nbd' 2>/dev/null || { echo "$0: skipped: python3-libnbd missing"; exit 77; }

envol_tmpdir
write_config
start_kmsd
"$BIN/envolctl" -c "$CONF" volume create rw --size 16M >/dev/null
"$BIN/envolctl" -c "$CONF" volume create ro --size 16M --read-only >/dev/null
start_envold
SOCK=$T/run/nbd.sock
nbdsh -u "nbd+unix:///rw?socket=$SOCK" -c 'h.pwrite(b"\x33" * 4096, 0)'

check_ro() { # NAME: read-only flag, EPERM on writes, reads fine
    [ "$(nbdinfo --json "nbd+unix:///$1?socket=$SOCK" | jq -r '.exports[0].is_read_only')" = true ] ||
        fail "$1 not advertised read-only"
    URI="nbd+unix:///$1?socket=$SOCK" $PY - <<'PY' || fail "$1: writes not refused"
import errno, os, sys, nbd
def eno(e):
    return e.errno if isinstance(e.errno, int) or e.errno is None else getattr(errno, e.errno, -1)
h = nbd.NBD()
h.set_strict_mode(0)
h.connect_uri(os.environ["URI"])
for what, fn in (("write", lambda: h.pwrite(b"x" * 512, 0)),
                 ("trim", lambda: h.trim(512, 0)),
                 ("zero", lambda: h.zero(512, 0))):
    try:
        fn()
        sys.exit("%s succeeded" % what)
    except nbd.Error as e:
        if eno(e) != errno.EPERM:
            sys.exit("%s: errno %s" % (what, e.errno))
h.pread(4096, 0)
h.shutdown()
PY
    echo "$1: read-only, writes refused with EPERM"
}
check_ro ro
[ "$(nbdinfo --json "nbd+unix:///rw?socket=$SOCK" | jq -r '.exports[0].is_read_only')" = false ] ||
    fail "rw advertised read-only"

kill -TERM "$ENVOLD_PID"; wait "$ENVOLD_PID" || fail "envold exit $?"
start_envold --read-only
check_ro rw
[ "$(nbdsh -u "nbd+unix:///rw?socket=$SOCK" -c 'print(h.pread(4096, 0) == b"\x33" * 4096)')" = True ] ||
    fail "data written before is not readable read-only"

# while a client holds rw open on the read-only server, a read-write server is refused
holder_open rw "nbd+unix:///rw?socket=$SOCK" || fail "holder: $HOLDER_MSG"   # returns once attached
sed "s|^server: {|server: {\n  socket = \"$T/run/nbd2.sock\";|" "$CONF" >"$T/envol2.conf"
"$BIN/envold" -c "$T/envol2.conf" >"$T/envold2.log" 2>&1 &
pid2=$!
cleanup_fn "kill $pid2 2>/dev/null; wait $pid2 2>/dev/null"
_wait_for_socket "$T/run/nbd2.sock" "$pid2" envold2
# libnbd 1.14 shows the server's error text in its debug output
if LIBNBD_DEBUG=1 nbdinfo "nbd+unix:///rw?socket=$T/run/nbd2.sock" >"$T/second.out" 2>&1; then
    fail "a read-write server attached a volume a read-only server has open"
fi
grep -q "server error message: volume is in use by pid [0-9]* (envold)" "$T/second.out" ||
    fail "refusal does not say in use: $(cat "$T/second.out")"
echo "second, read-write server refused: $(grep -o 'volume is in use[^"]*' "$T/second.out" | head -1)"
holder_close rw

# an orderly stop: drain, flush, wipe keys, exit 0 (a sanitizer report would make it fail)
kill -TERM "$ENVOLD_PID"
wait "$ENVOLD_PID" || fail "envold exited $? on SIGTERM: $(tail -20 "$T/envold.log")"
