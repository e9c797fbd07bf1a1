#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-xts-crosscheck.sh — libenvol's AES-256-XTS (plain64, sector sizes 512 and 4096, sector
# numbers up to 2^64-1) against an independent implementation, python3-cryptography, in both
# directions: random keys (os.urandom), random data, at least 20 combinations, through the
# default path and on every sector-cipher backend usable here.  The work is in
# test-xts-crosscheck.py; our side runs through build/tests/xts-tool.
source "$(dirname "$0")/functions.sh"

TOOL=$ENVOL_BUILD_DIR/tests/xts-tool
[ -x "$TOOL" ] || fail "$TOOL is not built"
$PY -c 'from cryptography.hazmat.primitives.ciphers import modes; modes.XTS' 2>/dev/null || {
    echo "$0: skipped: $PY has no cryptography module"
    exit 77
}

envol_tmpdir
$PY "$ENVOL_SOURCE_DIR/tests/interop/test-xts-crosscheck.py" "$TOOL" "$T" 24
