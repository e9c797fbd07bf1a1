# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers for the TLS tests that talk to a remote-style envold (tests/interop/test-tls-*.sh),
# sourced after functions.sh:
#   tls_envold NAME SIZE [MODE]  certificates in $C (make-certs.sh), envol-kmsd, volume NAME of
#                          SIZE, and envold on 127.0.0.1:$port with server.tls = MODE (default
#                          "require"; "" leaves it unset, which is require on TCP): X.509 with
#                          tls_verify_peer and PSK ($C/psk.keys), CN=host7,O=example mapped to
#                          role/host7 and the PSK user alice to role/alice
#   libnbd_home            $H: a HOME of nobody's own holding .pki/libnbd/ (the client
#                          certificate of CN=host7), where libnbd looks when a program (nbdfuse,
#                          fio) cannot be given a certificate directory; libnbd checks it with
#                          access(2), so it must be readable by the real user

tls_envold() {
    local mode=${3-require}
    C=$T/certs
    bash "$ENVOL_SOURCE_DIR/tests/interop/make-certs.sh" "$C"
    write_config
    # the mapped principals may attach through envold (kms:CreateGrant via envold)
    allow_attach_by arn:aws:iam::000000000000:role/host7 arn:aws:iam::000000000000:role/alice
    start_kmsd
    ctl volume create "$1" --size "$2" >/dev/null
    port=$(free_port)
    sed -i '/^server: {/,/^};/d' "$CONF"
    cat >>"$CONF" <<EOC
server: {
  listen = "127.0.0.1:$port";${mode:+
  tls = \"$mode\";}
  tls_certificates = "$C/server";
  tls_verify_peer = true;
  tls_psk_file = "$C/psk.keys";
  tls_identities = (
    { match = "CN=host7,O=example"; principal = "arn:aws:iam::000000000000:role/host7"; },
    { match = "alice"; principal = "arn:aws:iam::000000000000:role/alice"; } );
};
EOC
    start_envold
}

libnbd_home() {
    H=$(mktemp -d /tmp/envol-libnbd-home.XXXXXX)
    cleanup_fn "rm -rf '$H'"
    mkdir -p "$H/.pki"
    cp -r "$C/client" "$H/.pki/libnbd"
    chown -R nobody "$H"
}
