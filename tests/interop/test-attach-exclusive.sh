#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-attach-exclusive.sh — one writer per volume, and a tampered header is refused:
# a second envold (own runtime dir and socket, same volume_dir) cannot attach a volume the
# first one has attached: its handshake fails with a message naming the holder; once the first
# detaches, the second can (and sees the data), and then the first is refused in turn.  A
# sealed volume whose header bytes were changed on disk is refused with a clear message, envold
# keeps serving other volumes, and the restored header attaches again.
source "$(dirname "$0")/functions.sh"
requires jq nbdinfo
/usr/bin/python3 -c 'import nbd' 2>/dev/null || { echo "$0: skipped: python3-libnbd missing"; exit 77; }

envol_tmpdir
write_config
start_kmsd
start_envold

# The second envold: same state (volume_dir), its own runtime dir, the same KMS.
mkdir -p "$T/run2"
sed "s|^runtime_dir = .*|runtime_dir = \"$T/run2\";|" "$CONF" >"$T/envol2.conf"
printf 'client: {\n  kms_socket = "%s";\n};\n' "$T/run/kms.sock" >>"$T/envol2.conf"
"$BIN/envold" -c "$T/envol2.conf" >"$T/envold2.log" 2>&1 &
ENVOLD2_PID=$!
cleanup_fn "kill $ENVOLD2_PID 2>/dev/null; wait $ENVOLD2_PID 2>/dev/null"
for ((i = 0; i < 100; i++)); do [ -S "$T/run2/nbd.sock" ] && break; sleep 0.1; done
[ -S "$T/run2/nbd.sock" ] || { cat "$T/envold2.log"; fail "second envold did not start"; }

ctl volume create ex --size 8M
ctl volume create other --size 8M
uri1=$(attach_uri ex "$T/run/nbd.sock")
uri2=$(attach_uri ex "$T/run2/nbd.sock")

# refused_by URI HOLDER_PID: a client of URI is refused, naming the process holding the volume.
refused_by() {
    attach_refused "$1" || fail "$1: attached although pid $2 holds the volume"
    grep -q "pid $2\b" <<<"$REFUSAL" || fail "$1: refusal does not name the holder (pid $2): $REFUSAL"
    echo "refused as expected: $REFUSAL"
}

holder_open a "$uri1" || fail "first envold: attach refused: $HOLDER_MSG"
holder_cmd a write 0 262144 from-first || fail "write through the first envold"
refused_by "$uri2" "$ENVOLD_PID"
holder_cmd a read 0 262144 from-first || fail "first envold's client disturbed by the refusal"
# The lock is per volume: the second envold serves another volume meanwhile.
! attach_refused "$(attach_uri other "$T/run2/nbd.sock")" ||
    fail "second envold cannot serve an unrelated volume: $REFUSAL"
holder_close a
attach_wait_detached ex

holder_open b "$uri2" || fail "second envold: attach after the first detached: $HOLDER_MSG"
holder_cmd b read 0 262144 from-first || fail "second envold reads other data"
refused_by "$uri1" "$ENVOLD2_PID"
holder_close b
attach_wait_detached ex

# Tampering.  The volume has been attached, so its header is sealed (MAC checked on attach).
[ "$(ctl --json volume show ex | jq -r .mac_pending)" = false ] ||
    fail "volume still mac_pending after an attach"
backing=$T/state/volumes/ex.vol
hdr() { $PY "$ENVOL_SOURCE_DIR/tests/interop/test-attach-header.py" "$@"; }
dd if="$backing" of="$T/header.orig" bs=1M count=1 status=none
restore() { dd if="$T/header.orig" of="$backing" bs=1M count=1 conv=notrunc status=none; }
hdr info "$backing"

# refused_tampered WHAT REGEX: attaching ex is refused with a message matching REGEX.
refused_tampered() {
    attach_refused "$uri1" || fail "$1: the tampered volume was attached"
    grep -qiE "$2" <<<"$REFUSAL" || fail "$1: unclear refusal: $REFUSAL"
    echo "$1: refused: $REFUSAL"
    kill -0 "$ENVOLD_PID" || fail "envold died on a tampered header ($1)"
}

# Changed fields under a recomputed checksum: only the header MAC can tell.
hdr tamper "$backing" active arn
# (the grant is asked for on the header's key ARN, which the KMS does not know once changed)
refused_tampered "key ARN changed, checksum fixed" "MAC|tamper|not found"
restore
hdr tamper "$backing" active size
refused_tampered "size halved, checksum fixed" "MAC|tamper"
restore
# Broken checksums in both slots.
hdr tamper "$backing" A arn nofix
hdr tamper "$backing" B arn nofix
refused_tampered "both slots corrupted" "checksum|corrupt|no valid|header"
restore
# Rollback: the sealed slot corrupted, the older slot's size changed (checksum fixed).  The
# older slot must not be trusted without a MAC (a leftover unsealed slot would be).
if hdr tamper "$backing" inactive size; then
    hdr tamper "$backing" active arn nofix
    refused_tampered "sealed slot corrupted, older slot altered" "MAC|tamper|checksum|header"
    restore
else
    hdr tamper "$backing" active arn nofix
    refused_tampered "the only valid slot corrupted" "checksum|corrupt|no valid|header"
    restore
fi
kill -0 "$ENVOLD_PID" || fail "envold died on a tampered header"
holder_open c "$(attach_uri other)" || fail "envold stopped serving other volumes: $HOLDER_MSG"
holder_cmd c write 4096 8192 still-serving || fail "write to another volume"
holder_close c

dd if="$T/header.orig" of="$backing" bs=1M count=1 conv=notrunc status=none
holder_open d "$uri1" || fail "restored header refused: $HOLDER_MSG"
holder_cmd d read 0 262144 from-first || fail "data after restoring the header"
holder_close d
echo "test-attach-exclusive: ok"
