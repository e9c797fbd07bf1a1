#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-nbd-nbdcopy.sh — nbdcopy copies a 256 MiB random image into an envold export and back out
# (several connections and many requests in flight each); the SHA-256 of what comes out equals
# the input's, and the backing file differs from the input (it is ciphertext).  Prints MiB/s.
source "$(dirname "$0")/functions.sh"
requires nbdcopy sha256sum

envol_tmpdir
write_config
start_kmsd
"$BIN/envolctl" -c "$CONF" volume create copy --size 256M >/dev/null
start_envold
uri="nbd+unix:///copy?socket=$T/run/nbd.sock"

head -c 256M /dev/urandom >"$T/in.img"
want=$(sha256sum <"$T/in.img" | cut -d' ' -f1)

t0=$(date +%s.%N)
nbdcopy "$T/in.img" "$uri"
t1=$(date +%s.%N)
nbdcopy "$uri" "$T/out.img"
t2=$(date +%s.%N)
got=$(sha256sum <"$T/out.img" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "sha256 after the round trip: $got, want $want"
awk -v a="$t0" -v b="$t1" -v c="$t2" \
    'BEGIN { printf "nbdcopy 256 MiB: in %.0f MiB/s, out %.0f MiB/s\n", 256/(b-a), 256/(c-b) }'

# the stored data area is not the plaintext
vol=$T/state/volumes/copy.vol
cmp -s <(tail -c +$((1048576 + 1)) "$vol" | head -c 1048576) <(head -c 1048576 "$T/in.img") &&
    fail "the volume file holds the plaintext"
echo "nbdcopy in and out: sha256 equal ($want)"

# an orderly stop: drain, flush, wipe keys, exit 0 (a sanitizer report would make it fail)
kill -TERM "$ENVOLD_PID"
wait "$ENVOLD_PID" || fail "envold exited $? on SIGTERM: $(tail -20 "$T/envold.log")"
