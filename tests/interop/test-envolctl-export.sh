#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-envolctl-export.sh — where "envolctl volume export" writes: a new file is created 0600
# whatever the umask; an existing file is refused unless --force, and --force replaces it with a
# new 0600 file (its old mode, its owner and its hard links do not carry over); a symbolic link
# at the target is never followed, with or without --force, dangling or not; a refused export
# creates nothing; a character device is written in place with --force.
source "$(dirname "$0")/functions.sh"
requires cmp stat
[ -x "$BIN/envold" ] || { echo "$0: skipped: $BIN/envold not built"; exit 77; }

envol_tmpdir
write_config
start_kmsd
start_envold
head -c 1M /dev/urandom >"$T/image.raw"
ctl volume import "$T/image.raw" vol1 >/dev/null
umask 022
out=$T/dest

# --- a new file: 0600 ---------------------------------------------------------------------------
mkdir "$out"
ctl volume export vol1 "$out/new.raw" >/dev/null
cmp "$T/image.raw" "$out/new.raw" || fail "export differs from the image"
[ "$(stat -c %a "$out/new.raw")" = 600 ] || fail "new export has mode $(stat -c %a "$out/new.raw")"
# and relative to the current directory
(cd "$out" && ctl volume export vol1 rel.raw >/dev/null) || fail "export to a relative path"
[ "$(stat -c %a "$out/rel.raw")" = 600 ] && cmp -s "$T/image.raw" "$out/rel.raw" || fail "relative export"

# --- an existing file: refused without --force, replaced with it --------------------------------
echo "precious" >"$out/existing.raw"
chmod 0644 "$out/existing.raw"
ln "$out/existing.raw" "$out/hardlink.raw"
expect_fail 1 "already exists; add --force" ctl volume export vol1 "$out/existing.raw"
[ "$(cat "$out/existing.raw")" = precious ] || fail "a refused export changed the existing file"
ctl volume export --force vol1 "$out/existing.raw" >/dev/null
cmp "$T/image.raw" "$out/existing.raw" || fail "--force: export differs from the image"
[ "$(stat -c %a "$out/existing.raw")" = 600 ] || fail "--force kept mode $(stat -c %a "$out/existing.raw")"
[ "$(cat "$out/hardlink.raw")" = precious ] || fail "--force wrote through a hard link"
[ -z "$(find "$out" -name '.*envolctl-*')" ] || fail "temporary file left: $(ls -A "$out")"

# --- symbolic links: never followed --------------------------------------------------------------
echo "victim" >"$out/victim"
chmod 0644 "$out/victim"
ln -s victim "$out/link.raw"
expect_fail 1 "is a symbolic link" ctl volume export vol1 "$out/link.raw"
expect_fail 1 "is a symbolic link" ctl volume export --force vol1 "$out/link.raw"
[ "$(cat "$out/victim")" = victim ] && [ "$(stat -c %a "$out/victim")" = 644 ] ||
    fail "an export wrote through a symbolic link"
[ -L "$out/link.raw" ] || fail "the link was replaced"
ln -s "$out/created-through-link" "$out/dangling.raw"
expect_fail 1 "is a symbolic link" ctl volume export vol1 "$out/dangling.raw"
[ ! -e "$out/created-through-link" ] || fail "an export created the target of a dangling link"

# --- a directory, a failed export --------------------------------------------------------------
expect_fail 1 "is a directory" ctl volume export --force vol1 "$out"
expect_fail 1 "vol9" ctl volume export vol9 "$out/never.raw"
[ ! -e "$out/never.raw" ] || fail "a failed export left $out/never.raw"

# --- a character device with --force: written in place -------------------------------------------
expect_fail 1 "already exists; add --force" ctl volume export vol1 /dev/null
ctl volume export --force vol1 /dev/null >/dev/null || fail "export --force to /dev/null"
[ -c /dev/null ] || fail "/dev/null is no longer a device"
echo PASS
