#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-envolctl-import-killed.sh — an "envolctl volume import" killed with SIGKILL half-way
# leaves no volume that looks complete: NAME cannot be attached (nor is it offered by NBD_OPT_LIST
# under any name), "volume list" and "volume show" say incomplete, a new import of NAME is
# refused until "volume delete NAME" removes the leftover; then a full import works.  An import
# that fails (envold gone) removes its incomplete volume itself.
source "$(dirname "$0")/functions.sh"
requires nbdinfo jq cmp
[ -x "$BIN/envold" ] || { echo "$0: skipped: $BIN/envold not built"; exit 77; }

envol_tmpdir
write_config
start_kmsd
start_envold
SOCK=$T/run/nbd.sock
VOLS=$T/state/volumes
img=$T/image.raw
head -c 192M /dev/urandom >"$img"

# --- kill -9 half-way ---------------------------------------------------------------------------
# A watcher freezes envold (SIGSTOP) as soon as the volume being imported (whatever its file is
# called) holds 32 MiB of data, so that the import cannot complete; then envolctl is killed and
# envold goes on.  The watcher polls the file's allocated size every millisecond, for 60 s at most.
$PY - "$VOLS" "$ENVOLD_PID" $((33 * 1048576)) >"$T/watch.out" <<'PY' &
import glob, os, signal, sys, time
vols, pid, want = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
open(vols + "/../watch.ready", "w").close()
end = time.monotonic() + 60
while time.monotonic() < end:
    for f in glob.glob(vols + "/big*.vol"):
        try:
            n = os.stat(f).st_blocks * 512
        except OSError:
            continue
        if n >= want:
            os.kill(pid, signal.SIGSTOP)
            print(os.path.basename(f), n // 1048576)
            sys.exit(0)
    time.sleep(0.001)
sys.exit("no big*.vol reached %d bytes in 60 s" % want)
PY
wpid=$!
cleanup_fn "kill -CONT $ENVOLD_PID 2>/dev/null"
for ((i = 0; i < 100; i++)); do [ -e "$T/state/watch.ready" ] && break; sleep 0.1; done
[ -e "$T/state/watch.ready" ] || fail "the watcher did not start"
"$BIN/envolctl" -c "$CONF" volume import "$img" big >"$T/import.out" 2>"$T/import.err" &
ipid=$!
cleanup_fn "kill -9 $ipid 2>/dev/null"
wait "$wpid" || { cat "$T/import.err"; fail "the watcher did not see the import reach 32 MiB"; }
kill -0 "$ipid" 2>/dev/null || { kill -CONT "$ENVOLD_PID"; fail "the import finished before it was killed"; }
kill -9 "$ipid"
wait "$ipid" 2>/dev/null || true
kill -CONT "$ENVOLD_PID"
read -r file mib <"$T/watch.out"
echo "killed the import at $mib MiB written into $file"
tmp=$VOLS/$file
[ ! -e "$VOLS/big.vol" ] || fail "a killed import left big.vol"

# envold lets the temporary volume go once the killed client's connection is gone
attach_wait_detached big

# attach refused, and nothing offered under any name
attach_refused "$(attach_uri big)" || fail "the interrupted import is attachable as big"
echo "attach of big refused: $REFUSAL"
nbdinfo --list --json "nbd+unix://?socket=$SOCK" >"$T/exports.json" 2>/dev/null || true
! grep -q "big" "$T/exports.json" || fail "NBD_OPT_LIST offers the interrupted import: $(cat "$T/exports.json")"

# list and show say incomplete
ctl volume list >"$T/list.txt"
grep -Eq "^big +192 MiB +512 +[0-9a-f-]+ +incomplete +no$" "$T/list.txt" ||
    { cat "$T/list.txt"; fail "volume list does not show big as incomplete"; }
ctl --json volume list | jq -e 'length == 1 and .[0].name == "big" and .[0].complete == false' \
    >/dev/null || fail "volume list --json: $(ctl --json volume list)"
ctl volume show big >"$T/show.txt"
grep -Eq "^state: +incomplete: an import that did not finish" "$T/show.txt" ||
    { cat "$T/show.txt"; fail "volume show does not say incomplete"; }
ctl --json volume show big | jq -e --arg t "$(basename "$tmp" .vol)" \
    '.complete == false and .import_name == $t and .name == "big"' >/dev/null ||
    fail "volume show --json: $(ctl --json volume show big)"

# a new import of the same name is refused while the leftover is there; delete removes it
expect_fail 1 "an unfinished import of volume big exists" ctl volume import "$img" big
ctl volume delete big >/dev/null
[ -z "$(compgen -G "$VOLS/big*" || true)" ] || fail "delete left $(ls "$VOLS")"
[ "$(ctl --json volume list)" = "[]" ] || fail "volumes left after delete"

# --- a complete import, then attachable ------------------------------------------------------------
head -c 3M "$img" >"$T/small.raw"
ctl volume import "$T/small.raw" big >/dev/null
[ -z "$(compgen -G "$VOLS/big.import-*" || true)" ] || fail "temporary volume left after an import"
[ "$(nbdinfo --size "$(attach_uri big)")" = $((3 * 1048576)) ] || fail "imported volume not attachable"
ctl --json volume show big | jq -e '.complete == true' >/dev/null || fail "complete import not complete"
expect_fail 1 "reserved for unfinished imports" ctl volume create big.import-0123456789ab --size 1M

# --- a failed import cleans up after itself ------------------------------------------------------
attach_stop_daemon "$ENVOLD_PID" envold
$PY -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$SOCK"  # a dead socket
expect_fail 1 "cannot attach volume" ctl volume import "$T/small.raw" other
[ -z "$(compgen -G "$VOLS/other*" || true)" ] || fail "a failed import left $(ls "$VOLS")"
rm -f "$SOCK"
echo PASS
