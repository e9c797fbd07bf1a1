#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-envolctl-key.sh — envolctl key … against a real envol-kmsd on its Unix socket:
# create (alias, description, tags, --json), list (table and --json through jq), show by id,
# ARN, alias name, alias ARN and bare name, alias (create and re-point), disable/enable,
# rotation on/off, rotate (old ciphertexts still decrypt), schedule-delete/cancel-delete,
# encrypt/decrypt of files with an encryption context (plaintext written 0600), and the errors:
# unknown key, wrong context, disabled key, oversized plaintext, usage, KMS stopped.
source "$(dirname "$0")/functions.sh"
requires jq cmp
[ -x "$BIN/envol-kmsd" ] || { echo "$0: skipped: $BIN/envol-kmsd not built"; exit 77; }

envol_tmpdir
write_config
start_kmsd

# --- create -----------------------------------------------------------------------------
out=$(ctl key create --description "test key one" --alias alias/test1 --tag team=storage)
id=$(sed -n 's/^KeyId: *//p' <<<"$out")
arn=$(sed -n 's/^Arn: *//p' <<<"$out")
[[ $id =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] || fail "create: bad KeyId in: $out"
[ "$arn" = "arn:aws:kms:local:000000000000:key/$id" ] || fail "create: Arn is '$arn'"
grep -q '^Alias: alias/test1$' <<<"$out" || fail "create: alias not reported: $out"

ctl --json key create --description two >"$T/create2.json"
id2=$(jq -r .KeyMetadata.KeyId "$T/create2.json")
[ "$(jq -r .KeyMetadata.KeyState "$T/create2.json")" = Enabled ] || fail "create --json: state"
[ "$(jq -r .KeyMetadata.Description "$T/create2.json")" = two ] || fail "create --json: description"
[ "$id2" != "$id" ] || fail "two keys share an id"

# --- list -------------------------------------------------------------------------------
ctl key list >"$T/list.txt"
head -1 "$T/list.txt" | grep -Eq '^KEY ID +ALIAS +STATE +MANAGER +ROTATION +DESCRIPTION$' ||
    fail "key list header: $(head -1 "$T/list.txt")"
grep -E "^$id +alias/test1 +Enabled +CUSTOMER +off +test key one$" "$T/list.txt" >/dev/null ||
    { cat "$T/list.txt"; fail "key list row of $id"; }
grep -q "^$id2 " "$T/list.txt" || fail "key list lacks $id2"
# the columns line up: ALIAS starts at the same offset in every line
col=$(awk 'NR==1 {print index($0, "ALIAS")}' "$T/list.txt")
awk -v c="$col" 'NR>1 && substr($0, c-2, 2) != "  " {exit 1}' "$T/list.txt" || fail "columns not aligned"

ctl --json key list >"$T/list.json"
[ "$(jq "[.[] | select(.KeyId == \"$id\")] | length" "$T/list.json")" = 1 ] || fail "list --json lacks $id"
[ "$(jq -r ".[] | select(.KeyId == \"$id\") | .Aliases[0]" "$T/list.json")" = alias/test1 ] ||
    fail "list --json: alias of $id"
[ "$(jq -r ".[] | select(.KeyId == \"$id\") | .KeyRotationEnabled" "$T/list.json")" = false ] ||
    fail "list --json: rotation of $id"

# --- show by every KEY form ---------------------------------------------------------------
for k in "$id" "$arn" alias/test1 "arn:aws:kms:local:000000000000:alias/test1" test1; do
    got=$(ctl --json key show "$k" | jq -r .KeyMetadata.KeyId)
    [ "$got" = "$id" ] || fail "key show $k gave '$got'"
done
ctl key show alias/test1 >"$T/show.txt"
grep -Eq "^KeyId: +$id$" "$T/show.txt" || fail "show: KeyId line"
grep -Eq "^Aliases: +alias/test1$" "$T/show.txt" || fail "show: Aliases line"
grep -Eq "^State: +Enabled$" "$T/show.txt" || fail "show: State line"
grep -Eq "^Created: +20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$" "$T/show.txt" || fail "show: Created line"

# --- alias ------------------------------------------------------------------------------
ctl key alias "$id2" alias/second >/dev/null
[ "$(ctl --json key show second | jq -r .KeyMetadata.KeyId)" = "$id2" ] || fail "alias second"
ctl key alias "$id" second >/dev/null        # re-point an existing alias (UpdateAlias)
[ "$(ctl --json key show alias/second | jq -r .KeyMetadata.KeyId)" = "$id" ] || fail "alias re-point"
expect_fail 2 "alias/NAME" ctl key alias "$id" "alias/bad name"
expect_fail 2 "not alias/aws" ctl key alias "$id" alias/aws/ebs

# --- encrypt / decrypt ----------------------------------------------------------------------
head -c 3000 /dev/urandom >"$T/plain.bin"
ctl key encrypt alias/test1 "$T/plain.bin" "$T/ct.bin" --context purpose=test --context app=envol >/dev/null
[ -s "$T/ct.bin" ] || fail "encrypt wrote nothing"
! cmp -s "$T/plain.bin" "$T/ct.bin" || fail "ciphertext equals plaintext"
ctl key decrypt "$T/ct.bin" "$T/back.bin" --context app=envol --context purpose=test >"$T/dec.txt"
cmp "$T/plain.bin" "$T/back.bin" || fail "decrypt round trip differs"
[ "$(stat -c %a "$T/back.bin")" = 600 ] || fail "decrypted file mode is $(stat -c %a "$T/back.bin")"
grep -q "$id" "$T/dec.txt" || fail "decrypt does not name the key"
# an existing, world-readable output file is made 0600 too
install -m 0644 /dev/null "$T/back2.bin"
ctl key decrypt "$T/ct.bin" "$T/back2.bin" --context app=envol --context purpose=test >/dev/null
[ "$(stat -c %a "$T/back2.bin")" = 600 ] || fail "existing output not made 0600"
# --json output of decrypt is metadata only, never the plaintext
ctl --json key decrypt "$T/ct.bin" "$T/back3.bin" --context app=envol --context purpose=test >"$T/dec.json"
[ "$(jq -r .KeyId "$T/dec.json")" = "$arn" ] || fail "decrypt --json KeyId"
[ "$(jq -r .Bytes "$T/dec.json")" = 3000 ] || fail "decrypt --json Bytes"
expect_fail 1 "InvalidCiphertextException" ctl key decrypt "$T/ct.bin" "$T/x" --context purpose=other --context app=envol
expect_fail 1 "InvalidCiphertextException" ctl key decrypt "$T/ct.bin" "$T/x"
[ ! -e "$T/x" ] || fail "failed decrypt left an output file"
head -c 4097 /dev/urandom >"$T/big.bin"
expect_fail 1 "4096 bytes" ctl key encrypt "$id" "$T/big.bin" "$T/x"
expect_fail 2 "KEY=VALUE" ctl key encrypt "$id" "$T/plain.bin" "$T/x" --context novalue

# --- disable / enable -----------------------------------------------------------------------
ctl key disable alias/test1 | grep -q disabled || fail "disable output"
[ "$(ctl --json key show "$id" | jq -r .KeyMetadata.KeyState)" = Disabled ] || fail "not Disabled"
expect_fail 1 "DisabledException" ctl key encrypt "$id" "$T/plain.bin" "$T/x"
grep -q "envolctl key enable" "$T/err" || fail "disabled error gives no advice"
ctl key enable "$arn" >/dev/null
[ "$(ctl --json key show "$id" | jq -r .KeyMetadata.KeyState)" = Enabled ] || fail "not Enabled"

# --- rotation ---------------------------------------------------------------------------------
ctl key rotation "$id" on --days 90 | grep -q "every 90 days" || fail "rotation on output"
ctl --json key list >"$T/list.json"
[ "$(jq -r ".[] | select(.KeyId == \"$id\") | .KeyRotationEnabled" "$T/list.json")" = true ] || fail "rotation not on"
[ "$(jq -r ".[] | select(.KeyId == \"$id\") | .RotationPeriodInDays" "$T/list.json")" = 90 ] || fail "rotation period"
ctl key list | grep -E "^$id " | grep -q "on (90 days)" || fail "list: rotation column"
ctl key rotation "$id" off >/dev/null
[ "$(ctl --json key list | jq -r ".[] | select(.KeyId == \"$id\") | .KeyRotationEnabled")" = false ] || fail "rotation not off"
expect_fail 2 "90 to 2560" ctl key rotation "$id" on --days 30
expect_fail 2 "usage" ctl key rotation "$id" maybe
ctl key rotate "$id" | grep -q rotated || fail "rotate output"
ctl key decrypt "$T/ct.bin" "$T/back4.bin" --context app=envol --context purpose=test >/dev/null
cmp "$T/plain.bin" "$T/back4.bin" || fail "ciphertext from before the rotation no longer decrypts"

# --- scheduled deletion -------------------------------------------------------------------------
expect_fail 2 "7 to 30" ctl key schedule-delete "$id2" --days 6
ctl key schedule-delete "$id2" --days 7 >"$T/sd.txt"
grep -q "cancel-delete $id2" "$T/sd.txt" || fail "schedule-delete gives no undo"
[ "$(ctl --json key show "$id2" | jq -r .KeyMetadata.KeyState)" = PendingDeletion ] || fail "not PendingDeletion"
expect_fail 1 "KMSInvalidStateException" ctl key encrypt "$id2" "$T/plain.bin" "$T/x"
ctl key cancel-delete "$id2" >/dev/null
[ "$(ctl --json key show "$id2" | jq -r .KeyMetadata.KeyState)" = Disabled ] || fail "cancel-delete: not Disabled"

# --- errors ---------------------------------------------------------------------------------------
expect_fail 1 "NotFoundException" ctl key show 11111111-2222-4333-8444-555555555555
grep -q "see envolctl key list" "$T/err" || fail "unknown key: no advice"
expect_fail 1 "NotFoundException" ctl key show alias/nope
expect_fail 2 "not a key id" ctl key show "arn:aws:s3:::bucket"
# As AWS's aws/ebs: the managed key's policy allows no DisableKey, to anyone.
expect_fail 1 "AccessDeniedException: .*kms:DisableKey" ctl key disable alias/envol/ebs
expect_fail 1 "DisabledException: .* is disabled; enable it with envolctl key enable $id2" \
    ctl key encrypt "$id2" "$T/plain.bin" "$T/x"
expect_fail 2 "unknown command" ctl key frobnicate
expect_fail 2 "" ctl key show
expect_fail 2 "no command" ctl

# --- KMS stopped ------------------------------------------------------------------------------------
kill "$KMSD_PID"; wait "$KMSD_PID" 2>/dev/null || true
expect_fail 1 "KMS unreachable at $T/run/kms.sock: is envol-kmsd running? (systemctl start envol-kmsd)" ctl key list
echo "PASS"
