#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-attach-service-missing.sh — envold runs as a principal that kms.services does not name:
# it says so at start (naming its principal), and the KMS then refuses every attach, because
# only a kms.services principal may ask for a grant on behalf of an NBD client.
source "$(dirname "$0")/functions.sh"
requires nbdinfo

envol_tmpdir
write_config
# kms.services without root, the user envold runs as here
sed -i 's|^\(\s*services = \[\).*|\1 "arn:aws:iam::000000000000:user/unix/envol" ];|' "$CONF"
grep -q 'services = \[ "arn:aws:iam::000000000000:user/unix/envol" \];' "$CONF" ||
    fail "could not rewrite kms.services: $(grep services "$CONF")"
start_kmsd
start_envold
grep -q "envold's principal arn:aws:iam::000000000000:user/unix/root is not in kms.services" \
    "$T/envold.log" || fail "no start-up warning: $(cat "$T/envold.log")"

ctl volume create sm --size 1M >/dev/null
attach_refused "$(attach_uri sm)" || fail "attached though envold is no service"
grep -q "not a service principal of kms.services" "$T/envold.log" ||
    fail "the refusal does not say why: $(cat "$T/envold.log")"
echo "test-attach-service-missing: ok"
