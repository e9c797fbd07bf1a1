#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-envolctl-import.sh — envolctl volume import/export through a real envold (libnbd on
# server.socket) and envol-kmsd: a raw image with random and zero regions and a size that is
# not a sector multiple goes in and comes back out with equal checksums (padded with zeros to
# the sector size); the exported file is sparse where the volume reads as zeros; the backing
# file holds none of the plaintext; export to stdout; refusals when envold is not running.
source "$(dirname "$0")/functions.sh"
requires jq sha256sum cmp
[ -x "$BIN/envol-kmsd" ] || { echo "$0: skipped: $BIN/envol-kmsd not built"; exit 77; }
[ -x "$BIN/envold" ] || { echo "$0: skipped: $BIN/envold not built"; exit 77; }

envol_tmpdir
write_config
start_kmsd

# 8 MiB random, 4 MiB zeros, 3 MiB + 1000 bytes random: 15 MiB + 1000 bytes.
img=$T/image.raw
head -c 8M /dev/urandom >"$img"
head -c 4M /dev/zero >>"$img"
head -c $((3 * 1048576 + 1000)) /dev/urandom >>"$img"
isize=$(stat -c %s "$img")

expect_fail 1 "envold is not running: no socket at $T/run/nbd.sock" ctl volume import "$img" early
[ ! -e "$T/state/volumes/early.vol" ] || fail "a refused import created a volume"

start_envold

# --- import ---------------------------------------------------------------------------------
uuid=$(ctl volume import "$img" disk1)
[[ $uuid =~ ^[0-9a-f-]{36}$ ]] || fail "import printed '$uuid'"
ctl --json volume show disk1 >"$T/show.json"
vsize=$(( (isize + 511) / 512 * 512 ))
jq -e --argjson s "$vsize" --arg u "$uuid" '.size == $s and .volume_id == $u and .sector_size == 512' \
    "$T/show.json" >/dev/null || { cat "$T/show.json"; fail "imported volume size"; }

# the backing file holds none of the plaintext (a 64-byte sample from each random region)
od -An -tx1 -v "$T/state/volumes/disk1.vol" | tr -d ' \n' >"$T/vol.hex"
for off in 4096 $((12 * 1048576 + 12345)) $((isize - 64)); do
    pat=$(dd if="$img" bs=1 skip=$off count=64 status=none | od -An -tx1 | tr -d ' \n')
    [ ${#pat} = 128 ] || fail "sample at $off"
    ! grep -q "$pat" "$T/vol.hex" || fail "plaintext at image offset $off found in disk1.vol"
done
rm -f "$T/vol.hex"

# --- export ---------------------------------------------------------------------------------
ctl volume export disk1 "$T/out.raw" >/dev/null
[ "$(stat -c %s "$T/out.raw")" = "$vsize" ] || fail "export size $(stat -c %s "$T/out.raw") != $vsize"
cmp -n "$isize" "$img" "$T/out.raw" || fail "exported data differs from the image"
cmp <(tail -c $((vsize - isize)) "$T/out.raw") <(head -c $((vsize - isize)) /dev/zero) ||
    fail "padding is not zeros"
[ "$(head -c "$isize" "$T/out.raw" | sha256sum)" = "$(sha256sum <"$img")" ] || fail "checksums differ"
# the 4 MiB of zeros stay a hole in the exported file
alloc=$(( $(stat -c %b "$T/out.raw") * $(stat -c %B "$T/out.raw") ))
[ "$alloc" -lt $((13 * 1048576)) ] || fail "export is not sparse ($alloc bytes allocated)"
[ "$(stat -c %a "$T/out.raw")" = 600 ] || fail "exported file mode"

# a progress bar on stderr when stdout is a terminal (script gives it one), none otherwise
if command -v script >/dev/null; then
    script -qec "$BIN/envolctl -c $CONF volume export disk1 $T/out-tty.raw" /dev/null >"$T/tty.txt"
    tr '\r' '\n' <"$T/tty.txt" | grep -Eq "^export \[#{30}\] 100% 15.0 MiB / 15.0 MiB" ||
        { cat -A "$T/tty.txt"; fail "no progress bar on a terminal"; }
    cmp "$T/out.raw" "$T/out-tty.raw" || fail "export on a terminal differs"
fi
ctl volume export disk1 "$T/out-pipe.raw" 2>"$T/err" >/dev/null
[ ! -s "$T/err" ] || fail "progress output without a terminal: $(cat "$T/err")"

# export to stdout (a pipe: written in order, not sparse)
[ "$(ctl volume export disk1 - | head -c "$isize" | sha256sum)" = "$(sha256sum <"$img")" ] ||
    fail "export to stdout differs"

# --- 4096-byte sectors, a --size larger than the image, --from-image -------------------------
head -c 1000000 /dev/urandom >"$T/small.raw"
ctl volume import disk2 --from-image "$T/small.raw" --sector-size 4096 --size 2M --key alias/envol/ebs >/dev/null
ctl --json volume show disk2 | jq -e '.size == 2097152 and .sector_size == 4096' >/dev/null || fail "disk2 shape"
ctl volume export disk2 "$T/out2.raw" >/dev/null
cmp -n 1000000 "$T/small.raw" "$T/out2.raw" || fail "disk2 data"
cmp <(tail -c $((2097152 - 1000000)) "$T/out2.raw") <(head -c $((2097152 - 1000000)) /dev/zero) || fail "disk2 padding"

expect_fail 1 "smaller than" ctl volume import "$T/small.raw" disk3 --size 512K
expect_fail 1 "already exists" ctl volume import "$T/small.raw" disk1
expect_fail 1 "cannot open" ctl volume import "$T/nope.raw" disk3
expect_fail 1 "disk9" ctl volume export disk9 "$T/x.raw"
expect_fail 2 "usage" ctl volume export disk1

# the volume is detached again once the transfer is over
for ((i = 0; i < 50; i++)); do
    [ "$(ctl --json volume show disk1 | jq -r .attached)" = false ] && break
    sleep 0.1
done
[ "$(ctl --json volume show disk1 | jq -r .attached)" = false ] || fail "disk1 still attached after export"
ctl volume delete disk1 >/dev/null
echo PASS
