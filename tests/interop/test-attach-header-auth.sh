#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-attach-header-auth.sh — issue 9 item 5, through the real KMS and envold: every header
# field that decides how sectors are read, changed on disk under a valid checksum (both slots,
# so no genuine slot is left), is refused at attach, for a fresh volume (MAC pending), a
# sealed one and a rekeyed one (MAC pending again); the forgery of the issue (MAC_PENDING set,
# size or read-only flag changed) is never sealed; the genuine header attaches again after each.
# The context binds the parameters: a Decrypt with the id alone fails.
source "$(dirname "$0")/functions.sh"
requires jq nbdinfo

envol_tmpdir
write_config
start_kmsd
start_envold

hdr() { $PY "$ENVOL_SOURCE_DIR/tests/interop/test-attach-header.py" "$@"; }
backing=$T/state/volumes/hv.vol
uri=$(attach_uri hv)

# A key of its own: the managed key's blobs decrypt only through envold's grants, and this
# test decrypts the blob directly below.
ctl key create --alias alias/hv >/dev/null
ctl volume create hv --size 8M --key alias/hv >/dev/null
ctl --json volume show hv >"$T/show.json"
jq -e '.bound == true and .encryption_context["envol:size"] == "8388608" and
    .encryption_context["envol:sector-size"] == "512" and
    .encryption_context["envol:read-only"] == "false" and
    .encryption_context["envol:cipher"] == "aes-xts-plain64" and
    .encryption_context["envol:data-offset"] == "1048576" and
    .encryption_context["envol:format"] == "1"' "$T/show.json" >/dev/null ||
    { cat "$T/show.json"; fail "the context does not bind the parameters"; }
# The KMS authenticates the whole context: the id alone does not unwrap the blob.
jq -r .ciphertext_blob "$T/show.json" | base64 -d >"$T/blob"
expect_fail 1 InvalidCiphertextException ctl key decrypt "$T/blob" "$T/dek" \
    --context "envol:volume-id=$(jq -r .volume_id "$T/show.json")"

FIELDS=(version sector_size size data_offset cipher read_only uuid pending_size pending_read_only)

# check_state STATE: every field tampered in both slots is refused; nothing is sealed.
check_state() {
    local state=$1 what
    dd if="$backing" of="$T/header.orig" bs=1M count=1 status=none
    for what in "${FIELDS[@]}"; do
        hdr tamper "$backing" both "$what" >/dev/null
        dd if="$backing" of="$T/header.forged" bs=1M count=1 status=none
        attach_refused "$uri" || fail "$state volume, $what changed: attached"
        grep -qiE "MAC|tamper|header|context|version|checksum" <<<"$REFUSAL" ||
            fail "$state volume, $what changed: unclear refusal: $REFUSAL"
        echo "$state, $what: refused: $REFUSAL"
        dd if="$backing" of="$T/header.after" bs=1M count=1 status=none
        cmp -s "$T/header.forged" "$T/header.after" ||
            fail "$state volume, $what changed: the header was rewritten (sealed?)"
        kill -0 "$ENVOLD_PID" || fail "envold died ($state, $what)"
        dd if="$T/header.orig" of="$backing" bs=1M count=1 conv=notrunc status=none
    done
    ! attach_refused "$uri" || fail "$state volume: the restored header is refused: $REFUSAL"
    attach_wait_detached hv
}

check_state fresh
[ "$(ctl --json volume show hv | jq -r .mac_pending)" = false ] ||
    fail "a writable attach did not seal the fresh volume"
check_state sealed
ctl volume rekey hv >/dev/null
[ "$(ctl --json volume show hv | jq -r '.mac_pending, .bound' | tr '\n' ' ')" = "true true " ] ||
    fail "rekey: not a bound MAC-pending header"
check_state rekeyed

# rekey refuses a header whose key ARN is not the blob's key (an altered ARN under a forged
# MAC_PENDING would otherwise choose the key the data key is rewrapped under).
other=$(ctl --json key create --alias alias/other | jq -r .KeyMetadata.Arn)
hdr tamper "$backing" both "arn=$other" >/dev/null
ctl volume show hv --json >"$T/before.json"
[ "$(jq -r .key_arn "$T/before.json")" = "$other" ] || fail "the key ARN was not changed"
out=$(ctl volume rekey hv 2>&1) && fail "rekey of a header with an altered key ARN succeeded"
grep -q "the header was altered" <<<"$out" || fail "rekey: unclear refusal: $out"
ctl volume show hv --json >"$T/after.json"
[ "$(jq -r .ciphertext_blob "$T/before.json")" = "$(jq -r .ciphertext_blob "$T/after.json")" ] ||
    fail "rekey wrote a new blob into an altered header"
echo "test-attach-header-auth: ok"
