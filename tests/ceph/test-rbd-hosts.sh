#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-rbd-hosts.sh — several hosts, one volume, one writer (docs/operations.md, "Moving a
# volume between hosts" and "Forced takeover"), with two envold instances standing in for two
# hosts: their own state and runtime directories, the same cluster, the same KMS.
#   1. Both list the RBD volume by name.  While host A has it attached, host B's attach is
#      refused naming the holder (envold's pid on its host, its client address); once A
#      detaches, B attaches and reads A's data, and A is refused in turn.
#   2. kill -9 of envold A during verified writes (a client writing with 8 requests in flight
#      and a FLUSH after each 8): B is refused, naming the dead holder; `envolctl volume
#      release NAME --force` on B fences A's client (in the cluster's blocklist) and breaks its
#      lock; B attaches, and every block whose FLUSH was acknowledged reads back.
#   3. A holder that is only stuck (SIGSTOP), not dead: released the same way; once it runs
#      again, its client's next write fails (fenced), and B's data stays as B wrote it; envold A
#      keeps serving.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/hosts.sh"
requires_cluster
requires jq nbdinfo
$PY -c 'import nbd' 2>/dev/null || { echo "$0: skipped: python3-libnbd missing"; exit 77; }

envol_tmpdir
rbd_config
start_kmsd
start_envold
start_host_b
WRITER="$PY $ENVOL_SOURCE_DIR/tests/ceph/rbd_writer.py"

name=hosts-$$
ctl volume create "$name" --size 256M >/dev/null
uri_a=$(attach_uri "$name")
uri_b=$(attach_uri "$name" "$B_SOCK")
[ "$(ctl --json volume list | jq -r --arg n "$name" '.[] | select(.name == $n) | .backend')" = rbd ] ||
    fail "host A does not list $name on rbd"
[ "$(ctl_b --json volume list | jq -r --arg n "$name" '.[] | select(.name == $n) | .location')" = \
    "rbd:$(image_of "$name")" ] || fail "host B does not list $name at rbd:$(image_of "$name")"
nbdinfo --list "nbd+unix:///?socket=$B_SOCK" >"$T/list-b.txt" 2>&1 || true
grep -q "^export=\"$name\"" "$T/list-b.txt" ||
    { cat "$T/list-b.txt"; fail "envold B does not offer export $name"; }

# refused_by URI PID: a client of URI is refused, naming envold PID as the holder.
refused_by() {
    attach_refused "$1" || fail "$1: attached although envold $2 holds the volume"
    grep -q "in use by pid $2 (envold) on .*, client [0-9.]*:[0-9]*/[0-9]*" <<<"$REFUSAL" ||
        fail "$1: the refusal does not name envold $2 and its client: $REFUSAL"
    echo "refused as expected: $REFUSAL"
}

# --- 1. one writer at a time --------------------------------------------------------------------
holder_open a "$uri_a" || fail "host A: attach refused: $HOLDER_MSG"
holder_cmd a write 0 262144 from-a || fail "write through host A"
refused_by "$uri_b" "$ENVOLD_PID"
[ "$(ctl_b --json volume show "$name" | jq -r .attached)" = true ] ||
    fail "host B does not see $name attached"
grep -q "^pid $ENVOLD_PID (envold)" <<<"$(ctl_b --json volume show "$name" | jq -r .attached_by)" ||
    fail "host B's volume show does not name envold A"
expect_fail 1 "is attached (open by pid $ENVOLD_PID" ctl_b volume delete "$name" --force
holder_cmd a read 0 262144 from-a || fail "host A's client disturbed by B's attempts"
holder_close a
attach_wait_detached "$name"
holder_open b "$uri_b" || fail "host B: attach after A detached: $HOLDER_MSG"
holder_cmd b read 0 262144 from-a || fail "host B reads other data than A wrote"
refused_by "$uri_a" "$ENVOLD_B_PID"
holder_close b
attach_wait_detached "$name"

# --- 2. kill -9 of the holder during verified writes, forced takeover ------------------------------
block=65536
count=$((256 << 20 >> 16))
: >"$T/acked"
$WRITER write "$uri_a" "$T/acked" $block $count >"$T/writer.out" 2>&1 &
writer=$!
cleanup_fn "kill $writer 2>/dev/null"
for ((i = 0; i < 600; i++)); do
    [ "$(wc -l <"$T/acked")" -ge 64 ] && break
    kill -0 $writer 2>/dev/null || { cat "$T/writer.out"; fail "the writer ended early"; }
    sleep 0.1
done
[ "$(wc -l <"$T/acked")" -ge 64 ] || fail "no 64 acknowledged blocks in 60 s"
dead_pid=$ENVOLD_PID
kill -9 "$dead_pid"
wait "$dead_pid" 2>/dev/null || true
wait $writer || true
cat "$T/writer.out"
grep -q "^stopped after" "$T/writer.out" || fail "the writer finished before envold A was killed"
echo "envold A killed after $(wc -l <"$T/acked") acknowledged blocks"

refused_by "$uri_b" "$dead_pid"
ctl_b volume release "$name" --force >"$T/release.out" || fail "release --force failed"
cat "$T/release.out"
grep -q "^volume $name released: pid $dead_pid (envold) on .*, client .* is fenced" "$T/release.out" ||
    fail "release does not name the fenced holder"
addr=$(sed -n 's/.*, client \([^ ]*\) is fenced.*/\1/p' "$T/release.out")
blocklisted "$addr" || fail "$addr is not in the blocklist"
$WRITER verify "$uri_b" "$T/acked" $block $count || fail "acknowledged data lost in the takeover"
attach_wait_detached "$name"
grep -q "is not attached; nothing to release" <<<"$(ctl_b volume release "$name" --force)" ||
    fail "a second release found something to release"

# Host A comes back (a new envold instance, a new client).
rm -f "$T/run/nbd.sock"
start_envold
holder_open a "$uri_a" || fail "host A: attach after its restart: $HOLDER_MSG"
holder_cmd a read 0 $block w0 || fail "host A reads block 0 wrong after the takeover"

# --- 3. a stuck holder is fenced --------------------------------------------------------------------
holder_cmd a write $((8 << 20)) $block stuck-before || fail "write through host A"
kill -STOP "$ENVOLD_PID"
cleanup_fn "kill -CONT $ENVOLD_PID 2>/dev/null"
grep -q "pid $ENVOLD_PID (envold) on .* is fenced" <<<"$(ctl_b volume release "$name" --force)" ||
    fail "release of the stuck holder"
holder_open b "$uri_b" || fail "host B: attach after fencing the stuck A: $HOLDER_MSG"
holder_cmd b read $((8 << 20)) $block stuck-before || fail "B does not read A's flushed write"
holder_cmd b write $((8 << 20)) $block from-b || fail "write through host B"
kill -CONT "$ENVOLD_PID"
if holder_cmd a write $((8 << 20)) $block stale-a; then
    fail "the fenced host A could still write"
fi
holder_cmd b read $((8 << 20)) $block from-b || fail "the fenced host changed B's data"
# envold A survives being fenced and serves everything else.
ctl volume create "other-$$" --size 8M >/dev/null
nbdinfo "$(attach_uri "other-$$")" >/dev/null || fail "envold A no longer serves after the fence"
holder_close a
holder_close b
kill -0 "$ENVOLD_PID" || fail "envold A exited after being fenced"
ctl volume delete "$name" --force >/dev/null
ctl volume delete "other-$$" --force >/dev/null
echo "test-rbd-hosts: ok"
