#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# make-certs.sh DIR — test certificates made at test time with openssl, in the directory layout
# nbdkit, libnbd and qemu use (ca-cert.pem, server-cert.pem, server-key.pem, ca-crl.pem,
# client-cert.pem, client-key.pem):
#   DIR/server/    envold's and envol-kmsd's tls_certificates: the CA, a server certificate
#                  for localhost and 127.0.0.1, and the CA's CRL (revoking DIR/revoked's cert)
#   DIR/client/    libnbd/qemu client directory: the CA, client "CN=host7,O=example"
#   DIR/client2/   a second good client, "CN=host8,O=example" (not mapped by the tests)
#   DIR/revoked/   a client certificate the CRL revokes
#   DIR/expired/   a client certificate that expired in 2020
#   DIR/otherca/   a client directory trusting another CA (and its own client certificate)
#   DIR/psk.keys   psktool format: alice and bob with random 256-bit keys
# Also DIR/client/fingerprint: the SHA-256 fingerprint of DIR/client/client-cert.pem (hex).
set -euo pipefail

D=${1:?usage: make-certs.sh DIR}
mkdir -p "$D"
D=$(cd "$D" && pwd)
W="$D/.ca"
mkdir -p "$W" "$D/server" "$D/client" "$D/client2" "$D/revoked" "$D/expired" "$D/otherca"
: >"$W/index.txt"
echo 1000 >"$W/serial"
echo 1000 >"$W/crlnumber"
cat >"$W/ca.cnf" <<EOF
[ ca ]
default_ca = testca
[ testca ]
dir = $W
database = $W/index.txt
serial = $W/serial
crlnumber = $W/crlnumber
new_certs_dir = $W
default_md = sha256
policy = anything
unique_subject = no
preserve = yes
copy_extensions = copy
default_crl_days = 30
[ anything ]
organizationName = optional
commonName = supplied
[ server_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
[ client_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
EOF

ca_cert() { # NAME SUBJECT — a self-signed CA in $W/NAME-{key,cert}.pem
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
        -subj "$2" -keyout "$W/$1-key.pem" -out "$W/$1-cert.pem" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

issue() { # CA OUT-KEY OUT-CERT SUBJECT EXT [openssl ca date options…]
    local ca=$1 key=$2 cert=$3 subj=$4 ext=$5
    shift 5
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$subj" \
        -keyout "$key" -out "$W/req.pem" 2>/dev/null
    openssl ca -batch -config "$W/ca.cnf" -cert "$W/$ca-cert.pem" -keyfile "$W/$ca-key.pem" \
        -extensions "$ext" -notext -in "$W/req.pem" -out "$cert" "$@" 2>/dev/null
}

ca_cert ca "/O=example/CN=envol test CA"
ca_cert other "/O=elsewhere/CN=another CA"

issue ca "$D/server/server-key.pem" "$D/server/server-cert.pem" "/O=example/CN=localhost" \
    server_ext -days 365
issue ca "$D/client/client-key.pem" "$D/client/client-cert.pem" "/O=example/CN=host7" \
    client_ext -days 365
issue ca "$D/client2/client-key.pem" "$D/client2/client-cert.pem" "/O=example/CN=host8" \
    client_ext -days 365
issue ca "$D/revoked/client-key.pem" "$D/revoked/client-cert.pem" "/O=example/CN=revoked" \
    client_ext -days 365
issue ca "$D/expired/client-key.pem" "$D/expired/client-cert.pem" "/O=example/CN=expired" \
    client_ext -startdate 20200101000000Z -enddate 20200102000000Z
issue other "$D/otherca/client-key.pem" "$D/otherca/client-cert.pem" "/O=elsewhere/CN=host7" \
    client_ext -days 365

openssl ca -config "$W/ca.cnf" -cert "$W/ca-cert.pem" -keyfile "$W/ca-key.pem" \
    -revoke "$D/revoked/client-cert.pem" 2>/dev/null
openssl ca -config "$W/ca.cnf" -cert "$W/ca-cert.pem" -keyfile "$W/ca-key.pem" -gencrl \
    -out "$D/server/ca-crl.pem" 2>/dev/null

for d in server client client2 revoked expired; do cp "$W/ca-cert.pem" "$D/$d/ca-cert.pem"; done
cp "$W/other-cert.pem" "$D/otherca/ca-cert.pem"
openssl x509 -in "$D/client/client-cert.pem" -outform DER | sha256sum | cut -d' ' -f1 \
    >"$D/client/fingerprint"
{
    echo "alice:$(openssl rand -hex 32)"
    echo "bob:$(openssl rand -hex 32)"
} >"$D/psk.keys"
chmod 600 "$D"/*/*-key.pem "$D/psk.keys"
