#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-rbd-transfer.sh — envolctl on both backends at once (server.backend = "rbd", volumes on
# files too): a raw image imported into a file volume, exported, imported into an RBD volume
# (written under a temporary image name, renamed when complete), exported again, and back into
# a file volume: the same bytes every time, and the RBD image stays thin where the image had
# zeros.  A volume name is unique across the backends; rekey
# rewraps an RBD volume's key (the data stays readable); delete erases the header and
# removes the image; release --force on a file volume says there is nothing to release.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/hosts.sh"
requires_cluster
requires jq cmp

envol_tmpdir
rbd_config
start_kmsd
start_envold
ctl key create --alias alias/xfer --description "rbd transfer test" >/dev/null

p=$$
# A 40 MiB image: random data at the start, at 9 MiB (inside one RADOS object) and in the last
# MiB; zeros between, so the volumes stay sparse.
truncate -s $((40 << 20)) "$T/image"
for at in 0 9 39; do
    head -c $((1 << 20)) /dev/urandom | dd of="$T/image" bs=1M seek=$at conv=notrunc status=none
done

# file -> export -> rbd -> export -> file
ctl volume import "$T/image" "f1-$p" --backend file --key alias/xfer >/dev/null
[ -f "$T/state/volumes/f1-$p.vol" ] || fail "the file import made no file"
ctl volume export "f1-$p" "$T/out1" >/dev/null
cmp "$T/image" "$T/out1" || fail "file volume: export differs from the imported image"
ctl volume import "$T/out1" "r1-$p" --key alias/xfer >/dev/null   # server.backend = rbd
[ "$(ctl --json volume show "r1-$p" | jq -r .backend)" = rbd ] || fail "the import did not go to rbd"
! grep -q "^r1-$p\.import-" <<<"$(rbd_cli ls "$ENVOL_CEPH_POOL")" ||
    fail "the import's temporary image is left: $(rbd_cli ls "$ENVOL_CEPH_POOL")"
ctl volume export "r1-$p" "$T/out2" >/dev/null
cmp "$T/image" "$T/out2" || fail "rbd volume: export differs from the imported image"
ctl volume import "$T/out2" "f2-$p" --backend file >/dev/null
ctl volume export "f2-$p" "$T/out3" >/dev/null
cmp "$T/image" "$T/out3" || fail "back on a file: export differs"
echo "import/export: file -> rbd -> file, the same $((40 << 20)) bytes"

# Thin: only the objects that hold data exist (the header's, 9 MiB's, the last one's).
prefix=$(rbd_cli info "$(image_of "r1-$p")" --format json | jq -r .block_name_prefix)
objects=$(rados_cli -p "$ENVOL_CEPH_POOL" ls | grep -c "^$prefix\.")
[ "$objects" -le 4 ] || fail "the RBD volume has $objects objects for 3 MiB of data"
rbd_cli du "$(image_of "r1-$p")" 2>/dev/null | tail -1

# One name, one volume, whatever the backend.
expect_fail 1 "already exists" ctl volume create "f1-$p" --size 1M --backend rbd
expect_fail 1 "already exists" ctl volume create "r1-$p" --size 1M --backend file
expect_fail 1 "already exists" ctl volume import "$T/image" "r1-$p" --backend file
expect_fail 2 "must be file or rbd" ctl volume create "x-$p" --size 1M --backend zfs
expect_fail 2 "pool is for --backend rbd" ctl volume create "x-$p" --size 1M --backend file --pool p
[ ! -e "$T/state/volumes/r1-$p.vol" ] || fail "a refused create left a file"

# Rekey an RBD volume: a new blob, the same data.
blob=$(ctl --json volume show "r1-$p" | jq -r .ciphertext_blob)
grep -q "rewrapped" <<<"$(ctl volume rekey "r1-$p")" || fail "rekey output"
[ "$(ctl --json volume show "r1-$p" | jq -r .ciphertext_blob)" != "$blob" ] || fail "rekey: blob unchanged"
ctl volume export "r1-$p" "$T/out4" >/dev/null
cmp "$T/image" "$T/out4" || fail "data differs after rekey"

# release --force is an RBD thing.
expect_fail 1 "nothing to release" ctl volume release "f1-$p" --force
expect_fail 2 "give --force" ctl volume release "r1-$p"

# Delete: the header is erased and the image removed.
attach_wait_detached "r1-$p"
grep -q "volume r1-$p deleted" <<<"$(ctl volume delete "r1-$p" --force)" || fail "delete output"
! rbd_cli info "$(image_of "r1-$p")" >/dev/null 2>&1 || fail "the image outlived delete"
[ "$(rados_cli -p "$ENVOL_CEPH_POOL" ls | grep -c "^$prefix\." || true)" = 0 ] ||
    fail "data objects of the deleted image remain"
ctl volume delete "f1-$p" --force >/dev/null
ctl volume delete "f2-$p" --force >/dev/null
[ -z "$(ctl --json volume list | jq -r --arg p "$p" '.[] | select(.name | endswith($p)) | .name')" ] ||
    fail "volumes of this test left after delete"
echo "test-rbd-transfer: ok"
