#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-listen-socket.sh — the Unix socket path of both daemons (daemon/common/listen.c): a
# regular file at server.socket or kms.socket makes envold / envol-kmsd refuse to start, saying
# why, and the file is left as it was; a stale socket (its daemon died) is replaced and served.
source "$(dirname "$0")/functions.sh"

envol_tmpdir
write_config

# refuse PROGRAM SOCKET SETTING: a regular file at SOCKET stops PROGRAM, untouched.
refuse() {
    local prog=$1 sock=$2 setting=$3 sum rc=0
    printf 'precious data, not a socket\n' >"$sock"
    sum=$(sha256sum <"$sock")
    timeout 30 "$BIN/$prog" -c "$CONF" >"$T/$prog.log" 2>&1 || rc=$?
    [ "$rc" -ne 0 ] || fail "$prog started with a regular file at $setting"
    [ "$rc" -ne 124 ] || fail "$prog did not exit (timeout) with a regular file at $setting"
    grep -q "$setting \"$sock\" exists and is not a socket" "$T/$prog.log" ||
        { cat "$T/$prog.log"; fail "$prog did not say why it refused"; }
    [ -f "$sock" ] && [ ! -S "$sock" ] || fail "$prog removed or replaced the file at $setting"
    [ "$(sha256sum <"$sock")" = "$sum" ] || fail "$prog changed the file at $setting"
    rm -f "$sock"
    echo "$prog: refuses a regular file at $setting and leaves it intact (exit $rc)"
}
refuse envold "$T/run/nbd.sock" server.socket
refuse envol-kmsd "$T/run/kms.sock" kms.socket

# stale: a socket file nobody listens on any more, as a killed daemon leaves it
stale() {
    $PY -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$1"
    [ -S "$1" ] || fail "could not make a stale socket at $1"
}
stale "$T/run/kms.sock"
start_kmsd
stale "$T/run/nbd.sock"
start_envold
ctl volume create stale --size 4M >/dev/null
if command -v nbdinfo >/dev/null; then
    [ "$(nbdinfo --size "nbd+unix:///stale?socket=$T/run/nbd.sock")" = 4194304 ] ||
        fail "envold does not serve on the socket that replaced the stale one"
fi
echo "both daemons replace a stale socket and serve on it"
