#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-nbd-tcp-listener.sh — envold serves NBD on its Unix socket only unless server.listen is
# set: with no server.listen in the configuration it has no TCP listening socket at all; with
# server.listen set, or a TCP socket passed by systemd, it serves TCP (a plaintext client sees
# the exports and is refused their attach: it has no client identity) and logs, at every start,
# a warning that such clients have no encryption and no identity (they list, never attach).
source "$(dirname "$0")/functions.sh"
requires nbdinfo

envol_tmpdir
write_config
# the configuration says nothing about server.listen: the built-in default applies
sed -i '/^server: {/,/^};/d' "$CONF"
! grep -q "^server" "$CONF" || fail "could not drop the server group from $CONF"
start_kmsd
ctl volume create tcpcheck --size 8M >/dev/null

# tcp_listeners PID — the TCP ports PID listens on (from /proc: its socket inodes in LISTEN state)
tcp_listeners() {
    $PY - "$1" <<'PY'
import os, sys
pid = sys.argv[1]
inodes = set()
for fd in os.listdir(f"/proc/{pid}/fd"):
    try:
        t = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        continue
    if t.startswith("socket:["):
        inodes.add(t[8:-1])
for table in ("tcp", "tcp6"):
    with open(f"/proc/{pid}/net/{table}") as f:
        next(f)
        for line in f:
            p = line.split()
            if p[3] == "0A" and p[9] in inodes:          # 0A: TCP_LISTEN
                print(int(p[1].rsplit(":", 1)[1], 16))
PY
}
WARNING="without TLS: no encryption and no client identity, so anyone who can reach it lists the volumes and none can attach one"

# ---- default: Unix socket only ----
start_envold
[ "$(nbdinfo --size "nbd+unix:///tcpcheck?socket=$T/run/nbd.sock")" = 8388608 ] ||
    fail "no export on the Unix socket"
ports=$(tcp_listeners "$ENVOLD_PID")
[ -z "$ports" ] || fail "envold listens on TCP port(s) $ports with the default configuration"
! grep -q "$WARNING" "$T/envold.log" || fail "TCP warning without a TCP listener"
echo "default configuration: no TCP listener"
attach_stop_daemon "$ENVOLD_PID" envold

# ---- server.listen set: TCP served, and the warning logged ----
port=$(free_port)
printf 'server: {\n  listen = "127.0.0.1:%s";\n  allow_plain_tcp = true;\n};\n' "$port" >>"$CONF"
start_envold
[ "$(tcp_listeners "$ENVOLD_PID")" = "$port" ] || fail "no TCP listener on $port"
# a plain TCP client has no identity: the export is listed, its attach refused
plain_tcp_serves "127.0.0.1:$port" tcpcheck || fail "no export over TCP: $REFUSAL"
grep "warning" "$T/envold.log" | grep -qF "NBD over TCP on 127.0.0.1:$port $WARNING" ||
    { cat "$T/envold.log"; fail "no warning about the TCP listener"; }
echo "server.listen: $(grep -F "$WARNING" "$T/envold.log")"
attach_stop_daemon "$ENVOLD_PID" envold

# ---- a TCP socket passed by systemd: the same warning ----
if command -v systemd-socket-activate >/dev/null; then
    sed -i '/^server: {/,/^};/d' "$CONF"
    printf 'server: {\n  allow_plain_tcp = true;\n};\n' >>"$CONF"
    port=$(free_port)
    systemd-socket-activate -l "127.0.0.1:$port" "$BIN/envold" -c "$CONF" \
        >"$T/activated.log" 2>&1 &
    apid=$!
    cleanup_fn "kill $apid 2>/dev/null; wait $apid 2>/dev/null"
    for ((i = 0; i < 100; i++)); do
        plain_tcp_serves "127.0.0.1:$port" tcpcheck && break
        kill -0 "$apid" 2>/dev/null || { cat "$T/activated.log"; fail "activated envold exited"; }
        sleep 0.1
    done
    plain_tcp_serves "127.0.0.1:$port" tcpcheck ||
        fail "no export on the TCP socket passed by systemd"
    grep -qF "NBD over TCP on a socket passed by systemd $WARNING" "$T/activated.log" ||
        { cat "$T/activated.log"; fail "no warning about the passed TCP socket"; }
    kill -TERM "$apid"
    wait "$apid" || fail "activated envold exited $? on SIGTERM"
    echo "socket activation on TCP: warned"
fi
echo OK
