#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-tls-clients.sh — other NBD clients against envold with TLS required on TCP: qemu-io
# over tls-creds-x509 and tls-creds-psk (patterns written in one connection read back in the
# next), and nbd-client's list mode with -certfile/-keyfile/-cacertfile.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/tls-functions.sh"
requires qemu-io openssl

envol_tmpdir
tls_envold t1 64M ""
# server.tls unset: require on TCP
! nbdinfo --size "nbd://127.0.0.1:$port/t1" >/dev/null 2>&1 || fail "plaintext served on TCP"

# ---- qemu-io: X.509 and PSK ----
qio() { # OBJECT ARGS…
    local obj=$1 out
    shift
    out=$(qemu-io --object "$obj" --image-opts \
        "driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=$port,export=t1,tls-creds=tls0" \
        "$@" 2>&1) || { echo "$out" >&2; fail "qemu-io $*"; }
    if echo "$out" | grep -qiE 'Pattern verification failed|error|failed'; then
        echo "$out" >&2
        fail "qemu-io $* reported a failure"
    fi
}
X509="tls-creds-x509,id=tls0,endpoint=client,dir=$C/client"
mkdir "$C/qpsk" && cp "$C/psk.keys" "$C/qpsk/keys.psk"
PSK="tls-creds-psk,id=tls0,endpoint=client,dir=$C/qpsk,username=alice"
qio "$X509" -c 'write -P 0x5a 0 1M' -c 'write -P 0xc3 4097 12345'
qio "$PSK" -c 'read -P 0x5a 0 4097' -c 'read -P 0xc3 4097 12345' -c 'write -P 0x77 2M 64k'
qio "$X509" -c 'read -P 0x77 2M 64k'
grep -q "TLS client 'CN=host7,O=example' as principal" "$T/envold.log" || fail "qemu X.509 principal"
grep -q "TLS client 'alice' as principal" "$T/envold.log" || fail "qemu PSK principal"
echo "qemu-io: X.509 and PSK round-trip patterns"

# ---- nbd-client's list mode over TLS ----
if command -v nbd-client >/dev/null; then
    out=$(timeout 20 nbd-client -l 127.0.0.1 "$port" -certfile "$C/client/client-cert.pem" \
        -keyfile "$C/client/client-key.pem" -cacertfile "$C/client/ca-cert.pem" \
        -tlshostname localhost 2>&1) || true
    if echo "$out" | grep -q "^t1"; then
        echo "nbd-client -l over TLS: $(echo "$out" | grep '^t1' | cut -c1-60)"
    else
        echo "$out" >&2
        fail "nbd-client -l over TLS did not list t1"
    fi
fi

echo OK
