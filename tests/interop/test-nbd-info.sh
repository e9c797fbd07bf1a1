#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-nbd-info.sh — nbdinfo against envold: export size, transmission flags (multi-conn, trim,
# zero, fast zero, flush, FUA, cache, not read-only), block sizes (minimum = the sector size,
# 512 or 4096; preferred 4096; maximum 32 MiB), `nbdinfo --list` with every volume and its
# description (volume id, key ARN, cipher), `nbd-client -l` likewise, and the base:allocation
# map (a fresh volume is one hole; written ranges become data; trimmed ones holes again).
source "$(dirname "$0")/functions.sh"
nbdsh() { $PY -m nbd "$@"; }   # nbdsh with the python that has the nbd module
requires nbdinfo nbdsh jq

envol_tmpdir
write_config
start_kmsd
"$BIN/envolctl" -c "$CONF" volume create small --size 64M >/dev/null
"$BIN/envolctl" -c "$CONF" volume create big4k --size 1G --sector-size 4096 >/dev/null
start_envold
SOCK=$T/run/nbd.sock
uri() { echo "nbd+unix:///$1?socket=$SOCK"; }

j=$(nbdinfo --json "$(uri small)")
echo "$j" | jq . >"$T/small.json"
x() { echo "$j" | jq -r ".exports[0].$1"; }
[ "$(x '"export-size"')" = 67108864 ] || fail "size: $(x '"export-size"')"
for f in can_multi_conn can_trim can_zero can_fast_zero can_flush can_fua can_cache; do
    [ "$(x $f)" = true ] || fail "$f is $(x $f)"
done
[ "$(x is_read_only)" = false ] || fail "small is read-only"
[ "$(x block_size_minimum)" = 512 ] || fail "minimum block size $(x block_size_minimum)"
[ "$(x block_size_preferred)" = 4096 ] || fail "preferred block size $(x block_size_preferred)"
[ "$(x block_size_maximum)" = 33554432 ] || fail "maximum block size $(x block_size_maximum)"
echo "$j" | jq -e '.exports[0].contexts | index("base:allocation")' >/dev/null ||
    fail "base:allocation not listed: $(x contexts)"
echo "small: size, flags, block sizes and contexts as expected"

j=$(nbdinfo --json "$(uri big4k)")
[ "$(x '"export-size"')" = 1073741824 ] || fail "big4k size $(x '"export-size"')"
[ "$(x block_size_minimum)" = 4096 ] || fail "big4k minimum block size $(x block_size_minimum)"
echo "big4k: 4096-byte sectors advertised as minimum block size"

# --list: both volumes, with descriptions naming the volume id and the key
nbdinfo --list --json "nbd+unix://?socket=$SOCK" >"$T/list.json"
[ "$(jq -r '[.exports[]."export-name"] | sort | join(",")' "$T/list.json")" = "big4k,small" ] ||
    fail "list: $(cat "$T/list.json")"
id=$("$BIN/envolctl" -c "$CONF" --json volume show small | jq -r .volume_id)
desc=$(jq -r '.exports[] | select(."export-name" == "small") | .description' "$T/list.json")
case $desc in
    *"$id"*arn:aws:kms:*AES-256-XTS*) ;;
    *) fail "description of small: '$desc' (volume id $id)" ;;
esac
nbdinfo --list "nbd+unix://?socket=$SOCK" | grep -q "description: envol volume" ||
    fail "plain nbdinfo --list lacks descriptions"
echo "list: $desc"
# the reference client lists them too (NBD_REP_SERVER carries the description)
if command -v nbd-client >/dev/null; then
    nbd-client -l -unix "$SOCK" >"$T/nbd-client.out" 2>&1 || fail "nbd-client -l: $(cat "$T/nbd-client.out")"
    grep -q "^small: envol volume $id, key arn:aws:kms:" "$T/nbd-client.out" ||
        fail "nbd-client -l: $(cat "$T/nbd-client.out")"
    grep -q "^big4k: envol volume" "$T/nbd-client.out" || fail "nbd-client -l lacks big4k"
    echo "nbd-client -l lists both volumes with descriptions"
fi

# base:allocation map: fresh = one hole; write 1 MiB at 8 MiB -> data there; trim -> hole again
nbdinfo --map --json "$(uri small)" >"$T/map0.json"
[ "$(jq -r 'length' "$T/map0.json")" = 1 ] && [ "$(jq -r '.[0].type' "$T/map0.json")" = 3 ] ||
    fail "fresh map: $(cat "$T/map0.json")"
nbdsh -u "$(uri small)" -c 'h.pwrite(b"\x5a" * 1048576, 8 << 20)'
nbdinfo --map --json "$(uri small)" >"$T/map1.json"
jq -e '.[] | select(.offset == 8388608 and .length == 1048576 and .type == 0)' \
    "$T/map1.json" >/dev/null || fail "map after write: $(cat "$T/map1.json")"
jq -e '.[] | select(.offset == 0 and .type == 3)' "$T/map1.json" >/dev/null ||
    fail "map after write lost the leading hole: $(cat "$T/map1.json")"
nbdsh -u "$(uri small)" -c 'h.trim(1048576, 8 << 20)'
nbdinfo --map --json "$(uri small)" >"$T/map2.json"
[ "$(jq -r 'length' "$T/map2.json")" = 1 ] || fail "map after trim: $(cat "$T/map2.json")"
echo "base:allocation map follows writes and trims"

# an orderly stop: drain, flush, wipe keys, exit 0 (a sanitizer report would make it fail)
kill -TERM "$ENVOLD_PID"
wait "$ENVOLD_PID" || fail "envold exited $? on SIGTERM: $(tail -20 "$T/envold.log")"
