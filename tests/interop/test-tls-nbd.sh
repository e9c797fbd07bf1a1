#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-tls-nbd.sh — NBD over TLS: envold with server.tls = "require", X.509 (tls_verify_peer)
# and PSK, certificates made now by make-certs.sh.  libnbd's nbdinfo over nbds:// and
# nbds+unix:// with tls-certificates, and over nbds:// with tls-psk-file; the mapped principal
# logged at attach.  Refused: a plaintext client, a client trusting another CA, an expired, a
# revoked or a missing client certificate, an unknown PSK user, a client whose identity is not
# in server.tls_identities (with the reason on the wire).  A raw client: options before
# STARTTLS get NBD_REP_ERR_TLS_REQD, STARTTLS twice gets NBD_REP_ERR_INVALID.  A TCP listener
# without TLS refuses to start unless server.allow_plain_tcp = true.
source "$(dirname "$0")/functions.sh"
requires nbdinfo openssl

envol_tmpdir
C=$T/certs
bash "$ENVOL_SOURCE_DIR/tests/interop/make-certs.sh" "$C"
write_config
# the mapped principals may attach through envold (kms:CreateGrant via envold)
allow_attach_by arn:aws:iam::000000000000:role/host7 arn:aws:iam::000000000000:role/host8 arn:aws:iam::000000000000:role/alice
start_kmsd
ctl volume create v1 --size 8M >/dev/null
port=$(free_port)
# client2 (CN=host8) is mapped by its certificate's SHA-256 fingerprint
FPR=$(openssl x509 -in "$C/client2/client-cert.pem" -outform DER | sha256sum | cut -d' ' -f1)

tls_config() { # extra server settings…
    sed -i '/^server: {/,/^};/d' "$CONF"
    cat >>"$CONF" <<EOF
server: {
  listen = "127.0.0.1:$port";
  tls = "require";
  tls_certificates = "$C/server";
  tls_verify_peer = true;
  tls_psk_file = "$C/psk.keys";
  tls_identities = (
    { match = "CN=host7,O=example"; principal = "arn:aws:iam::000000000000:role/host7"; },
    { match = "sha256:$FPR"; principal = "arn:aws:iam::000000000000:role/host8"; },
    { match = "alice"; principal = "arn:aws:iam::000000000000:role/alice"; } );
  $*
};
EOF
}

# ---- a TCP listener refuses to start without TLS unless allow_plain_tcp ----
sed -i '/^server: {/,/^};/d' "$CONF"
printf 'server: {\n  listen = "127.0.0.1:%s";\n};\n' "$port" >>"$CONF"
! "$BIN/envold" -c "$CONF" >"$T/plain.log" 2>&1 || fail "envold served plain TCP"
grep -q "without TLS required: set server.tls_certificates or server.tls_psk_file, or server.allow_plain_tcp = true" \
    "$T/plain.log" || { cat "$T/plain.log"; fail "no reason for refusing plain TCP"; }
echo "plain TCP without allow_plain_tcp: refused to start"

tls_config
start_envold
TCP="nbds://127.0.0.1:$port/v1"
UNIX="nbds+unix:///v1?socket=$T/run/nbd.sock"

# ---- the good clients ----
[ "$(nbdinfo --size "$TCP?tls-certificates=$C/client")" = 8388608 ] || fail "X.509 over TCP"
grep -q "attach v1: TLS client 'CN=host7,O=example' as principal arn:aws:iam::000000000000:role/host7" \
    "$T/envold.log" || { cat "$T/envold.log"; fail "principal not logged at attach"; }
[ "$(nbdinfo --size "$UNIX&tls-certificates=$C/client")" = 8388608 ] || fail "X.509 over Unix"
[ "$(nbdinfo --size "$TCP?tls-certificates=$C/client2")" = 8388608 ] ||
    fail "X.509 matched by fingerprint"
grep -q "as principal arn:aws:iam::000000000000:role/host8" "$T/envold.log" ||
    fail "fingerprint identity not logged"
[ "$(nbdinfo --size "nbds://alice@127.0.0.1:$port/v1?tls-psk-file=$C/psk.keys")" = 8388608 ] ||
    fail "PSK"
grep -q "attach v1: TLS client 'alice' as principal arn:aws:iam::000000000000:role/alice" \
    "$T/envold.log" || fail "PSK principal not logged"
nbdinfo --list "nbds://127.0.0.1:$port/?tls-certificates=$C/client" | grep -q "export=.*v1\|v1" ||
    fail "LIST over TLS"
echo "X.509 (TCP, Unix, by subject and fingerprint) and PSK: served, principals logged"

# ---- refused ----
refused() { # WHAT URI [grep pattern in envold.log]
    local what=$1 uri=$2 pat=${3:-}
    if nbdinfo --size "$uri" >"$T/out" 2>&1; then fail "$what: served"; fi
    if [ -n "$pat" ]; then
        wait_until 5 "envold logs: $pat" grep -q "$pat" "$T/envold.log"
    fi
    echo "$what: refused ($(tail -1 "$T/out" | cut -c1-100))"
}
refused "plaintext client" "nbd://127.0.0.1:$port/v1"
grep -q "TLS is required\|TLS_REQD\|requires TLS" "$T/out" || { cat "$T/out"; fail "no TLS_REQD"; }
refused "wrong CA" "$TCP?tls-certificates=$C/otherca"
refused "expired client certificate" "$TCP?tls-certificates=$C/expired" "expired certificate"
refused "revoked client certificate" "$TCP?tls-certificates=$C/revoked" "chain is revoked"
mkdir "$C/nocert" && cp "$C/client/ca-cert.pem" "$C/nocert/"
refused "no client certificate" "$TCP?tls-certificates=$C/nocert" "NBD client refused"
printf 'mallory:%s\n' "$(openssl rand -hex 32)" >"$C/mallory.keys"
refused "unknown PSK user" "nbds://mallory@127.0.0.1:$port/v1?tls-psk-file=$C/mallory.keys"
printf 'bob:%s\n' "$(openssl rand -hex 32)" >"$C/bob-wrong.keys"
refused "PSK with the wrong key" "nbds://bob@127.0.0.1:$port/v1?tls-psk-file=$C/bob-wrong.keys"
# bob's key is right but bob has no principal: TLS is up, the reason comes over the wire
refused "unmapped PSK user" "nbds://bob@127.0.0.1:$port/v1?tls-psk-file=$C/psk.keys" \
    "TLS client identity 'bob' is not mapped"
# libnbd shows the server's text in its debug output
! LIBNBD_DEBUG=1 nbdinfo --size "nbds://bob@127.0.0.1:$port/v1?tls-psk-file=$C/psk.keys" \
    >"$T/out" 2>&1 || fail "bob served"
grep -q "TLS client identity 'bob' is not mapped to a principal" "$T/out" ||
    { tail -20 "$T/out"; fail "no reason sent to bob"; }

# ---- a raw client: options before STARTTLS, STARTTLS twice ----
PYTHONPATH=$ENVOL_SOURCE_DIR/tests/interop $PY - "$port" "$C" <<'PY'
import socket, ssl, struct, sys
from nbd_raw import fail, greet_socket, option
port, certs = int(sys.argv[1]), sys.argv[2]
s = greet_socket(socket.create_connection(("127.0.0.1", port)))
go = struct.pack(">I", 2) + b"v1" + struct.pack(">H", 0)
for opt, data in ((3, b""), (6, go), (7, go), (8, b"")):   # LIST INFO GO STRUCTURED_REPLY
    typ, text = option(s, opt, data)
    if typ != 0x80000005 or b"v1" in text:   # NBD_REP_ERR_TLS_REQD, no export name
        fail("option %d before STARTTLS: %x %r" % (opt, typ, text))
typ, _ = option(s, 5)
if typ != 1:
    fail("STARTTLS: %x" % typ)
ctx = ssl.create_default_context(cafile=certs + "/client/ca-cert.pem")
ctx.load_cert_chain(certs + "/client/client-cert.pem", certs + "/client/client-key.pem")
t = ctx.wrap_socket(s, server_hostname="localhost")
typ, text = option(t, 5)
if typ != 0x80000003:                    # NBD_REP_ERR_INVALID
    fail("STARTTLS twice: %x %r" % (typ, text))
typ, text = option(t, 3)
if typ != 2 or b"v1" not in text:
    fail("LIST over TLS: %x %r" % (typ, text))
print("raw: LIST/INFO/GO/STRUCTURED_REPLY before STARTTLS -> TLS_REQD, STARTTLS twice -> INVALID")
PY

# ---- SIGHUP reloads the credentials (a broken directory keeps the old ones) ----
kill -HUP "$ENVOLD_PID"
wait_until 5 "reload logged" grep -q "SIGHUP: TLS credentials reloaded" "$T/envold.log"
[ "$(nbdinfo --size "$TCP?tls-certificates=$C/client")" = 8388608 ] || fail "after SIGHUP"
mv "$C/server/server-key.pem" "$C/server/server-key.pem.away"
kill -HUP "$ENVOLD_PID"
wait_until 5 "failed reload logged" grep -q "SIGHUP: TLS credentials not reloaded" "$T/envold.log"
[ "$(nbdinfo --size "$TCP?tls-certificates=$C/client")" = 8388608 ] ||
    fail "old credentials dropped by a failed reload"
mv "$C/server/server-key.pem.away" "$C/server/server-key.pem"
echo "SIGHUP: reloaded; a failed reload keeps the old credentials"
! grep -qi "secret\|CLIENT_RANDOM\|TRAFFIC_SECRET" "$T/envold.log" || fail "key material logged"
echo OK
