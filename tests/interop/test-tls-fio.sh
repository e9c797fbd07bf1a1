#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-tls-fio.sh — fio's nbd engine (libnbd) over nbds:// to envold on TCP with TLS required
# (X.509, tls_verify_peer): 4 jobs, each on its own TLS connection and 16 MiB region, random
# 4 KiB writes at queue depth 16 and sequential 1 MiB writes, every block read back and checked
# (verify=crc32c).  fio 3.33 passes its uri= to nbd_connect_uri() without allowing local files,
# so tls-certificates=DIR in the URI is refused; fio takes the certificates from libnbd's default
# place instead ($HOME/.pki/libnbd for a non-root user, /etc/pki/libnbd for root): here it runs
# as nobody with HOME holding .pki/libnbd, so that /etc is not touched.  Prints fio's numbers.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/tls-functions.sh"
requires fio openssl setpriv jq
fio --enghelp=nbd >/dev/null 2>&1 || { echo "$0: skipped: fio has no nbd engine"; exit 77; }

envol_tmpdir
tls_envold fio 64M
uri="nbds://127.0.0.1:$port/fio"

# the URI form is refused by libnbd inside fio
fio --name=refused --ioengine=nbd --uri="$uri?tls-certificates=$C/client" --rw=read --size=1M \
    --bs=1M >"$T/refused.log" 2>&1 || true
grep -q "local file access" "$T/refused.log" || {
    cat "$T/refused.log"
    fail "fio's nbd engine did not refuse tls-certificates= (libnbd or fio changed: simplify this test)"
}

# libnbd's default place for a non-root user: $HOME/.pki/libnbd
libnbd_home

run_fio() {
    local name=$1
    shift
    (cd "$H" && HOME=$H setpriv --reuid=nobody --regid=nogroup --clear-groups \
        fio --name="$name" --ioengine=nbd --uri="$uri" --numjobs=4 --size=16M \
        --offset_increment=16M --group_reporting --output-format=json \
        --output="$H/$name.json" "$@") || fail "fio $name failed: $(cat "$H/$name.json")"
    jq -e '.jobs[0].error == 0' "$H/$name.json" >/dev/null ||
        fail "fio $name: error $(jq .jobs[0].error "$H/$name.json")"
}
run_fio randwrite --rw=randwrite --bs=4k --iodepth=16 --verify=crc32c --do_verify=1
[ "$(jq '.jobs[0].read.io_bytes' "$H/randwrite.json")" -ge $((60 << 20)) ] ||
    fail "fio verified only $(jq '.jobs[0].read.io_bytes' "$H/randwrite.json") bytes"
jq -r '.jobs[0] | "fio over TLS, 4k randwrite+verify, 4 jobs x QD16: write \(.write.iops|floor) IOPS, verify read \(.read.iops|floor) IOPS"' \
    "$H/randwrite.json"
run_fio seq --rw=write --bs=1M --iodepth=8 --verify=crc32c --do_verify=1
[ "$(jq '.jobs[0].read.io_bytes' "$H/seq.json")" -ge $((64 << 20)) ] ||
    fail "fio verified only $(jq '.jobs[0].read.io_bytes' "$H/seq.json") bytes sequentially"
jq -r '.jobs[0] | "fio over TLS, 1M sequential, 4 jobs x QD8: write \(.write.bw/1024|floor) MiB/s, verify read \(.read.bw/1024|floor) MiB/s"' \
    "$H/seq.json"
n=$(grep -c "attach fio: TLS client 'CN=host7,O=example' as principal" "$T/envold.log" || true)
[ "$n" -ge 8 ] || fail "expected 8 TLS attaches (4 jobs x 2 runs), envold logged $n"
echo "fio over nbds://: every block verified (crc32c) over 4 TLS connections"
echo OK
