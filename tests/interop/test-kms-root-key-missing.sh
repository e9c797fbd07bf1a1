#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-kms-root-key-missing.sh — issue 9, item 14: with keys in kms.db and root.key gone,
# envol-kmsd refuses to start, writes nothing (no new root.key; kms.db and audit.log
# unchanged) and names the missing file and the docs section to follow.  With an empty store,
# a missing root.key is still made on first start.
source "$(dirname "$0")/functions.sh"
requires jq

envol_tmpdir
write_config
start_kmsd
S=$T/state
[ -s "$S/root.key" ] || fail "no root.key made on first start"
KEY=$(ctl --json key create --description precious | jq -r .KeyMetadata.KeyId)
[ -n "$KEY" ] || fail "CreateKey"
kill -TERM "$KMSD_PID"; wait "$KMSD_PID" || fail "envol-kmsd exited $? on SIGTERM"

mv "$S/root.key" "$T/root.key.saved"
before=$(cd "$S" && sha256sum kms.db* audit.log)
rc=0; "$BIN/envol-kmsd" -c "$CONF" >"$T/refused.log" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "envol-kmsd started without its root key"
[ ! -e "$S/root.key" ] || fail "a new root.key was made"
[ "$(cd "$S" && sha256sum kms.db* audit.log)" = "$before" ] || fail "the refused start wrote to the state"
grep -q "root key $S/root.key is missing" "$T/refused.log" || { cat "$T/refused.log"; fail "the missing file is not named"; }
grep -q 'docs/operations.md, "Backup and restore"' "$T/refused.log" || fail "the docs are not named"

mv "$T/root.key.saved" "$S/root.key"
start_kmsd
ctl key show "$KEY" >/dev/null || fail "the key after restoring root.key"
echo PASS
