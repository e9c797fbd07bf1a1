# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers for the RBD tests that run envol itself (tests/ceph/test-rbd-*.sh), sourced after
# functions.sh and requires_cluster:
#   rbd_config           write_config, then the rbd group for this run's cluster (client
#                        $ENVOL_CEPH_CLIENT, pool $ENVOL_CEPH_POOL) and server.backend = "rbd"
#   start_host_b         a second envold standing in for a second host: its own state and
#                        runtime directories ($T/b), the same cluster and the same KMS (the one
#                        start_kmsd started); sets B_CONF, B_SOCK, ENVOLD_B_PID
#   ctl_b ARGS…          envolctl with host B's configuration
#   image_of NAME        the RBD image of volume NAME: POOL/NAME.vol
#   holder_of NAME       the volume's "attached_by" as envolctl volume show says it ("" if none)
#   blocklisted ADDR     ADDR is in the cluster's blocklist
# Volume names carry the test's pid: every RBD test of a run shares the one pool.

rbd_config() {
    write_config "$@"
    sed -i 's|^server: {|server: {\n  backend = "rbd";|' "$CONF"
    cat >>"$CONF" <<CONF
rbd: {
  ceph_conf = "$CEPH_CONF";
  client_id = "$ENVOL_CEPH_CLIENT";
  pool      = "$ENVOL_CEPH_POOL";
};
CONF
}

start_host_b() {
    local i
    mkdir -p "$T/b/state/volumes" "$T/b/run"
    sed -e "s|^state_dir = .*|state_dir = \"$T/b/state\";|" \
        -e "s|^runtime_dir = .*|runtime_dir = \"$T/b/run\";|" "$CONF" >"$T/b/envol.conf"
    printf 'client: {\n  kms_socket = "%s";\n};\n' "$T/run/kms.sock" >>"$T/b/envol.conf"
    B_CONF=$T/b/envol.conf
    B_SOCK=$T/b/run/nbd.sock
    "$BIN/envold" -c "$B_CONF" >"$T/envold-b.log" 2>&1 &
    ENVOLD_B_PID=$!
    cleanup_fn "kill $ENVOLD_B_PID 2>/dev/null; wait $ENVOLD_B_PID 2>/dev/null"
    _wait_for_socket "$B_SOCK" "$ENVOLD_B_PID" envold-b
}

ctl_b() { "$BIN/envolctl" -c "$B_CONF" "$@"; }

image_of() { echo "$ENVOL_CEPH_POOL/$1.vol"; }

holder_of() { ctl --json volume show "$1" | jq -r '.attached_by // ""'; }

blocklisted() { grep -qF "$1 " <<<"$(ceph_cli osd blocklist ls 2>/dev/null)"; }
