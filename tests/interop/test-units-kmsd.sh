#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-units-kmsd.sh — units/envol-kmsd.service and .socket pass `systemd-analyze verify` with no
# error or warning (ExecStart pointed at the built binary in a temporary copy), and
# `systemd-analyze security --offline` rates the service at exposure 2.0 or better.
source "$(dirname "$0")/functions.sh"
requires systemd-analyze
[ -x "$BIN/envol-kmsd" ] || fail "$BIN/envol-kmsd is not built"

envol_tmpdir
U=$T/units
mkdir -p "$U"
cp "$ENVOL_SOURCE_DIR/units/envol-kmsd.service" "$ENVOL_SOURCE_DIR/units/envol-kmsd.socket" "$U/"
sed -i "s|^ExecStart=/usr/sbin/envol-kmsd |ExecStart=$BIN/envol-kmsd |" "$U/envol-kmsd.service"
grep -q "^ExecStart=$BIN/envol-kmsd -c " "$U/envol-kmsd.service" || fail "ExecStart not rewritten"
grep -q '^Type=notify$' "$U/envol-kmsd.service" || fail "the service must be Type=notify"
grep -q '^ListenStream=/run/envol/kms.sock$' "$U/envol-kmsd.socket" || fail "ListenStream"
grep -q '^SocketMode=0660$' "$U/envol-kmsd.socket" || fail "SocketMode"

# --man=no: the man page is not installed in the build tree.
rc=0
(cd "$U" && systemd-analyze verify --man=no ./envol-kmsd.socket ./envol-kmsd.service) \
    >"$T/verify.log" 2>&1 || rc=$?
cat "$T/verify.log"
[ "$rc" -eq 0 ] || fail "systemd-analyze verify failed ($rc)"
if grep -E 'envol-kmsd\.(service|socket)' "$T/verify.log"; then
    fail "systemd-analyze verify reported problems in the units"
fi

if systemd-analyze security --help 2>&1 | grep -q -- '--offline'; then
    (cd "$U" && systemd-analyze security --offline=true ./envol-kmsd.service) >"$T/sec.log" 2>&1 || true
    level=$(sed -n 's/.*Overall exposure level for envol-kmsd.service: \([0-9.]*\).*/\1/p' "$T/sec.log")
    [ -n "$level" ] || { cat "$T/sec.log"; fail "no exposure level from systemd-analyze security"; }
    echo "systemd-analyze security: exposure $level"
    awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }' || fail "exposure level $level is above 2.0"
fi
echo OK
