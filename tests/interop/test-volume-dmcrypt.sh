#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-volume-dmcrypt.sh — the dm-crypt guarantee (design.md, docs/format.md): data written
# through libenvol at aligned and unaligned offsets, then trimmed and zeroed in places, is
# exactly what aes-xts-plain64 (tweak = sector number LE, --iv-large-sectors) decrypts from the
# backing file's data area.  The decryption and the header check are an independent Python
# implementation (volume_dmcrypt.py, python3-cryptography), for sector sizes 512 and 4096.
source "$(dirname "$0")/functions.sh"

TOOL=$ENVOL_BUILD_DIR/tests/volume-tool
[ -x "$TOOL" ] || fail "$TOOL is not built"
CHECK="$PY $ENVOL_SOURCE_DIR/tests/interop/volume_dmcrypt.py"
envol_tmpdir

SIZE=$((8 << 20))

# put FILE OFFSET — write FILE into the expected image at OFFSET (bytes).
put() { dd if="$1" of="$T/expected" bs=65536 seek="$2" oflag=seek_bytes conv=notrunc status=none; }

# run_case S VOL BACKING — VOL is what libenvol opens (a file, or a loop device over BACKING).
run_case() {
    local S=$1 VOL=$2 BACKING=$3 i w off len blocks_before blocks_after out zeros DEK WRONG
    "$TOOL" create "$VOL" $SIZE $S >/dev/null
    # The DEK goes to the tool on stdin, never in argv.
    DEK=$($PY -c 'import os; print(os.urandom(64).hex())')
    truncate -s 0 "$T/expected"
    truncate -s $SIZE "$T/expected"

    # offset:length pairs — aligned, unaligned head/tail, inside one sector, across the
    # middle, and the last bytes of the volume.
    i=0
    for w in 0:$((3 * S)) 1000:5000 $((S + 7)):13 $((3 << 20)):65536 $(((3 << 20) + 17)):70001 \
             $((SIZE - 2 * S - 100)):$((2 * S + 100)) $((5 << 20)):$((1 << 20)); do
        off=${w%%:*} len=${w##*:}
        head -c "$len" /dev/urandom >"$T/data$i"
        echo "$DEK" | "$TOOL" write "$VOL" "$off" "$T/data$i" $([ $((i % 2)) = 0 ] && echo fua)
        put "$T/data$i" "$off"
        i=$((i + 1))
    done

    # Read back through libenvol.
    echo "$DEK" | "$TOOL" read "$VOL" 0 $SIZE "$T/readback"
    cmp "$T/readback" "$T/expected" || fail "sector size $S: libenvol read-back differs"

    # Trim (punches holes) and zero, with unaligned edges; the expected image gets zeros.
    blocks_before=$(stat -c %b "$BACKING")
    echo "$DEK" | "$TOOL" trim "$VOL" $(((5 << 20) + 100)) $(((1 << 20) - 300))
    head -c $(((1 << 20) - 300)) /dev/zero >"$T/z1"; put "$T/z1" $(((5 << 20) + 100))
    echo "$DEK" | "$TOOL" zero "$VOL" 1001 4000
    head -c 4000 /dev/zero >"$T/z2"; put "$T/z2" 1001
    blocks_after=$(stat -c %b "$BACKING")
    [ -b "$VOL" ] || [ "$blocks_after" -lt "$blocks_before" ] ||
        fail "sector size $S: trim punched no hole ($blocks_before -> $blocks_after blocks)"

    echo "$DEK" | "$TOOL" read "$VOL" 0 $SIZE "$T/readback"
    cmp "$T/readback" "$T/expected" || fail "sector size $S: read-back after trim differs"

    out=$(echo "$DEK" | $CHECK "$BACKING" "$T/expected") || fail "sector size $S: $out"
    echo "$out"
    grep -q "sector size $S\|sector_size $S" <<<"$out" || fail "header sector size is not $S"
    zeros=$(sed -n 's/.* \([0-9]*\) stored as zero bytes/\1/p' <<<"$out")
    [ "${zeros:-0}" -gt 0 ] || fail "sector size $S: never-written sectors are not stored as zeros"

    # A wrong DEK is refused by the header MAC, not silently used.
    WRONG=$($PY -c 'import os; print(os.urandom(64).hex())')
    if echo "$WRONG" | "$TOOL" read "$VOL" 0 512 "$T/x" 2>"$T/err"; then
        fail "a wrong DEK was accepted"
    fi
    grep -q "header MAC mismatch" "$T/err" || fail "wrong DEK: $(cat "$T/err")"
}

for S in 512 4096; do
    run_case $S "$T/v$S.vol" "$T/v$S.vol"
done

# The same through a block device (BLKGETSIZE64, BLKZEROOUT, punch on a bdev), when loop
# devices can be made here.
if command -v losetup >/dev/null && truncate -s $((SIZE + (4 << 20))) "$T/loop.img" &&
    LOOP=$(losetup -f --show "$T/loop.img" 2>/dev/null) && [ -b "$LOOP" ]; then
    cleanup_fn "losetup -d '$LOOP'"
    dd if=/dev/urandom of="$LOOP" bs=1M count=4 status=none # old contents must not show
    run_case 4096 "$LOOP" "$T/loop.img"
else
    echo "no loop device: block-device case skipped"
fi
echo "test-volume-dmcrypt: ok"
