#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-nbd-qemu-io.sh — qemu-io (qemu's NBD client) writes patterns with `write -P` at odd
# offsets and lengths (qemu aligns them to the advertised minimum block size with
# read-modify-write) and reads them back with `read -P` in new connections, on 512- and
# 4096-byte-sector volumes; neighbouring bytes keep their own pattern; write -z (WRITE_ZEROES)
# reads back as zeros.
source "$(dirname "$0")/functions.sh"
requires qemu-io

envol_tmpdir
write_config
start_kmsd
"$BIN/envolctl" -c "$CONF" volume create q512 --size 32M >/dev/null
"$BIN/envolctl" -c "$CONF" volume create q4k --size 32M --sector-size 4096 >/dev/null
start_envold

qio() {
    local name=$1; shift
    local out
    out=$(qemu-io -f raw "nbd+unix:///$name?socket=$T/run/nbd.sock" "$@" 2>&1) ||
        { echo "$out" >&2; fail "qemu-io $*"; }
    if echo "$out" | grep -qiE 'Pattern verification failed|error|failed'; then
        echo "$out" >&2
        fail "qemu-io $* reported a failure"
    fi
}

for v in q512 q4k; do
    qio $v -c 'write -P 0x11 0 1M' -c 'write -P 0xa5 4097 12345' \
        -c 'write -P 0x3c 1048573 7' -c 'write -P 0x77 30M 123457'
    # new connection: every range reads back, including the bytes around the odd writes
    qio $v -c 'read -P 0x11 0 4097' -c 'read -P 0xa5 4097 12345' -c 'read -P 0x11 16442 1032131' \
        -c 'read -P 0x3c 1048573 7' -c 'read -P 0 1048580 1M' -c 'read -P 0x77 30M 123457' \
        -c 'read -P 0 31580737 1M'
    qio $v -c 'write -z 512K 8192' -c 'read -P 0 512K 8192' -c 'read -P 0x11 520K 4096' \
        -c 'read -P 0x11 508K 4096'
    echo "$v: patterns at odd offsets and lengths round-trip"
done

# an orderly stop: drain, flush, wipe keys, exit 0 (a sanitizer report would make it fail)
kill -TERM "$ENVOLD_PID"
wait "$ENVOLD_PID" || fail "envold exited $? on SIGTERM: $(tail -20 "$T/envold.log")"
