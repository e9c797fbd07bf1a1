#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-attach-fs.sh — a real filesystem on an encrypted volume survives a restart of both
# daemons: envolctl volume create, nbdfuse + mkfs.ext4 + loop mount, files written and
# checksummed, umount, envol-kmsd and envold restarted, remount, fsck clean, checksums equal.
source "$(dirname "$0")/functions.sh"
requires jq sha256sum e2fsck mount umount
attach_requires_fuse_loop

envol_tmpdir
write_config
start_kmsd
start_envold

ctl volume create fs1 --size 128M
size=$(ctl --json volume show fs1 | jq -r .size)
[ "$size" = $((128 << 20)) ] || fail "volume show: size $size, want $((128 << 20))"

mnt=$T/mnt
mkdir -p "$mnt"
attach_fuse fs1 "$T/fuse" || fail "nbdfuse could not attach fs1"
[ "$(stat -c %s "$T/fuse/nbd")" = $((128 << 20)) ] || fail "nbdfuse sees a wrong export size"
[ "$(ctl --json volume show fs1 | jq -r .attached)" = true ] ||
    fail "volume show does not say attached while nbdfuse is connected"

mkfs.ext4 -q -F "$T/fuse/nbd"
mount -o loop "$T/fuse/nbd" "$mnt"
cleanup_fn "mountpoint -q '$mnt' && umount '$mnt'"

marker="envol attach-fs marker $$ $(date +%s%N)"
head -c $((3 << 20)) /dev/urandom >"$mnt/random-3M"
head -c $((1 << 20)) /dev/urandom >"$mnt/random-1M"
head -c 12345 /dev/urandom >"$mnt/odd-size"
mkdir "$mnt/dir"
for i in 1 2 3 4 5; do printf '%s line %d\n' "$marker" "$i" >>"$mnt/dir/marker.txt"; done
(cd "$mnt" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$T/sums"
[ "$(wc -l <"$T/sums")" -eq 4 ] || fail "expected 4 files, sums: $(cat "$T/sums")"
umount "$mnt"
attach_unfuse "$T/fuse"
attach_wait_detached fs1

# Restart both daemons: nothing may live only in their memory.
attach_stop_daemon "$ENVOLD_PID" envold
attach_stop_daemon "$KMSD_PID" kmsd
start_kmsd
start_envold

attach_fuse fs1 "$T/fuse" || fail "nbdfuse could not attach fs1 after the restart"
e2fsck -fn "$T/fuse/nbd" >"$T/fsck.log" 2>&1 || { cat "$T/fsck.log"; fail "e2fsck after restart"; }
mount -o loop "$T/fuse/nbd" "$mnt"
(cd "$mnt" && sha256sum --quiet -c "$T/sums") || fail "checksums differ after the restart"
grep -qF "$marker line 5" "$mnt/dir/marker.txt" || fail "marker text not read back"
umount "$mnt"
attach_unfuse "$T/fuse"
echo "test-attach-fs: ok"
