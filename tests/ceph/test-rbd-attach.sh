#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-rbd-attach.sh — an encrypted volume on Ceph RBD, end to end (docs/operations.md,
# "Volumes on Ceph"): envolctl volume create (server.backend = "rbd") makes image NAME.vol in
# the pool, list and show say backend rbd and its location; nbdfuse + mkfs.ext4 + loop mount,
# files written and checksummed, umount; envol-kmsd and envold restarted; remount, fsck clean,
# checksums equal.  Then, from outside envol: no RADOS object of the image holds the plaintext
# (rados get of every object, grep for the marker and any 64-byte window of the random data),
# and an `rbd export` of the image, decrypted by the independent reader
# tests/interop/volume_dmcrypt.py with the DEK an admin unwraps through the KMS, is exactly
# the plaintext envold serves.  Finally delete removes the image.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/hosts.sh"
requires_cluster
requires jq sha256sum e2fsck mount umount nbdcopy base64 xxd
attach_requires_fuse_loop

envol_tmpdir
rbd_config
start_kmsd
start_envold

name=fs-$$
image=$(image_of "$name")
size=$((96 << 20))
# A key of its own: the DEK is decrypted directly below, which the managed key's policy
# (use only through envold's grants) refuses.
ctl key create --alias "alias/$name" >/dev/null
ctl volume create "$name" --size $size --key "alias/$name" >/dev/null
rbd_cli info "$image" --format json >"$T/info.json" || fail "no image $image after create"
[ "$(jq -r .size "$T/info.json")" = $((size + (1 << 20))) ] ||
    fail "image size $(jq -r .size "$T/info.json"), want size + 1 MiB"
jq -e '.features | index("exclusive-lock") and index("object-map") and index("fast-diff")' \
    "$T/info.json" >/dev/null || fail "image features: $(jq -c .features "$T/info.json")"
ctl --json volume show "$name" >"$T/show.json"
[ "$(jq -r .backend "$T/show.json")" = rbd ] || fail "show: backend $(jq -r .backend "$T/show.json")"
[ "$(jq -r .location "$T/show.json")" = "rbd:$image" ] ||
    fail "show: location $(jq -r .location "$T/show.json")"
ctl volume list >"$T/list.txt"
head -1 "$T/list.txt" | grep -Eq '^NAME +BACKEND +SIZE +SECTOR +KEY +STATE +ATTACHED +LOCATION$' ||
    { cat "$T/list.txt"; fail "list header"; }
grep -Eq "^$name +rbd +96 MiB +512 +.* +Enabled +no +rbd:$image$" "$T/list.txt" ||
    { cat "$T/list.txt"; fail "list row of $name"; }

mnt=$T/mnt
mkdir -p "$mnt"
attach_fuse "$name" "$T/fuse" || fail "nbdfuse could not attach $name"
[ "$(stat -c %s "$T/fuse/nbd")" = $size ] || fail "nbdfuse sees a wrong export size"
holder=$(holder_of "$name")
grep -q "^pid $ENVOLD_PID (envold) on .*, client " <<<"$holder" ||
    fail "show does not name envold as the holder: '$holder'"
grep -q "auto " <<<"$(rbd_cli lock ls "$image")" || fail "the image has no exclusive lock while attached"

mkfs.ext4 -q -F "$T/fuse/nbd"
mount -o loop "$T/fuse/nbd" "$mnt"
cleanup_fn "mountpoint -q '$mnt' && umount '$mnt'"
marker="ENVOL-RBD-PLAINTEXT-$$-$RANDOM-must-not-reach-rados"
head -c $((3 << 20)) /dev/urandom >"$T/random"
cp "$T/random" "$mnt/random-3M"
head -c 12345 /dev/urandom >"$mnt/odd-size"
mkdir "$mnt/dir"
for i in $(seq 1 2000); do printf '%s line %d\n' "$marker" "$i"; done >"$mnt/dir/marker.txt"
(cd "$mnt" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$T/sums"
umount "$mnt"
attach_unfuse "$T/fuse"
attach_wait_detached "$name"
[ -z "$(rbd_cli lock ls "$image")" ] || fail "the lock outlived the attach"

# Restart both daemons: nothing may live only in their memory.
attach_stop_daemon "$ENVOLD_PID" envold
attach_stop_daemon "$KMSD_PID" kmsd
start_kmsd
start_envold
attach_fuse "$name" "$T/fuse" || fail "nbdfuse could not attach $name after the restart"
e2fsck -fn "$T/fuse/nbd" >"$T/fsck.log" 2>&1 || { cat "$T/fsck.log"; fail "e2fsck after restart"; }
mount -o loop "$T/fuse/nbd" "$mnt"
(cd "$mnt" && sha256sum --quiet -c "$T/sums") || fail "checksums differ after the restart"
grep -qF "$marker line 2000" "$mnt/dir/marker.txt" || fail "marker text not read back"
umount "$mnt"
attach_unfuse "$T/fuse"
attach_wait_detached "$name"

# The plaintext as envold serves it, for the comparison below.
nbdcopy "$(attach_uri "$name")" "$T/plain"
attach_wait_detached "$name"
grep -qaF "$marker" "$T/plain" || fail "the marker is not in the volume's plaintext"

# 1. No RADOS object of the image holds plaintext.
prefix=$(jq -r .block_name_prefix "$T/info.json")
rados_cli -p "$ENVOL_CEPH_POOL" ls | grep "^$prefix\." | sort >"$T/objects"
[ "$(wc -l <"$T/objects")" -ge 4 ] || fail "only $(wc -l <"$T/objects") data objects for $image"
n=0
while read -r obj; do
    rados_cli -p "$ENVOL_CEPH_POOL" get "$obj" "$T/obj"
    [ "$(grep -c -a -F "$marker" "$T/obj" || true)" = 0 ] || fail "$obj holds the plaintext marker"
    $PY "$ENVOL_SOURCE_DIR/tests/interop/test-attach-scan.py" noplain "$T/obj" "$marker" \
        "$T/random" || fail "$obj holds plaintext"
    n=$((n + 1))
done <"$T/objects"
echo "no plaintext in any of the $n RADOS objects of $image"

# 2. An rbd export, decrypted independently with the DEK from the KMS, is the plaintext.
rbd_cli export --no-progress "$image" "$T/export.vol"
[ "$(stat -c %s "$T/export.vol")" = $((size + (1 << 20))) ] || fail "rbd export size"
uuid=$(jq -r .volume_id "$T/show.json")
jq -r .ciphertext_blob "$T/show.json" | base64 -d >"$T/blob"
# the volume's whole encryption context (its id and the parameters it binds), K=V each
mapfile -t ctx < <(jq -r '.encryption_context | to_entries[] | "--context=\(.key)=\(.value)"' \
    "$T/show.json")
[ "${#ctx[@]}" -ge 1 ] && grep -q "^--context=envol:volume-id=$uuid$" <(printf '%s\n' "${ctx[@]}") ||
    fail "the encryption context does not hold envol:volume-id = $uuid"
ctl key decrypt "$T/blob" "$T/dek" "${ctx[@]}" >/dev/null
[ "$(stat -c %s "$T/dek")" = 64 ] || fail "the DEK is $(stat -c %s "$T/dek") bytes"
out=$(xxd -p -c 64 "$T/dek" | $PY "$ENVOL_SOURCE_DIR/tests/interop/volume_dmcrypt.py" \
    "$T/export.vol" "$T/plain") || fail "rbd export does not decrypt to the plaintext: $out"
echo "$out"
rm -f "$T/dek"

# 3. delete crypto-erases the header and removes the image.
ctl volume delete "$name" --force >/dev/null
! rbd_cli info "$image" >/dev/null 2>&1 || fail "image $image still exists after delete"
expect_fail 1 "does not exist" ctl volume show "$name"
echo "test-rbd-attach: ok"
