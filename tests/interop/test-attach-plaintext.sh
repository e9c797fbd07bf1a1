#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-attach-plaintext.sh — what reaches the disk is ciphertext, and it is exactly dm-crypt's
# aes-xts-plain64 of what was written: known plaintext (a repeated marker, random bytes) goes in
# through envold with nbdcopy; the backing file holds no marker and no 64-byte window of the
# random bytes; an admin fetches the DEK with the real aws CLI (Decrypt with the volume's
# encryption context) and python3-cryptography's AES-XTS decrypts the data area to exactly the
# image written; for both sector sizes.  cryptsetup plain mode too, where device-mapper exists.
source "$(dirname "$0")/functions.sh"
requires jq nbdcopy base64 cmp
[ -x "$AWS" ] || { echo "$0: skipped: $AWS missing"; exit 77; }

envol_tmpdir
KMS_LISTEN=127.0.0.1:$(free_port)
write_config "$KMS_LISTEN"
start_kmsd
start_envold

ctl key create --alias alias/plain --description "attach-plaintext test" >/dev/null
marker="ENVOL-PLAINTEXT-MARKER-$$-$RANDOM-do-not-leak"
size=$((24 << 20))

# The image: the marker repeated over the first MiB, 6 MiB of random bytes at 5 MiB + 4 KiB,
# zeros, a text block with the marker at 20 MiB - 1000 (crossing sectors), zeros to the end.
head -c $((6 << 20)) /dev/urandom >"$T/random"
$PY - "$T/image" "$marker" "$T/random" "$size" <<'EOF'
import sys
path, marker, rnd, size = sys.argv[1], sys.argv[2].encode(), sys.argv[3], int(sys.argv[4])
img = bytearray(size)
m = (marker + b"\n") * ((1 << 20) // (len(marker) + 1))
img[0:len(m)] = m
r = open(rnd, "rb").read()
img[(5 << 20) + 4096:(5 << 20) + 4096 + len(r)] = r
t = b"".join(b"line %d: %s\n" % (i, marker) for i in range(200))
img[(20 << 20) - 1000:(20 << 20) - 1000 + len(t)] = t
open(path, "wb").write(img)
EOF

for ss in 512 4096; do
    name=plain$ss
    ctl volume create "$name" --size $size --key alias/plain --sector-size $ss
    nbdcopy "$T/image" "$(attach_uri "$name")"
    nbdcopy "$(attach_uri "$name")" "$T/back"
    cmp "$T/image" "$T/back" || fail "$name: data read back through envold differs"
    attach_wait_detached "$name"
    backing=$T/state/volumes/$name.vol
    [ -f "$backing" ] || fail "$name: no backing file $backing"

    # 1. No plaintext on disk.
    $PY "$ENVOL_SOURCE_DIR/tests/interop/test-attach-scan.py" noplain "$backing" "$marker" \
        "$T/random" || fail "$name: plaintext found in the backing file"
    [ "$(grep -c -a -F "$marker" "$backing" || true)" = 0 ] || fail "$name: grep finds the marker"

    # 2. The DEK, fetched by an admin through the real aws CLI, decrypts the data area.
    ctl --json volume show "$name" >"$T/show.json"
    uuid=$(jq -r .volume_id "$T/show.json")
    [ "$(jq -r .sector_size "$T/show.json")" = $ss ] || fail "$name: sector_size not $ss"
    [ "$(jq -r .cipher "$T/show.json")" = aes-xts-plain64 ] || fail "$name: cipher"
    [ "$(jq -r '.encryption_context["envol:volume-id"]' "$T/show.json")" = "$uuid" ] ||
        fail "$name: encryption_context does not hold envol:volume-id = $uuid"
    data_offset=$(jq -r .data_offset "$T/show.json")
    [ "$data_offset" = 1048576 ] || fail "$name: data_offset $data_offset, want 1048576"
    jq -r .ciphertext_blob "$T/show.json" | base64 -d >"$T/blob"
    aws_kms decrypt --ciphertext-blob "fileb://$T/blob" \
        --encryption-context "$(jq -c .encryption_context "$T/show.json")" \
        --query Plaintext --output text | base64 -d >"$T/dek"
    [ "$(stat -c %s "$T/dek")" = 64 ] || fail "$name: Decrypt gave $(stat -c %s "$T/dek") bytes"
    $PY "$ENVOL_SOURCE_DIR/tests/interop/test-attach-scan.py" decrypt "$backing" "$T/dek" \
        $ss "$data_offset" "$T/image" || fail "$name: the data area does not decrypt"

    # The encryption context is bound: another volume id does not unwrap this DEK.
    if aws_kms decrypt --ciphertext-blob "fileb://$T/blob" \
        --encryption-context '{"envol:volume-id":"00000000-0000-0000-0000-000000000000"}' \
        >"$T/wrongctx.out" 2>&1; then
        fail "$name: Decrypt succeeded with a wrong encryption context"
    fi
    grep -q InvalidCiphertextException "$T/wrongctx.out" ||
        fail "$name: wrong context: $(cat "$T/wrongctx.out")"

    # 3. The escape hatch: dm-crypt plain mode reads the same data (needs device-mapper).
    if [ -e /dev/mapper/control ] && command -v cryptsetup >/dev/null; then
        dm=envol-test-$$-$ss
        if cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 512 \
            --sector-size $ss --iv-large-sectors --offset 2048 --size $((size / 512)) \
            --key-file "$T/dek" "$backing" "$dm" 2>"$T/cryptsetup.log"; then
            cleanup_fn "cryptsetup close '$dm'"
            $PY "$ENVOL_SOURCE_DIR/tests/interop/test-attach-scan.py" devcmp "/dev/mapper/$dm" \
                "$backing" $ss "$data_offset" "$T/image" ||
                fail "$name: cryptsetup plain mode reads other data"
            cryptsetup close "$dm"
            echo "$name: cryptsetup plain mode reads the data written"
        fi
    fi
    rm -f "$T/dek" "$T/back"
done
echo "test-attach-plaintext: ok"
