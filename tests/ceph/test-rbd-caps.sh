#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The envol client key has what envol needs and nothing more (docs/operations.md, "Volumes on
# Ceph"): with mon 'profile rbd' and osd 'profile rbd pool=envol' it reads the cluster state,
# reads and writes objects in pool envol, and blocklists a client by its address (IP:PORT/NONCE,
# for a forced takeover); it cannot remove a blocklist entry, blocklist a whole host, create a
# pool, change the cluster, read the keys, or touch another pool.
source "$(dirname "$0")/functions.sh"
requires_cluster
envol_tmpdir

# denied WHAT CMD…: CMD must fail with "access denied" (EACCES, 13) or "not permitted" (EPERM).
denied() {
    local what=$1 out rc=0
    shift
    out=$("$@" 2>&1) || rc=$?
    [ "$rc" -ne 0 ] || fail "client.$ENVOL_CEPH_CLIENT may $what"
    grep -qiE "access denied|not permitted" <<<"$out" || fail "$what failed for another reason: $out"
    echo "denied: $what"
}

# Allowed: the cluster state, objects in its pool.
ceph_cli -s -f json | $PY -c 'import json, sys; json.load(sys.stdin)["health"]["status"]' ||
    fail "client.$ENVOL_CEPH_CLIENT cannot read the cluster status"
obj=caps-$$
echo "envol caps test" >"$T/obj"
rados_cli -p "$ENVOL_CEPH_POOL" put "$obj" "$T/obj"
cleanup_fn "rados_cli -p '$ENVOL_CEPH_POOL' rm '$obj' 2>/dev/null"
[ "$(rados_cli -p "$ENVOL_CEPH_POOL" get "$obj" -)" = "envol caps test" ] || fail "object read back differs"

# Allowed: blocklisting one client instance (address with nonce), as a forced takeover does.
victim=127.0.0.1:0/$((4000000000 + $$))
ceph_cli osd blocklist add "$victim" 60 2>/dev/null
ceph_cli osd blocklist ls 2>/dev/null | grep -qF "$victim" || fail "$victim is not blocklisted"
echo "allowed: osd blocklist add $victim"

# Denied.
denied "remove a blocklist entry" ceph_cli osd blocklist rm "$victim"
denied "blocklist a whole host" ceph_cli osd blocklist add 127.0.0.1 60
denied "create a pool" ceph_cli osd pool create "caps-$$"
denied "set a cluster flag" ceph_cli osd set noout
denied "list the keys" ceph_cli auth ls
other=caps-other-$$
ceph_admin osd pool create "$other" 8 >/dev/null 2>&1 || fail "client.admin cannot create pool $other"
cleanup_fn "ceph_admin osd pool rm '$other' '$other' --yes-i-really-really-mean-it >/dev/null 2>&1"
denied "write to another pool" rados_cli -p "$other" put "$obj" "$T/obj"
echo "OK"
