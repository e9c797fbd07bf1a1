# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers sourced by tests/interop/test-*.sh (in the manner of nbdkit's tests/functions.sh).
#   requires CMD…        exit 77 (skip) unless every command exists
#   cleanup_fn CMD…      run CMD at exit, last registered first
#   envol_tmpdir         make $T, a temporary state dir removed at exit
#   write_config         write $T/envol.conf (state and runtime under $T); extra libconfig text
#                        from stdin is appended inside the kms {} group when KMS_EXTRA is set
#   start_kmsd           start envol-kmsd on $T/run/kms.sock, wait until it answers
#   start_envold         start envold on $T/run/nbd.sock, wait for the socket
# Binaries come from $ENVOL_BUILD_DIR/bin (ctest sets it).
set -euo pipefail

: "${ENVOL_BUILD_DIR:?run through ctest, or set ENVOL_BUILD_DIR}"
: "${ENVOL_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
BIN=$ENVOL_BUILD_DIR/bin
PY=/usr/bin/python3     # Debian's python, which has python3-cryptography and boto3
AWS=/usr/bin/aws        # Debian's aws CLI v2

_cleanups=()
cleanup_fn() { _cleanups+=("$*"); }
_run_cleanups() {
    local rc=$? i
    for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do eval "${_cleanups[$i]}" || true; done
    exit $rc
}
trap _run_cleanups EXIT

requires() {
    local c
    for c in "$@"; do
        if ! command -v "$c" >/dev/null 2>&1; then
            echo "$0: skipped: $c is not installed"; exit 77
        fi
    done
}

fail() { echo "FAIL: $*" >&2; exit 1; }

envol_tmpdir() {
    T=$(mktemp -d /tmp/envol-test.XXXXXX)
    mkdir -p "$T/state/volumes" "$T/run"
    cleanup_fn "rm -rf '$T'"
    export ENVOL_TEST_CLOCK_FILE=$T/clock-offset
    echo 0 >"$ENVOL_TEST_CLOCK_FILE"
}

# A free TCP port on 127.0.0.1.
free_port() {
    $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# write_config [KMS_LISTEN] — envol.conf for this test.  Admin = root (we run as root) and the
# access key pair used with the aws CLI over TCP.
write_config() {
    local kms_listen=${1:-}
    ACCESS_KEY=AKIDENVOLTEST0000001
    SECRET_KEY=envol-test-secret-key-0000000000000000000
    cat >"$T/envol.conf" <<CONF
state_dir = "$T/state";
runtime_dir = "$T/run";
kms: {
  listen = "$kms_listen";
  admins = [ "arn:aws:iam::000000000000:user/root", "arn:aws:iam::000000000000:user/alice" ];
  services = [ "arn:aws:iam::000000000000:user/envol" ];
  credentials = ( { access_key_id = "$ACCESS_KEY"; secret_access_key = "$SECRET_KEY";
                    principal = "arn:aws:iam::000000000000:user/alice"; } );
};
server: {
  listen = "";
};
CONF
    CONF=$T/envol.conf
}

_wait_for_socket() {
    local sock=$1 pid=$2 what=$3 i
    for ((i = 0; i < 100; i++)); do
        [ -S "$sock" ] && return 0
        kill -0 "$pid" 2>/dev/null || { cat "$T/$what.log" >&2; fail "$what exited during start"; }
        sleep 0.1
    done
    cat "$T/$what.log" >&2
    fail "$what did not create $sock"
}

start_kmsd() {
    "$BIN/envol-kmsd" -c "$CONF" "$@" >"$T/kmsd.log" 2>&1 &
    KMSD_PID=$!
    cleanup_fn "kill $KMSD_PID 2>/dev/null; wait $KMSD_PID 2>/dev/null"
    _wait_for_socket "$T/run/kms.sock" "$KMSD_PID" kmsd
}

start_envold() {
    "$BIN/envold" -c "$CONF" "$@" >"$T/envold.log" 2>&1 &
    ENVOLD_PID=$!
    cleanup_fn "kill $ENVOLD_PID 2>/dev/null; wait $ENVOLD_PID 2>/dev/null"
    _wait_for_socket "$T/run/nbd.sock" "$ENVOLD_PID" envold
}

# aws_kms ARGS… — the real aws CLI against envol-kmsd's TCP listener (SigV4).
aws_kms() {
    AWS_ACCESS_KEY_ID=$ACCESS_KEY AWS_SECRET_ACCESS_KEY=$SECRET_KEY AWS_DEFAULT_REGION=local \
        AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
        $AWS --endpoint-url "http://$KMS_LISTEN" kms "$@"
}
