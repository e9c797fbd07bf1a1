#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/randwrite-page-cache.sh — the experiment behind scripts/bench's settle_files (issue 12
# item 5): what a random 4 KiB write costs a server depending only on how its backing file sits
# in the page cache.  Three nbdkit servers on 1 GiB files on the same file system:
#   file/1M   nbdkit file plugin, file filled through it with 1 MiB writes (as the bench does)
#   file/512  nbdkit file plugin, the same bytes copied in with 512-byte writes (dd bs=512)
#   luks      nbdkit file + luks filter, filled through it with 1 MiB writes (which the filter
#             turns into 512-byte pwrites)
# each measured with fio randwrite 4 KiB QD32 for 4 s: as filled, then after each file is
# written back, dropped and re-read with readahead (settle_files), then after the same with
# readahead off (4 KiB folios).  Prints IOPS and the server's CPU time per write (from
# /proc/PID/stat: the number a busy machine disturbs least).
#
#   bench/randwrite-page-cache.sh [DIR]      (DIR: where the 3 GiB go, default /var/tmp)
set -euo pipefail
W=$(mktemp -d "${1:-/var/tmp}/envol-randwrite.XXXXXX")
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$W"' EXIT
cd "$W"
truncate -s 1G file1m
truncate -s 1G file512
qemu-img create -q -f luks --object secret,id=sec0,data=bench \
    -o key-secret=sec0,cipher-alg=aes-256,cipher-mode=xts,ivgen-alg=plain64,iter-time=50 l.luks 1G
nbdkit -f -U "$W/a.sock" file file1m >/dev/null 2>&1 & pids+=($!)
nbdkit -f -U "$W/b.sock" file file512 >/dev/null 2>&1 & pids+=($!)
nbdkit -f -U "$W/l.sock" --filter=luks file l.luks passphrase=bench >/dev/null 2>&1 & pids+=($!)
for s in a b l; do
    for ((i = 0; i < 100; i++)); do [ -S "$W/$s.sock" ] && break; sleep 0.1; done
done
fill() { fio --name=fill --ioengine=nbd --uri="nbd+unix:///?socket=$W/$1.sock" --rw=write \
    --bs=1M --iodepth=8 --output="$W/fill.json" >/dev/null 2>&1; }
fill a
dd if=file1m of=file512 bs=512 conv=notrunc status=none
fill l
sync

run() { # LABEL SOCK PID
    local t0 t1
    t0=$(awk '{ print $14 + $15 }' "/proc/$3/stat")
    fio --name=rw --ioengine=nbd --uri="nbd+unix:///?socket=$W/$2.sock" --rw=randwrite --bs=4k \
        --iodepth=32 --time_based --runtime=4 --output-format=json --output="$W/run.json" \
        >/dev/null 2>&1
    t1=$(awk '{ print $14 + $15 }' "/proc/$3/stat")
    /usr/bin/python3 -c 'import json, sys
w = json.load(open(sys.argv[1]))["jobs"][0]["write"]
print("%-34s %7.0f IOPS %7.1f us server CPU per write"
      % (sys.argv[2], w["iops"], int(sys.argv[3]) / int(sys.argv[4]) / w["total_ios"] * 1e6))' \
        "$W/run.json" "$1" $((t1 - t0)) "$(getconf CLK_TCK)"
    sync
}
all() {
    run "file/1M, $1" a "${pids[0]}"
    run "file/512, $1" b "${pids[1]}"
    run "luks, $1" l "${pids[2]}"
}
drop() { sync "$1"; dd if="$1" iflag=nocache count=0 status=none; }

all "as filled"
for f in file1m file512 l.luks; do drop "$f"; dd if="$f" of=/dev/null bs=1M status=none; done
all "re-read with readahead"
for f in file1m file512 l.luks; do
    drop "$f"
    /usr/bin/python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
while os.read(fd, 1 << 20):
    pass' "$f"
done
all "re-read without readahead"
