#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-nbd-fio.sh — fio's nbd engine (libnbd) against envold: 4 jobs, each on its own
# connection and its own 16 MiB region, random 4 KiB writes at queue depth 16 with
# verify=crc32c (every block read back and checked), then sequential 1 MiB writes and reads
# with verification.  Prints fio's bandwidth and IOPS.
source "$(dirname "$0")/functions.sh"
requires fio
fio --enghelp=nbd >/dev/null 2>&1 || { echo "$0: skipped: fio has no nbd engine"; exit 77; }

envol_tmpdir
write_config
start_kmsd
"$BIN/envolctl" -c "$CONF" volume create fio --size 64M >/dev/null
start_envold
uri="nbd+unix:///fio?socket=$T/run/nbd.sock"

run_fio() {
    local name=$1; shift
    fio --name="$name" --ioengine=nbd --uri="$uri" --numjobs=4 --size=16M \
        --offset_increment=16M --group_reporting --output-format=json \
        --output="$T/$name.json" "$@" || fail "fio $name failed: $(cat "$T/$name.json")"
    jq -e '.jobs[0].error == 0' "$T/$name.json" >/dev/null ||
        fail "fio $name: error $(jq .jobs[0].error "$T/$name.json")"
}
run_fio randwrite --rw=randwrite --bs=4k --iodepth=16 --verify=crc32c --do_verify=1
jq -r '.jobs[0] | "fio 4k randwrite+verify, 4 jobs x QD16: write \(.write.iops|floor) IOPS, verify read \(.read.iops|floor) IOPS"' \
    "$T/randwrite.json"
[ "$(jq '.jobs[0].read.io_bytes' "$T/randwrite.json")" -ge $((60 << 20)) ] ||
    fail "fio verified only $(jq '.jobs[0].read.io_bytes' "$T/randwrite.json") bytes"
run_fio seq --rw=write --bs=1M --iodepth=8 --verify=crc32c --do_verify=1
jq -r '.jobs[0] | "fio 1M sequential, 4 jobs x QD8: write \(.write.bw/1024|floor) MiB/s, verify read \(.read.bw/1024|floor) MiB/s"' \
    "$T/seq.json"
echo "fio: every block verified (crc32c) over 4 connections"

# an orderly stop: drain, flush, wipe keys, exit 0 (a sanitizer report would make it fail)
kill -TERM "$ENVOLD_PID"
wait "$ENVOLD_PID" || fail "envold exited $? on SIGTERM: $(tail -20 "$T/envold.log")"
