#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-rbd-fio.sh — fio's nbd engine (libnbd) against envold serving a volume on Ceph RBD:
# 4 jobs, each on its own connection and its own 16 MiB region (regions cross the image's
# 4 MiB objects), random 4 KiB writes at queue depth 16 with verify=crc32c (every block read
# back and checked), then sequential 1 MiB writes and reads with verification.  Prints
# bandwidth and IOPS.  (TRIM on RBD: ceph/test-rbd-backend, and mkfs.ext4 in
# ceph/test-rbd-attach.)
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/hosts.sh"
requires_cluster
requires fio jq
fio --enghelp=nbd >/dev/null 2>&1 || { echo "$0: skipped: fio has no nbd engine"; exit 77; }

envol_tmpdir
rbd_config
start_kmsd
name=fio-$$
ctl volume create "$name" --size 64M >/dev/null
start_envold
uri=$(attach_uri "$name")

run_fio() {
    local job=$1; shift
    fio --name="$job" --ioengine=nbd --uri="$uri" --numjobs=4 --size=16M \
        --offset_increment=16M --group_reporting --output-format=json --verify_state_save=0 \
        --output="$T/$job.json" "$@" || fail "fio $job failed: $(cat "$T/$job.json")"
    jq -e '.jobs[0].error == 0' "$T/$job.json" >/dev/null ||
        fail "fio $job: error $(jq .jobs[0].error "$T/$job.json")"
}
run_fio randwrite --rw=randwrite --bs=4k --iodepth=16 --verify=crc32c --do_verify=1
jq -r '.jobs[0] | "fio 4k randwrite+verify on RBD, 4 jobs x QD16: write \(.write.iops|floor) IOPS, verify read \(.read.iops|floor) IOPS"' \
    "$T/randwrite.json"
[ "$(jq '.jobs[0].read.io_bytes' "$T/randwrite.json")" -ge $((60 << 20)) ] ||
    fail "fio verified only $(jq '.jobs[0].read.io_bytes' "$T/randwrite.json") bytes"
run_fio seq --rw=write --bs=1M --iodepth=8 --verify=crc32c --do_verify=1
jq -r '.jobs[0] | "fio 1M sequential on RBD, 4 jobs x QD8: write \(.write.bw/1024|floor) MiB/s, verify read \(.read.bw/1024|floor) MiB/s"' \
    "$T/seq.json"
echo "fio: every block verified (crc32c) over 4 connections on RBD"

kill -TERM "$ENVOLD_PID"
wait "$ENVOLD_PID" || fail "envold exited $? on SIGTERM: $(tail -20 "$T/envold.log")"
rm -f "$T/run/nbd.sock"
ctl volume delete "$name" --force >/dev/null
echo "test-rbd-fio: ok"
