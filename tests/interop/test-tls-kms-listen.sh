#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-tls-kms-listen.sh — kms.listen beyond loopback, by envold's rule for server.listen: any
# address serves HTTPS with kms.tls_certificates; without it envol-kmsd refuses to start (before
# binding) unless kms.allow_plain_http = true, and then warns that data keys cross the network
# in the clear.  Served: 0.0.0.0 and this host's own non-loopback address, reached over that
# address (or 127.0.0.1 for 0.0.0.0) with curl --aws-sigv4 and the test CA, --resolve keeping
# the certificate's name, localhost; plain HTTP gets no answer there.
source "$(dirname "$0")/functions.sh"
requires openssl curl jq ip

envol_tmpdir
C=$T/certs
bash "$ENVOL_SOURCE_DIR/tests/interop/make-certs.sh" "$C"
PORT=$(free_port)
write_config "0.0.0.0:$PORT"
# a non-loopback IPv4 address of this host, if it has one
ADDR=$(ip -4 -o addr show scope global | awk '{ sub("/.*", "", $4); print $4; exit }')

kmsd_try() { # LOG — envol-kmsd with $CONF in the foreground; must exit non-zero
    local rc=0
    "$BIN/envol-kmsd" -c "$CONF" >"$1" 2>&1 || rc=$?
    [ "$rc" -ne 0 ] || fail "envol-kmsd started: $(cat "$1")"
}
set_kms() { # LISTEN TLS-LINE PLAIN-LINE — rewrite kms.listen, tls_certificates, allow_plain_http
    sed -i "/^kms: {/,/^};/{ /^  tls_certificates = /d; /^  allow_plain_http = /d; s|^  listen = \".*\";|  listen = \"$1\";\n$2\n$3|; }" "$CONF"
}

# ---- without TLS and without allow_plain_http: refused before binding ----
for a in "0.0.0.0:$PORT" "[::]:$PORT" ${ADDR:+"$ADDR:$PORT"}; do
    set_kms "$a" "" "  allow_plain_http = false;"
    kmsd_try "$T/plain.log"
    grep -qF "kms.listen \"$a\": a TCP listener without TLS: set kms.tls_certificates, or kms.allow_plain_http = true" \
        "$T/plain.log" || { cat "$T/plain.log"; fail "reason for refusing plain HTTP on $a"; }
done
echo "plain HTTP beyond loopback without allow_plain_http: refused"

sig() { # URL [curl options…] — ListKeys with curl's SigV4 signer
    local url=$1
    shift
    curl -sS --max-time 10 --aws-sigv4 "aws:amz:local:kms" --user "$ACCESS_KEY:$SECRET_KEY" \
        -H 'Content-Type: application/x-amz-json-1.1' -H "X-Amz-Target: TrentService.ListKeys" \
        --data-binary '{}' "$@" "$url"
}
stop_kmsd() { kill "$KMSD_PID"; wait "$KMSD_PID" || fail "envol-kmsd exit status"; rm -f "$T/run/kms.sock"; }

# ---- allow_plain_http on 0.0.0.0: served, with the network warning ----
set_kms "0.0.0.0:$PORT" "" "  allow_plain_http = true;"
start_kmsd
grep -q "plain HTTP over TCP beyond loopback (kms.allow_plain_http = true): anyone on the network path reads the data keys" \
    "$T/kmsd.log" || { cat "$T/kmsd.log"; fail "no warning for plain HTTP beyond loopback"; }
wait_until 10 "plain HTTP answers on 0.0.0.0" eval 'sig "http://127.0.0.1:$PORT/" | jq -e .Keys >/dev/null'
if [ -n "$ADDR" ]; then
    sig "http://$ADDR:$PORT/" | jq -e .Keys >/dev/null || fail "plain HTTP over $ADDR"
fi
stop_kmsd
echo "allow_plain_http = true on 0.0.0.0: served, with a warning"

# ---- HTTPS on 0.0.0.0 and on the host's own address ----
for a in "0.0.0.0:$PORT" ${ADDR:+"$ADDR:$PORT"}; do
    set_kms "$a" "  tls_certificates = \"$C/server\";" "  allow_plain_http = false;"
    start_kmsd
    ! grep -q "plain HTTP" "$T/kmsd.log" || fail "a plain HTTP warning with TLS on $a"
    host=${a%:*}
    [ "$host" = 0.0.0.0 ] && host=127.0.0.1
    wait_until 10 "HTTPS answers on $a" eval \
        'sig "https://localhost:$PORT/" --cacert "$C/server/ca-cert.pem" --resolve "localhost:$PORT:$host" | jq -e .Keys >/dev/null'
    if curl -sS --max-time 5 -o /dev/null "http://$host:$PORT/" 2>/dev/null; then
        fail "plain HTTP answered on the HTTPS listener $a"
    fi
    echo "HTTPS on $a: served over $host"
    stop_kmsd
done
echo OK
