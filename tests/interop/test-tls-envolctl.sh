#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-tls-envolctl.sh — envolctl volume import and export over nbds:// against a remote
# envold (TCP, TLS required, tls_verify_peer): X.509 from --ca/--cert/--tls-key (libnbd gets a
# private directory of links, removed once connected), from client.tls_* in the config, from
# tls-certificates= in the URI, and PSK from tls-psk-file=.  An import over a URI overwrites
# the existing volume, zero blocks included; an export reads it back byte for byte.  Refused: no
# client certificate (exit 1, the TLS error), a CA that did not sign the server's certificate,
# an image larger than the export, and new-volume options with a URI (exit 2).
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/tls-functions.sh"
requires openssl cmp

envol_tmpdir
tls_envold r1 8M
URI="nbds://127.0.0.1:$port/r1"
mkdir -m 700 "$T/tmp"
export TMPDIR=$T/tmp
# the remote side's client: a config of its own, with no local envold or KMS
RCONF=$T/remote.conf
printf 'client: {\n  tls_ca = "%s";\n  tls_cert = "%s";\n  tls_key = "%s";\n};\n' \
    "$C/client" "$C/client/client-cert.pem" "$C/client/client-key.pem" >"$RCONF"
X509=(--ca "$C/client/ca-cert.pem" --cert "$C/client/client-cert.pem" --tls-key "$C/client/client-key.pem")
rctl() { "$BIN/envolctl" -c /dev/null "$@"; }

# 1: fill the whole volume with random bytes over TLS (X.509 from the options)
head -c $((8 << 20)) /dev/urandom >"$T/full.img"
rctl "${X509[@]}" volume import "$T/full.img" "$URI" >"$T/out" || fail "import over nbds://"
grep -q "8388608 bytes written" "$T/out" || { cat "$T/out"; fail "import's answer"; }
grep -q "attach r1: TLS client 'CN=host7,O=example' as principal" "$T/envold.log" ||
    fail "the import's TLS principal is not logged"
[ -z "$(ls -A "$T/tmp")" ] || fail "envolctl left its certificate directory: $(ls -A "$T/tmp")"
rctl "${X509[@]}" volume export "$URI" "$T/back1.img" >/dev/null || fail "export over nbds://"
cmp "$T/full.img" "$T/back1.img" || fail "export differs from the import"
echo "import and export over nbds:// with --ca/--cert/--tls-key: byte for byte"

# 2: a smaller image with a zero MiB in it overwrites all of it (the rest reads as zeros)
{ head -c $((2 << 20)) /dev/urandom; head -c $((1 << 20)) /dev/zero; head -c 123457 /dev/urandom; } \
    >"$T/small.img"
"$BIN/envolctl" -c "$RCONF" volume import "$T/small.img" "$URI" >/dev/null ||
    fail "import over nbds:// with client.tls_* from the config"
cp "$T/small.img" "$T/want.img"
truncate -s 8M "$T/want.img"
rctl volume export "nbds://alice@127.0.0.1:$port/r1?tls-psk-file=$C/psk.keys" "$T/back2.img" \
    >/dev/null || fail "export over nbds:// with a PSK"
cmp "$T/want.img" "$T/back2.img" || fail "import over an existing volume left old bytes"
grep -q "attach r1: TLS client 'alice' as principal" "$T/envold.log" || fail "PSK principal"
rctl volume export "$URI?tls-certificates=$C/client" - | cmp - "$T/want.img" ||
    fail "export to stdout with tls-certificates= in the URI"
echo "import over an existing volume writes its zeros; export with client.tls_*, PSK, tls-certificates="

# ---- refused ----
expect_fail 1 "cannot attach $URI" rctl --ca "$C/client/ca-cert.pem" volume export "$URI" "$T/x.img"
[ ! -e "$T/x.img" ] || fail "a refused export left its file"
expect_fail 1 "cannot attach $URI" rctl --ca "$C/otherca/ca-cert.pem" --cert "$C/otherca/client-cert.pem" \
    --tls-key "$C/otherca/client-key.pem" volume export "$URI" "$T/x.img"
grep -qi "certificate\|verif" "$T/err" || { cat "$T/err"; fail "no TLS reason for the wrong CA"; }
head -c $((9 << 20)) /dev/zero >"$T/big.img"
expect_fail 1 "does not fit in $URI" rctl "${X509[@]}" volume import "$T/big.img" "$URI"
expect_fail 2 "the volume exists already" rctl "${X509[@]}" volume import "$T/small.img" "$URI" --size 8M
expect_fail 1 "a client certificate and its key go together" rctl --ca "$C/client/ca-cert.pem" \
    --cert "$C/client/client-cert.pem" volume export "$URI" "$T/x.img"
[ -z "$(ls -A "$T/tmp")" ] || fail "envolctl left files in TMPDIR: $(ls -A "$T/tmp")"
rctl "${X509[@]}" volume export "$URI" - | cmp - "$T/want.img" || fail "volume changed by a refused import"
echo "refused: no client certificate, another CA, an image too large, new-volume options"
echo OK
