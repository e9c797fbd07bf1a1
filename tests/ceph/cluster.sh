#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A throwaway single-node Ceph cluster for the RBD tests: one monitor and one OSD (bluestore on
# a sparse file), cephx on, on 127.0.0.1 only, everything inside DIR (nothing under /etc or
# /var).  Every daemon runs in the foreground (-f), in the background of this script, and is
# stopped by its pid; no systemd, no manager daemon.
#
#   cluster.sh start DIR   bring the cluster up in DIR (a stale cluster there is stopped first),
#                          create pool "envol" (size 1, application rbd) and the client key
#                          client.envol (mon 'profile rbd', osd 'profile rbd pool=envol');
#                          wait until it serves I/O; print "export CEPH_CONF=DIR/ceph.conf".
#   cluster.sh stop DIR    stop the OSD, then the monitor; remove DIR.
#
# DIR then holds ceph.conf, ceph.client.admin.keyring, ceph.client.envol.keyring, env (shell
# assignments CEPH_CONF, ENVOL_CEPH_POOL, ENVOL_CEPH_CLIENT), the daemons' data, pid files and
# logs (log/).  Exit 77 (skip) when Ceph is not installed.
#
# Environment: ENVOL_CEPH_TIMEOUT (seconds for each wait, default 120), ENVOL_CEPH_OSD_SIZE
# (the OSD's sparse block file, default 8G).
set -euo pipefail
umask 077   # keyrings

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$2
timeout=${ENVOL_CEPH_TIMEOUT:-120}
osd_size=${ENVOL_CEPH_OSD_SIZE:-8G}
pool=envol
client=envol
marker=.envol-ceph-cluster      # start writes it first; stop removes only directories that have it

say() { echo "cluster.sh: $*" >&2; }
die() { say "$*"; exit 1; }

requires() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || { say "skipped: $c is not installed (scripts/setup)"; exit 77; }
    done
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- stopping ----

# pid_of NAME: the pid in DIR/NAME.pid when it is still that daemon of this cluster (its command
# line names this cluster's ceph.conf), else nothing.  Guards against a stale pid file whose pid
# was reused by something else.
pid_of() {
    local name=$1 pid
    [ -f "$dir/$name.pid" ] || return 0
    pid=$(<"$dir/$name.pid")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    [ -r "/proc/$pid/cmdline" ] || return 0
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir/ceph.conf" || return 0
    echo "$pid"
}

# gone PID: true once PID has exited (a zombie whose parent has not reaped it counts as gone).
gone() {
    local state
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
    [ -z "$state" ] || [ "$state" = Z ] || [ "$state" = X ]
}

# stop_daemon NAME: SIGTERM, wait up to 30 s, then SIGKILL; fails if it will not go.
stop_daemon() {
    local name=$1 pid i
    pid=$(pid_of "$name")
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 300; i++)); do
            gone "$pid" && break
            sleep 0.1
        done
        if ! gone "$pid"; then
            say "$name (pid $pid) ignored SIGTERM for 30 s; SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            for ((i = 0; i < 100; i++)); do
                gone "$pid" && break
                sleep 0.1
            done
            gone "$pid" || die "$name (pid $pid) does not exit"
        fi
    fi
    rm -f "$dir/$name.pid"
}

# OSD first: stopping the monitor first (or both at once) makes the OSD wait out its monitor
# timeouts while it tries to report that it is going down.
stop_cluster() {
    local p
    for p in "$dir"/osd.*.pid; do
        [ -e "$p" ] || continue
        p=${p##*/}
        stop_daemon "${p%.pid}"
    done
    stop_daemon mon.a
}

cmd_stop() {
    [ -e "$dir" ] || return 0
    dir=$(realpath "$dir")
    [ -e "$dir/$marker" ] || die "$dir is not a cluster made by cluster.sh; not touching it"
    stop_cluster
    rm -rf "$dir"
}

# ---- starting ----

ceph_cli() { timeout 30 ceph --conf "$dir/ceph.conf" --name client.admin --connect-timeout 20 "$@"; }

# alive: every daemon started so far still runs; names the first that does not.
alive() {
    local p name pid
    for p in "$dir"/*.pid; do
        [ -e "$p" ] || continue
        name=${p##*/}
        name=${name%.pid}
        pid=$(pid_of "$name")
        if [ -z "$pid" ] || gone "$pid"; then
            say "$name exited (log/$name.out, log/$name.log)"
            return 1
        fi
    done
}

# wait_for WHAT CMD…: run CMD until it succeeds; returns 1 as soon as a daemon of the cluster
# has exited, fails after $timeout seconds.
wait_for() {
    local what=$1 start
    shift
    start=$(now)
    until "$@" >/dev/null 2>&1; do
        alive || return 1
        [ "$(awk -v a="$start" -v b="$(now)" -v t="$timeout" 'BEGIN { print (b - a > t) }')" = 0 ] ||
            die "no $what after $timeout s"
        sleep 0.2
    done
}

# start_daemon NAME BINARY ARGS…: in the foreground (-f) as our background job, detached from
# the terminal, output in log/NAME.out; its pid in NAME.pid.
start_daemon() {
    local name=$1 bin=$2 pid
    shift 2
    "$bin" -f --conf "$dir/ceph.conf" "$@" </dev/null >"$dir/log/$name.out" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/$name.pid"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

write_conf() {
    local fsid=$1 port=$2
    # $name, $id and $cluster are Ceph's metavariables, expanded by each daemon and client.
    cat >"$dir/ceph.conf" <<CONF
# A throwaway test cluster made by tests/ceph/cluster.sh; everything lives in $dir.
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$port
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
public network = 127.0.0.1/32
ms bind msgr1 = false
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = $dir/ceph.\$name.keyring
run dir = $dir/run
crash dir = $dir/crash
# one OSD: size-1 pools, placement over OSDs rather than hosts, few placement groups
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
# no manager daemon runs: keep "no active mgr" out of the health (its grace, 120 s, would end
# it in the middle of a test run)
mon mgr mkfs grace = 86400

[mon]
mon data = $dir/\$name
keyring = $dir/\$name/keyring
log file = $dir/log/\$name.log
mon cluster log file = $dir/log/\$cluster.\$channel.log
# a nearly full host disk is not this cluster's health problem
mon data avail warn = 2
mon data avail crit = 1

[osd]
osd data = $dir/\$name
osd journal = $dir/\$name/journal
keyring = $dir/\$name/keyring
log file = $dir/log/\$name.log
osd objectstore = bluestore
bluestore block create = true
bluestore block size = $osd_size
bluestore fsck on mkfs = false
# small: a fixed 64 MiB cache instead of a 4 GiB memory target, two op shards
bluestore cache autotune = false
bluestore cache size = 64M
osd op num shards = 2
osd op num threads per shard = 1
CONF
}

# Writes the keyring for NAME with a fresh key: FILE NAME [--cap SUBSYS CAP]…
new_keyring() {
    local file=$1 name=$2
    shift 2
    ceph-authtool --create-keyring "$file" --gen-key -n "$name" "$@" >/dev/null
}

start_mon() {
    local fsid=$1 port=$2
    write_conf "$fsid" "$port"
    new_keyring "$dir/bootstrap.keyring" mon. --cap mon 'allow *'
    new_keyring "$dir/ceph.client.admin.keyring" client.admin \
        --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *'
    ceph-authtool "$dir/bootstrap.keyring" --import-keyring "$dir/ceph.client.admin.keyring" >/dev/null
    monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$port]" "$dir/monmap" >/dev/null
    rm -rf "$dir/mon.a"
    ceph-mon --conf "$dir/ceph.conf" --mkfs -i a --monmap "$dir/monmap" \
        --keyring "$dir/bootstrap.keyring" >"$dir/log/mon.a.mkfs" 2>&1 ||
        { cat "$dir/log/mon.a.mkfs" >&2; die "ceph-mon --mkfs failed"; }
    start_daemon mon.a ceph-mon -i a
}

# mon_serving: the monitor answers and is in quorum.
mon_serving() {
    ceph_cli quorum_status -f json |
        python3 -c 'import json, sys; sys.exit(json.load(sys.stdin)["quorum_names"] != ["a"])'
}

# osd_up ID: the OSD map has it up and in.
osd_up() {
    ceph_cli osd dump -f json | python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if any(o["osd"] == int(sys.argv[1]) and o["up"] == 1 and o["in"] == 1
                  for o in d["osds"]) else 1)' "$1"
}

# healthy: "ceph -s" says HEALTH_OK and one OSD up and in.
healthy() {
    ceph_cli -s -f json | python3 -c '
import json, sys
d = json.load(sys.stdin)
m = d["osdmap"].get("osdmap", d["osdmap"])
ok = d["health"]["status"] == "HEALTH_OK" and m["num_up_osds"] == 1 and m["num_in_osds"] == 1
sys.exit(0 if ok else 1)'
}

cmd_start() {
    requires ceph-mon ceph-osd ceph ceph-authtool monmaptool rbd rados uuidgen python3 timeout
    local t0 fsid port osd_uuid osd_key id tries out
    t0=$(now)
    if [ -e "$dir" ]; then
        if [ -e "$dir/$marker" ]; then
            say "stopping the stale cluster in $dir"
            cmd_stop
        elif [ -n "$(ls -A "$dir")" ]; then
            die "$dir exists and is not empty"
        fi
    fi
    mkdir -p "$dir"
    dir=$(realpath "$dir")
    touch "$dir/$marker"
    # A daemon's admin socket is a Unix socket in DIR/run: its path must fit sun_path.
    [ ${#dir} -le 80 ] || die "$dir is too long for the daemons' admin sockets (at most 80 characters)"
    mkdir -p "$dir/log" "$dir/run" "$dir/crash"
    # Whatever fails from here on: stop what was started and remove DIR, showing the logs.
    trap 'rc=$?; if [ $rc -ne 0 ]; then
              for f in "$dir"/log/*; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 25 "$f" >&2; }; done
              stop_cluster || true; rm -rf "$dir"
          fi' EXIT
    trap 'exit 130' INT HUP
    trap 'exit 143' TERM

    fsid=$(uuidgen)
    # The port is free when picked; if another process takes it before the monitor binds, the
    # monitor exits and we try another.
    for tries in 1 2 3; do
        port=$(free_port)
        start_mon "$fsid" "$port"
        wait_for "monitor quorum" mon_serving && break
        [ "$tries" -lt 3 ] || die "the monitor did not start"
        say "the monitor exited; trying another port"
        stop_daemon mon.a
    done
    say "monitor up on 127.0.0.1:$port after $(elapsed "$t0") s"

    # One OSD, its cephx key registered together with it ("osd new").
    osd_uuid=$(uuidgen)
    osd_key=$(ceph-authtool --gen-print-key)
    id=$(printf '{"cephx_secret": "%s"}' "$osd_key" | ceph_cli osd new "$osd_uuid" -i -)
    [[ "$id" =~ ^[0-9]+$ ]] || die "ceph osd new printed '$id'"
    mkdir -p "$dir/osd.$id"
    ceph-authtool --create-keyring "$dir/osd.$id/keyring" -n "osd.$id" --add-key "$osd_key" >/dev/null
    ceph-osd --conf "$dir/ceph.conf" -i "$id" --mkfs --osd-uuid "$osd_uuid" \
        >"$dir/log/osd.$id.mkfs" 2>&1 || { cat "$dir/log/osd.$id.mkfs" >&2; die "ceph-osd --mkfs failed"; }
    start_daemon "osd.$id" ceph-osd -i "$id"
    wait_for "osd.$id up" osd_up "$id" || die "the OSD did not start"
    say "osd.$id up after $(elapsed "$t0") s"

    # The pool and the client key.  "rbd pool init" enables the rbd application and writes the
    # pool's first object, so it returns once the pool's placement groups serve I/O.
    out=$(ceph_cli osd pool create "$pool" 2>&1) || die "ceph osd pool create: $out"
    timeout "$timeout" rbd --conf "$dir/ceph.conf" --name client.admin pool init "$pool"
    ceph_cli osd pool ls detail -f json | python3 -c '
import json, sys
p = [p for p in json.load(sys.stdin) if p["pool_name"] == sys.argv[1]]
sys.exit(0 if p and p[0]["size"] == 1 and "rbd" in p[0]["application_metadata"] else 1)' "$pool" ||
        die "pool $pool is not size 1 with application rbd"
    out=$(ceph_cli auth get-or-create "client.$client" mon 'profile rbd' \
        osd "profile rbd pool=$pool" -o "$dir/ceph.client.$client.keyring" 2>&1) ||
        die "ceph auth get-or-create: $out"
    wait_for "HEALTH_OK" healthy || die "a daemon exited"
    # The client key works: it lists the pool's images (none yet).
    [ -z "$(timeout 30 rbd --conf "$dir/ceph.conf" --id "$client" -p "$pool" ls)" ] ||
        die "client.$client cannot list pool $pool, or it is not empty"

    cat >"$dir/env" <<ENV
CEPH_CONF=$dir/ceph.conf
ENVOL_CEPH_POOL=$pool
ENVOL_CEPH_CLIENT=$client
ENV
    trap - EXIT INT HUP TERM
    say "cluster up in $(elapsed "$t0") s (fsid $fsid, mon 127.0.0.1:$port, osd.$id, pool $pool)"
    echo "export CEPH_CONF=$dir/ceph.conf"
}

case "$cmd" in
start) cmd_start ;;
stop) cmd_stop ;;
*) usage ;;
esac
