#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The test cluster carries real load: "rbd bench" writes 1 GiB to an image as the envol client
# key (1 MiB requests, 8 in flight, sequential), reads it back the same way, and the image then
# uses exactly 1 GiB.  Prints both throughput lines (a shared CI machine's numbers, not a bench).
source "$(dirname "$0")/functions.sh"
requires_cluster

img=$ENVOL_CEPH_POOL/bench-$$
rbd_cli create --size 1G "$img"
cleanup_fn "rbd_cli rm --no-progress '$img' >/dev/null 2>&1"

# bench TYPE: runs it and checks the summary line "elapsed: S ops: N ops/sec: R bytes/sec: B".
bench() {
    local out summary
    out=$(rbd_cli bench --io-type "$1" --io-size 1M --io-threads 8 --io-total 1G \
        --io-pattern seq "$img") || fail "rbd bench --io-type $1 failed: $out"
    summary=$(grep -E '^elapsed:' <<<"$out") || fail "rbd bench --io-type $1 printed no summary: $out"
    [[ "$summary" =~ ops:\ +1024\  ]] || fail "rbd bench --io-type $1 did not do 1024 ops: $summary"
    echo "rbd bench $1: $summary"
}
bench write
bench read

used=$(rbd_cli du --format json "$img" |
    $PY -c 'import json, sys; print(json.load(sys.stdin)["images"][0]["used_size"])')
[ "$used" = 1073741824 ] || fail "the image uses $used bytes after writing 1 GiB"
echo "OK"
