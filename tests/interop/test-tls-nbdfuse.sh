#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-tls-nbdfuse.sh — the issue's "done when": a volume mkfs'd and mounted through nbdfuse over
# nbds:// (TCP, TLS required, X.509 with tls_verify_peer).  libnbd 1.14's nbdfuse refuses file
# paths in a URI (tls-certificates=…: "local file access is not allowed"), so it takes its
# certificates from libnbd's default place: /etc/pki/libnbd for root, $HOME/.pki/libnbd for
# anyone else.  Not to touch /etc, nbdfuse runs here as nobody with HOME=$H, keeping only
# CAP_SYS_ADMIN (to mount) and CAP_DAC_OVERRIDE (to open /dev/fuse) as ambient capabilities,
# with -o allow_other so that root may open the file.  mkfs.ext4, loop mount, files written,
# sync, unmount, fsck clean, remount through a second nbdfuse, files read back; the backing
# file holds no marker; envold logged the client's principal.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/tls-functions.sh"
requires openssl setpriv sha256sum e2fsck mount umount
attach_requires_fuse_loop

envol_tmpdir
tls_envold fs1 96M
URI="nbds://127.0.0.1:$port/fs1"

# nbdfuse will not take tls-certificates=DIR in the URI
mkdir -p "$T/refused"
if nbdfuse "$T/refused" "$URI?tls-certificates=$C/client" >"$T/refused.log" 2>&1; then
    fusermount3 -u "$T/refused" 2>/dev/null || true
    fail "nbdfuse accepted a local path in the URI (libnbd changed: simplify this test)"
fi
grep -q "local file access" "$T/refused.log" || { cat "$T/refused.log"; fail "nbdfuse refusal"; }

# libnbd's default place for a non-root user: $HOME/.pki/libnbd
libnbd_home

fuse_tls() { # DIR — nbdfuse DIR over $URI as nobody; DIR/nbd appears
    local dir=$1 pid i
    mkdir -p "$dir"
    chown nobody "$dir"
    rm -f "$dir.pid"
    HOME=$H setpriv --reuid=nobody --regid=nogroup --clear-groups \
        --inh-caps=+sys_admin,+dac_override --ambient-caps=+sys_admin,+dac_override \
        nbdfuse -o allow_other -P "$dir.pid" "$dir" "$URI" >"$dir.log" 2>&1 &
    pid=$!
    cleanup_fn "fusermount3 -u '$dir' 2>/dev/null; wait $pid 2>/dev/null"
    for ((i = 0; i < 150; i++)); do
        [ -s "$dir.pid" ] && [ -e "$dir/nbd" ] && return 0
        kill -0 "$pid" 2>/dev/null || { cat "$dir.log" "$T/envold.log" >&2
            fail "nbdfuse over $URI exited"; }
        sleep 0.1
    done
    cat "$dir.log" >&2
    fail "nbdfuse did not expose $dir/nbd"
}

fuse_tls "$T/fuse"
[ "$(stat -c %s "$T/fuse/nbd")" = $((96 << 20)) ] || fail "nbdfuse sees a wrong export size"
grep -q "attach fs1: TLS client 'CN=host7,O=example' as principal arn:aws:iam::000000000000:role/host7" \
    "$T/envold.log" || { cat "$T/envold.log"; fail "envold did not log the TLS principal"; }

mnt=$T/mnt
mkdir -p "$mnt"
mkfs.ext4 -q -F "$T/fuse/nbd"
mount -o loop "$T/fuse/nbd" "$mnt"
cleanup_fn "mountpoint -q '$mnt' && umount '$mnt'"
marker="envol tls-nbdfuse marker $$ $(date +%s%N)"
head -c $((2 << 20)) /dev/urandom >"$mnt/random-2M"
for i in 1 2 3 4 5 6 7 8; do printf '%s line %d\n' "$marker" "$i" >>"$mnt/marker.txt"; done
(cd "$mnt" && sha256sum random-2M marker.txt) >"$T/sums"
sync
umount "$mnt"
attach_unfuse "$T/fuse"
attach_wait_detached fs1

# a second nbdfuse over TLS: fsck clean, files read back
fuse_tls "$T/fuse2"
e2fsck -fn "$T/fuse2/nbd" >"$T/fsck.log" 2>&1 || { cat "$T/fsck.log"; fail "e2fsck over nbds://"; }
mount -o loop,ro "$T/fuse2/nbd" "$mnt"
(cd "$mnt" && sha256sum --quiet -c "$T/sums") || fail "checksums differ when read back"
grep -qF "$marker line 8" "$mnt/marker.txt" || fail "marker not read back"
umount "$mnt"
attach_unfuse "$T/fuse2"

backing=$T/state/volumes/fs1.vol
[ -f "$backing" ] || fail "no backing file $backing"
[ "$(grep -c -a -F "$marker" "$backing" || true)" = 0 ] || fail "the backing file holds the marker"
echo "nbdfuse over $URI: mkfs.ext4, loop mount, fsck, read back; no plaintext at rest"
echo OK
