#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-envolctl-volume.sh — envolctl volume create|list|show|delete|rekey with a real
# envol-kmsd (no envold needed): the header's CiphertextBlob unwraps through the KMS with the
# envol:volume-id context to a 64-byte DEK; rekey under another key and under the newest
# version of the same key keeps the DEK; attached volumes (an OFD lock holder) are refused
# with the holder named; show reports key_state Unknown when the KMS is down.
source "$(dirname "$0")/functions.sh"
requires jq base64 cmp
[ -x "$BIN/envol-kmsd" ] || { echo "$0: skipped: $BIN/envol-kmsd not built"; exit 77; }

envol_tmpdir
write_config
rm -rf "$T/state/volumes"      # envolctl creates the volume directory (0700)
start_kmsd
# dek NAME OUT — unwrap a volume's CiphertextBlob through the KMS (as an admin) into OUT.
dek() {
    ctl --json volume show "$1" >"$T/show-$1.json"
    jq -r .ciphertext_blob "$T/show-$1.json" | base64 -d >"$T/blob-$1.bin"
    # the volume's whole encryption context (the id and the parameters it binds)
    mapfile -t ctxargs < <(jq -r '.encryption_context | to_entries[] | "--context", "\(.key)=\(.value)"' "$T/show-$1.json")
    ctl key decrypt "$T/blob-$1.bin" "$2" "${ctxargs[@]}" >/dev/null
    [ "$(stat -c %s "$2")" = 64 ] || fail "DEK of $1 is not 64 bytes"
}

# --- create ---------------------------------------------------------------------------------
uuid=$(ctl volume create v1 --size 64M)
[[ $uuid =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] || fail "create printed '$uuid'"
[ -f "$T/state/volumes/v1.vol" ] || fail "no v1.vol"
[ "$(stat -c %a "$T/state/volumes")" = 700 ] || fail "volume dir mode $(stat -c %a "$T/state/volumes")"
[ "$(stat -c %s "$T/state/volumes/v1.vol")" = $((64 * 1048576 + 1048576)) ] || fail "v1.vol size"
[ "$(stat -c %b "$T/state/volumes/v1.vol")" -lt 8192 ] || fail "v1.vol is not sparse"

ctl volume show v1 --json >"$T/v1.json"
jq -e --arg u "$uuid" --arg p "$T/state/volumes/v1.vol" '
    .name == "v1" and .path == $p and .volume_id == $u and .size == 67108864 and
    .sector_size == 512 and .cipher == "aes-xts-plain64" and .data_offset == 1048576 and
    .key_state == "Enabled" and .encryption_context["envol:volume-id"] == $u and
    .read_only == false and .mac_pending == true and .attached == false and .bound == true and
    .encryption_context["envol:size"] == "67108864" and
    .encryption_context["envol:sector-size"] == "512" and
    (.created | test("^20[0-9-]{8}T[0-9:]{8}Z$"))' "$T/v1.json" >/dev/null ||
    { cat "$T/v1.json"; fail "show --json v1"; }
managed=$(ctl --json key show alias/envol/ebs | jq -r .KeyMetadata.Arn)
[ "$(jq -r .key_arn "$T/v1.json")" = "$managed" ] || fail "v1 is not under alias/envol/ebs"
[ "$(ctl --json key show alias/envol/ebs | jq -r .KeyMetadata.KeyManager)" = AWS ] || fail "managed key manager"
# the managed key's policy (aws/ebs-shaped): its blobs decrypt only through envold's grants
jq -r .ciphertext_blob "$T/v1.json" | base64 -d >"$T/blob-v1.bin"
mapfile -t ctxargs < <(jq -r '.encryption_context | to_entries[] | "--context", "\(.key)=\(.value)"' "$T/v1.json")
expect_fail 1 "AccessDeniedException: User: arn:aws:iam::000000000000:user/unix/root is not authorized to perform: kms:Decrypt" \
    ctl key decrypt "$T/blob-v1.bin" "$T/dek0.bin" "${ctxargs[@]}"

key=$(ctl --json key create --alias alias/vols | jq -r .KeyMetadata.KeyId)
ctl volume create v2 --size 1G --key vols --sector-size 4096 --read-only >/dev/null
ctl --json volume show v2 | jq -e --arg k "$key" '.sector_size == 4096 and .read_only == true and
    (.key_arn | endswith($k)) and .size == 1073741824' >/dev/null || fail "show v2"

expect_fail 1 "already exists" ctl volume create v1 --size 1M
expect_fail 2 "not a multiple of the sector size 4096" ctl volume create v3 --size 6K --sector-size 4096
expect_fail 2 "at least one sector" ctl volume create v3 --size 0
expect_fail 2 "512 or 4096" ctl volume create v3 --size 1M --sector-size 1024
expect_fail 2 "usage" ctl volume create v3
expect_fail 1 "not a valid volume name" ctl volume create .hidden --size 1M
expect_fail 1 "NotFoundException" ctl volume create v3 --size 1M --key alias/none
[ ! -e "$T/state/volumes/v3.vol" ] || fail "a failed create left v3.vol"

# --- list -------------------------------------------------------------------------------------
ctl volume list >"$T/list.txt"
head -1 "$T/list.txt" | grep -Eq '^NAME +SIZE +SECTOR +KEY +STATE +ATTACHED$' || fail "list header"
grep -Eq "^v1 +64 MiB +512 +${managed##*/} +Enabled +no$" "$T/list.txt" || { cat "$T/list.txt"; fail "list v1"; }
grep -Eq "^v2 +1 GiB +4096 +$key +Enabled +no$" "$T/list.txt" || { cat "$T/list.txt"; fail "list v2"; }
[ "$(ctl --json volume list | jq -r '[.[].name] | join(",")')" = v1,v2 ] || fail "list --json"
ctl key disable vols >/dev/null
grep -Eq "^v2 .* Disabled +no$" <(ctl volume list) || fail "list: key state not Disabled"
ctl key enable vols >/dev/null

# --- rekey --------------------------------------------------------------------------------------
# nor re-encrypt: a volume under the managed key is not rekeyed by envolctl
expect_fail 1 "AccessDeniedException: .*kms:ReEncryptFrom" ctl volume rekey v1 --key alias/vols
# so rekey a volume under a key of one's own (v5, deleted after this section)
ctl key create --alias alias/vols5 >/dev/null
uuid5=$(ctl volume create v5 --size 64M --key alias/vols5)
ctl --json volume show v5 >"$T/v5.json"
dek v5 "$T/dek1.bin"
old_blob=$(jq -r .ciphertext_blob "$T/v5.json")
ctl volume rekey v5 --key alias/vols | grep -q "rewrapped under arn:aws:kms:local:000000000000:key/$key" || fail "rekey output"
ctl --json volume show v5 >"$T/v5b.json"
[ "$(jq -r .key_arn "$T/v5b.json")" = "arn:aws:kms:local:000000000000:key/$key" ] || fail "rekey: key_arn"
[ "$(jq -r .ciphertext_blob "$T/v5b.json")" != "$old_blob" ] || fail "rekey: blob unchanged"
[ "$(jq -r .volume_id "$T/v5b.json")" = "$uuid5" ] || fail "rekey: volume id changed"
dek v5 "$T/dek2.bin"
cmp "$T/dek1.bin" "$T/dek2.bin" || fail "rekey changed the DEK"
# rekey to the newest version of the same key
ctl key rotate vols >/dev/null
blob2=$(jq -r .ciphertext_blob "$T/v5b.json")
ctl volume rekey v5 >/dev/null
[ "$(ctl --json volume show v5 | jq -r .ciphertext_blob)" != "$blob2" ] || fail "rekey (same key): blob unchanged"
dek v5 "$T/dek3.bin"
cmp "$T/dek1.bin" "$T/dek3.bin" || fail "rekey (same key) changed the DEK"
expect_fail 1 "NotFoundException" ctl volume rekey v5 --key alias/none
dek v5 "$T/dek4.bin"   # a refused rekey leaves the volume as it was
cmp "$T/dek1.bin" "$T/dek4.bin" || fail "refused rekey damaged the volume"
ctl volume delete v5 --force >/dev/null

# --- attached volumes are refused ----------------------------------------------------------------
$PY - "$T/state/volumes/v2.vol" "$T/holder.fifo" <<'PY' &
import fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0))
open(sys.argv[2] + ".ready", "w").close()
time.sleep(60)
PY
HOLDER=$!
cleanup_fn "kill $HOLDER 2>/dev/null"
for ((i = 0; i < 50; i++)); do [ -e "$T/holder.fifo.ready" ] && break; sleep 0.1; done
[ "$(ctl --json volume show v2 | jq -r .attached)" = true ] || fail "locked v2 not attached"
grep -Eq "^v2 .* yes$" <(ctl volume list) || fail "list: v2 not attached"
expect_fail 1 "attached (open by pid $HOLDER" ctl volume delete v2 --force
expect_fail 1 "attached" ctl volume rekey v2
kill $HOLDER; wait $HOLDER 2>/dev/null || true

# --- KMS down: show still works ------------------------------------------------------------------
kill "$KMSD_PID"; wait "$KMSD_PID" 2>/dev/null || true
[ "$(ctl --json volume show v1 | jq -r .key_state)" = Unknown ] || fail "key_state with the KMS down"
ctl volume show v1 | grep -Eq "^key_state: +Unknown$" || fail "show: key_state line"
expect_fail 1 "KMS unreachable at $T/run/kms.sock" ctl volume create v4 --size 1M

# --- delete ----------------------------------------------------------------------------------------
if command -v script >/dev/null; then
    # on a terminal, delete asks first; "n" keeps the volume
    echo n | script -qec "$BIN/envolctl -c $CONF volume delete v2" /dev/null >"$T/tty.txt" || true
    grep -q "Delete volume v2?" "$T/tty.txt" || { cat "$T/tty.txt"; fail "no confirmation prompt"; }
    [ -e "$T/state/volumes/v2.vol" ] || fail "delete answered n removed v2"
fi
ctl volume delete v2 </dev/null | grep -q "volume v2 deleted" || fail "delete output"
[ ! -e "$T/state/volumes/v2.vol" ] || fail "v2.vol still there"
ctl volume delete v1 --force >/dev/null
[ "$(ctl --json volume list)" = "[]" ] || fail "volumes left after delete"
expect_fail 1 "does not exist" ctl volume delete v1
expect_fail 1 "does not exist" ctl volume show v1
echo PASS
