#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-install.sh — what a packager gets from `cmake --install BUILD --prefix DIR`: the three
# programs, libenvol.so.0 exporting only the envol_* names of lib/libenvol.sym (every function
# of the installed headers among them), include/envol/ and no internal header, a relocatable
# envol.pc, the systemd units pointing at the installed daemons, sysusers.d and tmpfiles.d
# entries that make the users and directories the units expect, man pages and an example
# envol.conf.  A small C program built with `pkg-config --cflags --libs envol` (after moving the
# whole prefix elsewhere) attaches a volume made by the installed envolctl as envold would (a
# grant created, DryRun, its key unwrapped through the grant by the installed envol-kmsd, the
# grant listed and retired) and writes and reads it through libenvol.so.0.
source "$(dirname "$0")/functions.sh"
requires cmake pkg-config cc nm

envol_tmpdir
P=$T/stage
cmake --install "$ENVOL_BUILD_DIR" --prefix "$P" >"$T/install.log" 2>&1 ||
    { cat "$T/install.log"; fail "cmake --install failed"; }

# ---- programs, library, headers ----
for f in bin/envolctl sbin/envold sbin/envol-kmsd; do
    [ -x "$P/$f" ] || fail "$f not installed"
done
pc=$(find "$P" -name envol.pc)
[ -n "$pc" ] || fail "no envol.pc installed"
libdir=$(dirname "$(dirname "$pc")")
[ -f "$libdir/libenvol.so.0" ] && [ ! -L "$libdir/libenvol.so.0" ] || fail "no libenvol.so.0 in $libdir"
[ "$(readlink "$libdir/libenvol.so")" = libenvol.so.0 ] || fail "libenvol.so is not a link to libenvol.so.0"
soname=$(LC_ALL=C readelf -d "$libdir/libenvol.so.0" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libenvol.so.0 ] || fail "soname is '$soname'"

want_headers=$( (cd "$ENVOL_SOURCE_DIR/include/envol" && ls ./*.h | sed 's|^\./||'; echo envol.h) | sort -u)
have_headers=$(cd "$P/include" && find . -type f | sed 's|^\./||' | sort)
[ "$have_headers" = "$(sed 's|^|envol/|' <<<"$want_headers")" ] ||
    fail "installed headers: $(echo $have_headers); want envol/ + $(echo $want_headers)"
for h in $want_headers; do
    [ "$h" = envol.h ] || grep -q "^#include <envol/$h>" "$P/include/envol/envol.h" ||
        fail "envol.h does not include envol/$h"
done
echo "installed: programs, libenvol.so.0, include/envol/{$(echo $want_headers | tr ' ' ,)}"

# ---- exports: envol_* only, exactly lib/libenvol.sym, every public function among them ----
exports=$(nm -D --defined-only "$libdir/libenvol.so.0" | awk '{ print $3 }' | sed 's/@.*//' | sort -u)
others=$(grep -v '^envol_' <<<"$exports" || true)
[ -z "$others" ] || fail "libenvol.so.0 exports names without the envol_ prefix: $(echo $others)"
listed=$(sed 's|/\*.*\*/||; s|/\*.*||; s|^ *\*.*||' "$ENVOL_SOURCE_DIR/lib/libenvol.sym" |
         grep -oE '^\s*envol_[a-z0-9_]+;' | tr -d ' \t;' | sort -u)
node=$(grep -oE '^envol_[A-Za-z0-9_.]+' "$ENVOL_SOURCE_DIR/lib/libenvol.sym")
[ "$(grep -v "^$node\$" <<<"$exports")" = "$listed" ] ||
    fail "exports differ from lib/libenvol.sym: $(diff <(grep -v "^$node\$" <<<"$exports") <(echo "$listed") | tr '\n' ' ')"
declared=$(cat "$P"/include/envol/*.h | grep -vE '^(typedef|#|[[:space:]]|/|\*)' |
           sed -nE 's/^[a-z][^(]*[ *](envol_[a-z0-9_]+)\(.*/\1/p' | sort -u)
[ -n "$declared" ] || fail "found no function declarations in the installed headers"
missing=$(comm -23 <(echo "$declared") <(echo "$exports"))
[ -z "$missing" ] || fail "declared in include/envol/ but not exported: $(echo $missing)"
echo "exports: $(wc -l <<<"$listed") envol_* functions, the $(wc -l <<<"$declared") of the installed headers among them"

# ---- systemd units, sysusers.d, tmpfiles.d, man pages, example configuration ----
for u in envol-kmsd.service envol-kmsd.socket envold.service envold.socket; do
    [ -f "$P/lib/systemd/system/$u" ] || fail "unit $u not installed"
done
grep -q "^ExecStart=$P/sbin/envol-kmsd -c /etc/envol/envol.conf\$" "$P/lib/systemd/system/envol-kmsd.service" ||
    fail "envol-kmsd.service: ExecStart does not point at the installed daemon"
grep -q "^ExecStart=$P/sbin/envold -c /etc/envol/envol.conf\$" "$P/lib/systemd/system/envold.service" ||
    fail "envold.service: ExecStart does not point at the installed daemon"
for m in man1/envolctl.1 man8/envold.8 man8/envol-kmsd.8; do
    [ -f "$P/share/man/$m" ] || fail "man page $m not installed"
done
example=$P/share/doc/envol/envol.conf.example
[ -f "$example" ] || fail "no example envol.conf"
"$P/bin/envolctl" -c "$example" volume list >/dev/null 2>"$T/example.log" ||
    { cat "$T/example.log"; fail "the example envol.conf does not load"; }
sysusers=$P/lib/sysusers.d/envol.conf tmpfiles=$P/lib/tmpfiles.d/envol.conf
[ -f "$sysusers" ] && [ -f "$tmpfiles" ] || fail "sysusers.d or tmpfiles.d entry missing"
if [ "$(id -u)" -eq 0 ] && command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null; then
    R=$T/root
    mkdir -p "$R/etc"
    systemd-sysusers --root="$R" "$sysusers" >"$T/sysusers.log" 2>&1 || { cat "$T/sysusers.log"; fail "systemd-sysusers"; }
    systemd-tmpfiles --root="$R" --create "$tmpfiles" >"$T/tmpfiles.log" 2>&1 || { cat "$T/tmpfiles.log"; fail "systemd-tmpfiles"; }
    # every User=/Group=/SupplementaryGroups= of the units exists, envol is in envol-kms
    for name in $(sed -nE 's/^(User|Group|SupplementaryGroups|SocketUser|SocketGroup)=//p' \
                  "$P"/lib/systemd/system/*.s* | tr ' ' '\n' | grep -vx root | sort -u); do
        grep -q "^$name:" "$R/etc/passwd" || grep -q "^$name:" "$R/etc/group" ||
            fail "the units name $name, which sysusers.d does not create"
    done
    grep -qE '^envol-kms:x:[0-9]+:(.*,)?envol(,|$)' "$R/etc/group" || fail "envol is not in group envol-kms"
    [ "$(stat -c %a "$R/var/lib/envol/kms")" = 700 ] || fail "/var/lib/envol/kms is not 0700"
    kms_uid=$(awk -F: '$1 == "envol-kms" { print $3 }' "$R/etc/passwd")
    envol_uid=$(awk -F: '$1 == "envol" { print $3 }' "$R/etc/passwd")
    [ "$(stat -c %u "$R/var/lib/envol/kms")" = "$kms_uid" ] || fail "/var/lib/envol/kms is not envol-kms's"
    [ "$(stat -c %u "$R/var/lib/envol/volumes")" = "$envol_uid" ] || fail "/var/lib/envol/volumes is not envol's"
    [ -d "$R/run/envol" ] || fail "tmpfiles.d does not make /run/envol"
    echo "sysusers.d and tmpfiles.d: users envol-kms, envol; /var/lib/envol/{kms,volumes}, /run/envol"
else
    echo "sysusers.d and tmpfiles.d not applied (needs root and systemd-sysusers)"
fi

# ---- the prefix moves: envol.pc follows (${pcfiledir}) ----
mv "$P" "$T/prefix"
P=$T/prefix
libdir=$P/${libdir#"$T/stage/"}
export PKG_CONFIG_PATH=$libdir/pkgconfig
flags=$(pkg-config --cflags --libs envol) || fail "pkg-config envol failed"
incdir=$(pkg-config --variable=includedir envol)
[ "$(realpath -m "$incdir")" = "$P/include" ] && [[ " $flags " == *" -I$incdir "* ]] ||
    fail "pkg-config --cflags does not point into the moved prefix: $flags"
[ "$(pkg-config --modversion envol)" = "$("$P/bin/envolctl" --version | awk '{ print $2 }')" ] ||
    fail "envol.pc version differs from envolctl --version"

# ---- a third-party program against the installed library and daemon ----
cat >"$T/client.c" <<'C'
/* A third-party tool: attaches an envol volume the way envold does (through a grant), with
 * libenvol.so.0. */
#include <envol/envol.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MARK "envol install test, plaintext only through the library. "

static int count_grant(void *opaque, const char *key_id, const char *grant_id, const char *name)
{
	if (strcmp(name, "install-test") == 0)
		++*(unsigned *)opaque;
	return 0;
}

int main(int argc, char **argv)
{
	struct envol_config *cfg = NULL;
	struct envol_kms_client *kc = NULL;
	struct envol_volume *v = NULL;
	const struct envol_volume_info *info;
	char err[512] = "", type[64], message[128], buf[4096], back[4096];
	uint8_t *dek = NULL;
	size_t dek_len = 0;
	int r;

	if (argc != 4 || strcmp(envol_version(), ENVOL_VERSION_STRING) != 0)
		return 10;
	if (envol_kms_client_error_errno("NotFoundException") != -ENOKEY ||
	    envol_kms_client_parse_error("{\"__type\":\"x#DisabledException\",\"message\":\"m\"}",
					 type, sizeof type, message, sizeof message) != 0 ||
	    strcmp(type, "DisabledException") != 0)
		return 11;
	r = envol_config_load(argv[1], &cfg, err, sizeof err);
	if (r == 0)
		r = envol_kms_client_new(cfg, &kc, err, sizeof err);
	if (r == 0)
		r = envol_volume_open(argv[2], true, &v, err, sizeof err);
	if (r < 0) {
		fprintf(stderr, "client: %s\n", err);
		return 12;
	}
	info = envol_volume_get_info(v);
	/* as envold does: a grant for itself (Decrypt under exactly the volume's context), asked
	 * for on behalf of its user (here: itself) as a kms.services member, so the managed key's
	 * policy (use only through the service) allows it; Decrypt through it, the grant found
	 * among its retirable ones, then retired */
	{
		static const char *const ops[] = {"Decrypt"};
		const char *me = argv[3];
		char *grant_id = NULL, *token = NULL;
		unsigned found = 0;

		r = envol_kms_client_create_grant(kc, info->key_arn, me, me, ops, 1, info->context,
						  info->n_context, "install-test", me, false,
						  &grant_id, &token, err, sizeof err);
		if (r == 0)
			r = envol_kms_client_create_grant(kc, info->key_arn, me, me, ops, 1,
							  info->context, info->n_context,
							  "install-test", me, true, NULL, NULL,
							  err, sizeof err);
		if (r == 0) {
			const char *tokens[] = {token};

			r = envol_kms_client_decrypt_dek_with_grants(
			    kc, info->blob, info->blob_len, info->context, info->n_context, tokens, 1,
			    &dek, &dek_len, err, sizeof err);
		}
		if (r == 0)
			r = envol_kms_client_list_retirable_grants(kc, me, count_grant, &found, err,
								   sizeof err);
		if (r == 0 && found != 1)
			r = -ENOENT;
		if (r == 0)
			r = envol_kms_client_retire_grant(kc, info->key_arn, grant_id, NULL, err,
							  sizeof err);
		free(grant_id);
		free(token);
	}
	if (r == 0)
		r = envol_volume_attach_key(v, dek, dek_len, err, sizeof err);
	dek = envol_secure_free(dek);
	if (r < 0) {
		fprintf(stderr, "client: attach: %s (%d)\n", err, r);
		return 13;
	}
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = MARK[i % (sizeof MARK - 1)];
	/* a fresh volume reads as zeros */
	if (envol_volume_pread(v, back, sizeof back, 8192) < 0 || back[0] ||
	    memcmp(back, back + 1, sizeof back - 1) != 0)
		return 14;
	if (envol_volume_pwrite(v, buf, sizeof buf, 8192, ENVOL_IO_FUA) < 0 ||
	    envol_volume_pread(v, back, sizeof back, 8192) < 0)
		return 15;
	for (size_t i = 0; i < sizeof buf; i++) /* pwrite encrypted buf in place */
		buf[i] = MARK[i % (sizeof MARK - 1)];
	if (memcmp(buf, back, sizeof buf) != 0)
		return 16;
	printf("envol %s (headers %s): volume %s, %llu bytes, key %s, unwrapped by the KMS at %s; "
	       "wrote and read back 4096 bytes\n",
	       envol_version(), ENVOL_VERSION_STRING, info->uuid_str,
	       (unsigned long long)info->size, info->key_arn, envol_kms_client_target(kc));
	envol_volume_close(v);
	envol_kms_client_free(kc);
	envol_config_free(cfg);
	return 0;
}
C
# A sanitizer build's library needs its runtime first in the program (ENVOL_SANITIZE=ON).
san=
if LC_ALL=C readelf -d "$libdir/libenvol.so.0" | grep -q 'NEEDED.*libasan'; then
    san=-fsanitize=address,undefined
fi
# shellcheck disable=SC2086 # word splitting of the pkg-config flags is wanted
cc -Wall -Werror $san -o "$T/client" "$T/client.c" $flags >"$T/cc.log" 2>&1 ||
    { cat "$T/cc.log"; fail "cannot build against the installed envol"; }
deps=$(LD_LIBRARY_PATH=$libdir ldd "$T/client")
grep -q "libenvol.so.0 => $libdir/libenvol.so.0" <<<"$deps" ||
    fail "the program does not load the installed libenvol.so.0: $deps"

write_config
BIN=$P/sbin start_kmsd
"$P/bin/envolctl" -c "$CONF" volume create inst --size 8M >/dev/null
vol=$T/state/volumes/inst.vol
rc=0
LD_LIBRARY_PATH=$libdir "$T/client" "$CONF" "$vol" arn:aws:iam::000000000000:user/unix/root \
    >"$T/client.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { cat "$T/client.out"; fail "the program failed (exit $rc)"; }
cat "$T/client.out"
grep -q "wrote and read back 4096 bytes" "$T/client.out" || fail "the program did not report its I/O"
n=$(grep -c -a -F "envol install test" "$vol" || true)
[ "$n" -eq 0 ] || fail "plaintext in the volume file"

v=$("$P/bin/envolctl" --version)
echo "installed: $v"
[[ $v =~ ^envolctl\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "envolctl --version printed '$v'"
grep -q "^envol ${v#envolctl } " "$T/client.out" || fail "envolctl and libenvol versions differ"
echo OK
