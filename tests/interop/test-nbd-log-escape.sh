#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-nbd-log-escape.sh — issue 9 item 16 (envold): client strings are escaped in the log.
# An NBD_OPT_GO for an export name holding a newline, a forged log line, an escape sequence
# and other control bytes is refused, and the log gets exactly one line for it, with those
# bytes written as \xNN; no line of the log starts with the forged text.
source "$(dirname "$0")/functions.sh"

envol_tmpdir
write_config
start_kmsd
start_envold

PYTHONPATH=$ENVOL_SOURCE_DIR/tests/interop SOCK=$T/run/nbd.sock $PY - <<'PY'
import os, sys
import nbd_raw as raw
try:
    raw.connect(os.environ["SOCK"], "vol\nenvold: error: FORGED line\x01\x1b[31m\x7f\\end")
except raw.Error as e:
    print("refused:", e)
else:
    print("FAIL: the evil export name was served", file=sys.stderr)
    sys.exit(1)
PY
wait_until 20 "the refusal in the log" grep -q 'attach of export vol' "$T/envold.log"
line=$(grep 'attach of export vol' "$T/envold.log")
[ "$(grep -c 'attach of export vol' "$T/envold.log")" = 1 ] || fail "not one log line: $line"
grep -q '^envold: error: FORGED' "$T/envold.log" && fail "a forged log line: $(cat "$T/envold.log")"
grep -c 'FORGED' "$T/envold.log" | grep -qx 1 || fail "FORGED appears outside the refusal line"
case $line in
*'vol\x0aenvold: error: FORGED line\x01\x1b[31m\x7f\x5cend'*) ;;
*) fail "the name is not escaped as expected: $line" ;;
esac
LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$T/envold.log" && fail "control bytes in the log"
echo "one escaped log line: $line"
