# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers sourced by tests/ceph/test-*.sh, on top of tests/interop/functions.sh (requires,
# cleanup_fn, fail, envol_tmpdir, start_kmsd, start_envold, ctl…):
#   requires_cluster     exit 77 (skip) unless this run's test cluster is up; then exports
#                        CEPH_CONF, ENVOL_CEPH_POOL and ENVOL_CEPH_CLIENT (from its env file)
#   rbd_cli ARGS…        the rbd CLI as the envol client key, at most 5 minutes
#   rados_cli ARGS…      the rados CLI as the envol client key, at most 5 minutes
#   ceph_cli ARGS…       the ceph CLI as the envol client key, at most 1 minute
#   ceph_admin ARGS…     the ceph CLI as client.admin (for what a test sets up or checks from
#                        outside envol's rights), at most 1 minute
# ctest sets ENVOL_CEPH_DIR to the cluster's directory (tests/ceph/CMakeLists.txt).
source "$(dirname "${BASH_SOURCE[0]}")/../interop/functions.sh"

requires_cluster() {
    requires ceph rbd rados timeout
    : "${ENVOL_CEPH_DIR:?run through ctest, or set ENVOL_CEPH_DIR to a cluster.sh directory}"
    if [ ! -f "$ENVOL_CEPH_DIR/env" ]; then
        echo "$0: skipped: no test cluster in $ENVOL_CEPH_DIR"
        exit 77
    fi
    set -a
    source "$ENVOL_CEPH_DIR/env"
    set +a
}

rbd_cli() { timeout 300 rbd --id "$ENVOL_CEPH_CLIENT" "$@"; }
rados_cli() { timeout 300 rados --id "$ENVOL_CEPH_CLIENT" "$@"; }
ceph_cli() { timeout 60 ceph --id "$ENVOL_CEPH_CLIENT" "$@"; }
ceph_admin() { timeout 60 ceph --id admin "$@"; }
