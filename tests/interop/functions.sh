# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers sourced by tests/interop/test-*.sh (in the manner of nbdkit's tests/functions.sh).
#   requires CMD…        exit 77 (skip) unless every command exists
#   wait_until SECS WHAT CMD…  poll CMD until it succeeds, fail after SECS
#   cleanup_fn CMD…      run CMD at exit, last registered first
#   envol_tmpdir         make $T, a temporary state dir removed at exit
#   write_config         write $T/envol.conf (state and runtime under $T)
#   allow_attach_by P…   before start_kmsd: identity policies letting principals P… attach
#                        volumes through envold (kms:CreateGrant via envold)
#   start_kmsd           start envol-kmsd on $T/run/kms.sock, wait until it answers
#   use_test_clock       start_kmsd then runs the test-only envol-kmsd-testclock, whose clock
#                        is moved by writing seconds to $ENVOL_TEST_CLOCK_FILE
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

# wait_until SECONDS WHAT CMD… — run CMD every 0.05 s until it succeeds; fail saying that WHAT
# did not happen once SECONDS (a fraction is fine) have passed.  Tests wait on a real signal
# (a socket, a log line, a client's answer) this way, never with a bare sleep.
wait_until() {
    local secs=$1 what=$2 end
    shift 2
    end=$((${EPOCHREALTIME/./} + $(awk -v s="$secs" 'BEGIN { printf "%d", s * 1000000 }')))
    until "$@"; do
        ((${EPOCHREALTIME/./} < end)) || fail "$what: not within $secs s"
        sleep 0.05
    done
}

envol_tmpdir() {
    T=$(mktemp -d /tmp/envol-test.XXXXXX)
    mkdir -p "$T/state/volumes" "$T/run"
    cleanup_fn "rm -rf '$T'"
}

# use_test_clock — for tests that move time (rotation due, deletion window over, SigV4 expiry):
# the real envol-kmsd reads only the real clock (util/clock.h), so start_kmsd runs the test-only
# build/tests/bin/envol-kmsd-testclock instead, whose clock is the real time plus the seconds in
# $ENVOL_TEST_CLOCK_FILE (0 at first).
use_test_clock() {
    KMSD_BIN=$ENVOL_BUILD_DIR/tests/bin/envol-kmsd-testclock
    [ -x "$KMSD_BIN" ] || fail "$KMSD_BIN is not built"
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
  allow_plain_http = true;   # tests over plain TCP (test-tls-kms.sh tests HTTPS)
  admins = [ "arn:aws:iam::000000000000:user/unix/root", "arn:aws:iam::000000000000:user/alice" ];
  # envold runs as root here: root is the service that attaches on its clients' behalf
  services = [ "arn:aws:iam::000000000000:user/unix/envol", "arn:aws:iam::000000000000:user/unix/root" ];
  credentials = ( { access_key_id = "$ACCESS_KEY"; secret_access_key = "$SECRET_KEY";
                    principal = "arn:aws:iam::000000000000:user/alice"; } );
};
server: {
  listen = "";
};
CONF
    CONF=$T/envol.conf
}

# allow_attach_by PRINCIPAL… — the identity policy of docs/operations.md "Who may attach which
# volume" (kms:CreateGrant through envold only) for each PRINCIPAL, in the kms group of $CONF.
allow_attach_by() {
    local p entries=
    cat >"$T/attach-policy.json" <<'JSON'
{"Version": "2012-10-17", "Statement": [{"Sid": "AttachThroughEnvold", "Effect": "Allow",
  "Action": "kms:CreateGrant", "Resource": "*",
  "Condition": {"StringEquals": {"kms:ViaService": "envold.envol.internal"},
                "Bool": {"kms:GrantIsForAWSResource": "true"}}}]}
JSON
    for p in "$@"; do
        entries+="${entries:+, }{ principal = \"$p\"; file = \"$T/attach-policy.json\"; }"
    done
    sed -i "/^kms: {/a\  identity_policies = ( $entries );" "$CONF"
    grep -q "identity_policies = ( {" "$CONF" || fail "allow_attach_by: $CONF not changed"
}

_wait_for_socket() {
    local sock=$1 pid=$2 what=$3 i
    for ((i = 0; i < 100; i++)); do
        # The file may be a stale socket left by a killed daemon: wait until it accepts.
        [ -S "$sock" ] && $PY -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' \
            "$sock" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || { cat "$T/$what.log" >&2; fail "$what exited during start"; }
        sleep 0.1
    done
    cat "$T/$what.log" >&2
    fail "$what did not create $sock"
}

start_kmsd() {
    "${KMSD_BIN:-$BIN/envol-kmsd}" -c "$CONF" "$@" >"$T/kmsd.log" 2>&1 &
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
aws_kms() { aws_kms_as "$ACCESS_KEY" "$SECRET_KEY" "$@"; }

# aws_kms_as ACCESS_KEY SECRET_KEY ARGS… — the same with another key pair.
aws_kms_as() {
    AWS_ACCESS_KEY_ID=$1 AWS_SECRET_ACCESS_KEY=$2 AWS_DEFAULT_REGION=local \
        AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
        $AWS --endpoint-url "http://$KMS_LISTEN" kms "${@:3}"
}

# ---- Attach helpers (test-attach-*.sh) ----
#   ctl ARGS…           envolctl with this test's config ($CONF)
#   attach_requires_fuse_loop    exit 77 unless /dev/fuse and a loop device are usable
#   attach_uri NAME [SOCKET]     NBD URI of export NAME on envold's Unix socket
#   attach_fuse NAME DIR [SOCKET] [nbdfuse options…]  expose export NAME as DIR/nbd through
#                                nbdfuse; fails (returns 1) with nbdfuse's message if refused
#   attach_unfuse DIR            unmount DIR; nbdfuse exits and its connections close
#   attach_stop_daemon PID NAME  SIGTERM, wait, fail unless it exits 0; removes a stale socket
#   attach_wait_detached NAME    wait until envolctl says volume NAME is no longer attached
# ctl ARGS… — envolctl with this test's configuration.
ctl() {
    "$BIN/envolctl" -c "$CONF" "$@"
}

# expect_fail RC PATTERN CMD… — CMD must exit with RC and print PATTERN on stderr.
expect_fail() {
    local want=$1 pat=$2 rc=0; shift 2
    "$@" >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" = "$want" ] || { cat "$T/err" >&2; fail "'$*' exited $rc, expected $want"; }
    grep -q -- "$pat" "$T/err" || { cat "$T/err" >&2; fail "'$*': stderr lacks '$pat'"; }
}

attach_requires_fuse_loop() {
    requires nbdfuse fusermount3 mkfs.ext4 losetup
    if [ ! -c /dev/fuse ]; then echo "$0: skipped: no /dev/fuse"; exit 77; fi
    if ! losetup -f >/dev/null 2>&1; then echo "$0: skipped: no free loop device"; exit 77; fi
}

attach_uri() {
    echo "nbd+unix:///$1?socket=${2:-$T/run/nbd.sock}"
}

attach_fuse() {
    local name=$1 dir=$2 sock=${3:-$T/run/nbd.sock} pid i
    shift 3 || shift $#
    mkdir -p "$dir"
    rm -f "$dir.pid"
    nbdfuse -P "$dir.pid" "$@" "$dir" "$(attach_uri "$name" "$sock")" >"$dir.log" 2>&1 &
    pid=$!
    cleanup_fn "fusermount3 -u '$dir' 2>/dev/null; wait $pid 2>/dev/null"
    for ((i = 0; i < 150; i++)); do
        [ -s "$dir.pid" ] && [ -e "$dir/nbd" ] && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$dir.log" >&2
            return 1
        fi
        sleep 0.1
    done
    cat "$dir.log" >&2
    fail "nbdfuse did not expose $dir/nbd"
}

attach_unfuse() {
    local dir=$1 pid i
    pid=$(cat "$dir.pid" 2>/dev/null || true)
    fusermount3 -u "$dir"
    for ((i = 0; i < 100; i++)); do
        [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    fail "nbdfuse (pid $pid) did not exit after fusermount3 -u $dir"
}

attach_stop_daemon() {
    local pid=$1 name=$2 rc=0
    kill -TERM "$pid"
    wait "$pid" || rc=$?
    [ "$rc" -eq 0 ] || { cat "$T/$name.log" >&2; fail "$name exited with status $rc on SIGTERM"; }
    case $name in
    kmsd) rm -f "$T/run/kms.sock" ;;
    envold) rm -f "$T/run/nbd.sock" ;;
    esac
}

attach_wait_detached() {
    local name=$1 i a=
    for ((i = 0; i < 100; i++)); do
        a=$(ctl --json volume show "$name" | jq -r .attached)
        [ "$a" = false ] && return 0
        sleep 0.1
    done
    fail "volume $name still attached (attached=$a) 10 s after its last client left"
}

# One libnbd connection held open across shell steps (tests/interop/test-attach-holder.py):
#   holder_open ID URI   connect; 0 when connected, 1 when refused (libnbd's message in HOLDER_MSG)
#   holder_cmd ID CMD…   "write OFF LEN SEED" | "read OFF LEN SEED" | "zero OFF LEN"; 0 on "ok"
#   holder_close ID      disconnect
declare -gA _HOLDER_W=() _HOLDER_R=() _HOLDER_PID=()
holder_open() {
    local id=$1 uri=$2 w r line
    rm -f "$T/holder-$id.in" "$T/holder-$id.out"
    mkfifo "$T/holder-$id.in" "$T/holder-$id.out"
    $PY "$ENVOL_SOURCE_DIR/tests/interop/test-attach-holder.py" "$uri" \
        <"$T/holder-$id.in" >"$T/holder-$id.out" 2>"$T/holder-$id.err" &
    _HOLDER_PID[$id]=$!
    cleanup_fn "kill ${_HOLDER_PID[$id]} 2>/dev/null; wait ${_HOLDER_PID[$id]} 2>/dev/null"
    exec {w}>"$T/holder-$id.in"
    exec {r}<"$T/holder-$id.out"
    _HOLDER_W[$id]=$w _HOLDER_R[$id]=$r
    HOLDER_MSG=
    if ! read -r -t 30 -u "$r" line; then
        cat "$T/holder-$id.err" >&2
        fail "holder $id: no answer from $uri"
    fi
    case $line in
    connected\ *) return 0 ;;
    refused\ *)
        HOLDER_MSG=${line#refused }
        exec {w}>&- {r}<&-
        wait "${_HOLDER_PID[$id]}" 2>/dev/null || true
        return 1 ;;
    *) fail "holder $id: unexpected answer: $line" ;;
    esac
}

holder_cmd() {
    local id=$1 line
    shift
    echo "$*" >&"${_HOLDER_W[$id]}"
    if ! read -r -t 60 -u "${_HOLDER_R[$id]}" line; then
        cat "$T/holder-$id.err" >&2
        fail "holder $id: no answer to '$*'"
    fi
    [ "$line" = ok ] && return 0
    echo "holder $id: $*: $line" >&2
    return 1
}

holder_close() {
    local id=$1 line w=${_HOLDER_W[$1]} r=${_HOLDER_R[$1]}
    echo quit >&"$w"
    read -r -t 30 -u "$r" line || true
    exec {w}>&- {r}<&-
    wait "${_HOLDER_PID[$id]}" 2>/dev/null || true
}

# attach_refused URI — try to attach with nbdinfo; returns 0 when the server refused, with the
# server's error message in REFUSAL (libnbd 1.14 shows it only in its debug output, as
# "handshake: server error message: …"); returns 1 when the attach worked.
attach_refused() {
    local out
    if out=$(LIBNBD_DEBUG=1 nbdinfo "$1" 2>&1); then
        REFUSAL=
        return 1
    fi
    REFUSAL=$(sed -n 's/.*server error message: //p' <<<"$out" | tail -1)
    [ -n "$REFUSAL" ] || REFUSAL=$(grep -v "libnbd: debug" <<<"$out" | tail -1)
    return 0
}

# plain_tcp_serves HOST:PORT NAME — envold answers on a plain TCP listener: NBD_OPT_LIST shows
# export NAME, and attaching it is refused (NBD_REP_ERR_POLICY) for want of a client identity.
plain_tcp_serves() {
    nbdinfo --list --json "nbd://$1" 2>/dev/null | grep -q "\"export-name\": \"$2\"" || return 1
    attach_refused "nbd://$1/$2" || return 1
    grep -q "no client identity" <<<"$REFUSAL"
}

# ---- Attach through a grant (test-attach-grant-*.sh) ----
#   grant_setup [P…]     envol_tmpdir, configuration (principals P… may attach: allow_attach_by),
#                        envol-kmsd on a TCP listener too; envold
#                        is the service arn:aws:iam::000000000000:user/envold (no admin), which
#                        reaches the KMS over SigV4 with $ECONF ($CONF plus a client group)
#   start_envold_service start envold with $ECONF; its NBD socket open to every local user
#   envold_kms ARGS…     the aws CLI with envold's own credentials
ENVOLD_PRINCIPAL=arn:aws:iam::000000000000:user/envold
ENVOLD_AK=AKIDENVOLDSERVICE001
ENVOLD_SK=envold-service-secret-key-00000000000000
grant_setup() {
    envol_tmpdir
    chmod 755 "$T" "$T/run"
    KMS_LISTEN=127.0.0.1:$(free_port)
    write_config "$KMS_LISTEN"
    sed -i "s|^  services = .*|  services = [ \"$ENVOLD_PRINCIPAL\" ];|" "$CONF"
    sed -i "s|^  credentials = ( {|  credentials = ( { access_key_id = \"$ENVOLD_AK\"; secret_access_key = \"$ENVOLD_SK\"; principal = \"$ENVOLD_PRINCIPAL\"; }, {|" "$CONF"
    grep -q "services = \[ \"$ENVOLD_PRINCIPAL\" \]" "$CONF" && grep -q "$ENVOLD_AK" "$CONF" ||
        fail "grant_setup: $CONF not changed"
    [ $# -eq 0 ] || allow_attach_by "$@"
    ECONF=$T/envold.conf
    cp "$CONF" "$ECONF"
    cat >>"$ECONF" <<CONF
client: {
  endpoint = "http://$KMS_LISTEN";
  access_key_id = "$ENVOLD_AK";
  secret_access_key = "$ENVOLD_SK";
};
CONF
    start_kmsd
}

start_envold_service() {
    CONF=$ECONF start_envold "$@"
    chmod 666 "$T/run/nbd.sock"
}

envold_kms() { aws_kms_as "$ENVOLD_AK" "$ENVOLD_SK" "$@"; }
