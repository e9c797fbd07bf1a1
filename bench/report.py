#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# report.py — turns scripts/bench's raw results (OUT/fio/*.json, OUT/parts/*.json,
# OUT/machine.json) into OUT/results.json, OUT/results.md (also printed) and OUT/chart.dat for
# bench/results.gnuplot.  Medians over repetitions; a ratio envol/peer is the median of the
# per-repetition ratios (issue 5: "medians of ratios from one run"); envol/best peer compares,
# per repetition, with the fastest of the three peers in that repetition.
import glob
import json
import os
import statistics
import sys

OUT = sys.argv[1]
SERVERS = ["envol", "nbdkit-file", "nbdkit-luks", "qemu-nbd-luks"]
ALL_SERVERS = SERVERS + ["envol-4k"]  # envol-4k: a 4096-byte-sector volume, sequential only
WORKLOADS = [
    ("seqwrite", "seq write 1 MiB QD8"),
    ("seqread", "seq read 1 MiB QD8"),
    ("randread", "rand read 4 KiB QD32"),
    ("randwrite", "rand write 4 KiB QD32"),
    ("randrw", "rand 70/30 4 KiB 4 jobs x QD8"),
]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def fio_run(path):
    j = load(path)
    if not j or not j.get("jobs"):
        return None
    job = j["jobs"][0]
    bw = iops = 0.0
    p99 = 0.0
    for d in ("read", "write"):
        x = job.get(d, {})
        if x.get("total_ios", 0) == 0:
            continue
        bw += x["bw_bytes"]
        iops += x["iops"]
        pct = x.get("clat_ns", {}).get("percentile", {})
        p99 = max(p99, pct.get("99.000000", 0) / 1e6)
    cpu = load(path + ".cpu")
    opts = j.get("global options", {})
    secs = float(opts.get("runtime", job.get("job options", {}).get("runtime", 0)) or 0)
    secs += float(opts.get("ramp_time", job.get("job options", {}).get("ramp_time", 0)) or 0)
    cpu_pct = cpu_s_gb = None
    if cpu and secs > 0:
        cpu_s = cpu["server_cpu_ticks"] / cpu["hz"]
        cpu_pct = 100.0 * cpu_s / secs
        # CPU seconds the server spent per GB moved: robust against other load on the machine
        # (the ramp is included in both the CPU time and, at the same rate, the bytes).
        if bw > 0:
            cpu_s_gb = cpu_s / (bw * secs / 1e9)
    return {"mb_s": bw / 1e6, "iops": iops, "p99_ms": p99, "cpu_pct": cpu_pct,
            "cpu_s_per_gb": cpu_s_gb}


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec="{:.0f}", none="n/a"):
    return none if v is None else spec.format(v)


machine = load(os.path.join(OUT, "machine.json")) or {}
parts = {os.path.basename(p)[:-5]: load(p) for p in glob.glob(os.path.join(OUT, "parts", "*.json"))}
envol_na = load(os.path.join(OUT, "fio", "envol.na"))
reps = int(machine.get("reps", 3))

# ---- fio
fio = {}
for wl, _ in WORKLOADS:
    fio[wl] = {}
    for s in ALL_SERVERS:
        runs = [fio_run(os.path.join(OUT, "fio", f"{s}-{wl}-{r}.json")) for r in range(1, reps + 1)]
        if not any(runs):
            fio[wl][s] = None
            continue
        ok = [r for r in runs if r]
        fio[wl][s] = {
            "mb_s": med([r["mb_s"] for r in ok]),
            "iops": med([r["iops"] for r in ok]),
            "p99_ms": med([r["p99_ms"] for r in ok]),
            "cpu_pct": med([r["cpu_pct"] for r in ok]),
            "cpu_s_per_gb": med([r["cpu_s_per_gb"] for r in ok]),
            "runs": len(ok),
            "per_run_mb_s": [r["mb_s"] if r else None for r in runs],
        }
    for s in SERVERS[1:]:
        if fio[wl].get("envol") and fio[wl].get(s):
            e, p = fio[wl]["envol"]["per_run_mb_s"], fio[wl][s]["per_run_mb_s"]
            ratios = [a / b for a, b in zip(e, p) if a and b]
            fio[wl][s]["envol_ratio"] = med(ratios)
    if fio[wl].get("envol-4k") and fio[wl].get("nbdkit-file"):
        e, p = fio[wl]["envol-4k"]["per_run_mb_s"], fio[wl]["nbdkit-file"]["per_run_mb_s"]
        fio[wl]["envol-4k"]["ratio_to_nbdkit_file"] = med([a / b for a, b in zip(e, p) if a and b])
    # envol against the best peer of each repetition, and which peer that was most often.
    if fio[wl].get("envol"):
        peers = [s for s in SERVERS[1:] if fio[wl].get(s)]
        ratios, best = [], []
        for i, e in enumerate(fio[wl]["envol"]["per_run_mb_s"]):
            runs = [(fio[wl][s]["per_run_mb_s"][i], s) for s in peers
                    if fio[wl][s]["per_run_mb_s"][i]]
            if e and runs:
                top = max(runs)
                ratios.append(e / top[0])
                best.append(top[1])
        if ratios:
            fio[wl]["envol"]["best_peer_ratio"] = med(ratios)
            fio[wl]["envol"]["best_peer"] = max(set(best), key=best.count)

# ---- volumes on Ceph RBD (OUT/fio/rbd): envol against qemu-nbd on a plain and a LUKS2 image
RBD_SERVERS = ["envol-rbd", "qemu-rbd", "qemu-rbd-luks2"]
rbd = {}
for wl, _ in WORKLOADS:
    rbd[wl] = {}
    for s in RBD_SERVERS:
        runs = [fio_run(os.path.join(OUT, "fio", "rbd", f"{s}-{wl}-{r}.json"))
                for r in range(1, reps + 1)]
        ok = [r for r in runs if r]
        if not ok:
            rbd[wl][s] = None
            continue
        rbd[wl][s] = {k: med([r[k] for r in ok]) for k in
                      ("mb_s", "iops", "p99_ms", "cpu_pct", "cpu_s_per_gb")}
        rbd[wl][s]["runs"] = len(ok)
        rbd[wl][s]["per_run_mb_s"] = [r["mb_s"] if r else None for r in runs]
    for s in RBD_SERVERS[1:]:
        if rbd[wl].get("envol-rbd") and rbd[wl].get(s):
            e, p = rbd[wl]["envol-rbd"]["per_run_mb_s"], rbd[wl][s]["per_run_mb_s"]
            rbd[wl][s]["envol_ratio"] = med([a / b for a, b in zip(e, p) if a and b])

results = {"machine": machine, "fio": fio, "envol_na": envol_na, "rbd_fio": rbd}
results.update(parts)

# ---- targets (issue 5 item 5)
targets = []


def target(name, value, ok, shown):
    targets.append({"target": name, "measured": value, "met": ok, "shown": shown})


def ratio_target(wl, peer, need):
    r = (fio.get(wl, {}).get(peer) or {}).get("envol_ratio")
    label = dict(WORKLOADS)[wl]
    name = f"{label}: envol >= {need}x {peer}"
    if r is None:
        target(name, None, None, "n/a" + (f" ({envol_na})" if envol_na else ""))
    else:
        target(name, r, r >= need, f"{r:.2f}x")


def fio_target(name, value, need, higher=True):
    if value is None:
        target(name, None, None, "n/a" + (f" ({envol_na})" if envol_na else ""))
    else:
        target(name, value, value >= need if higher else value <= need, f"{value:.2f}x")


# Issue 12's targets (they replace issue 5's ratios to nbdkit-file and nbdkit-luks).
ratio_target("seqread", "nbdkit-file", 0.85)
fio_target("seq read 1 MiB QD8, 4096-byte sectors: envol-4k >= 0.95x nbdkit-file",
           (fio["seqread"].get("envol-4k") or {}).get("ratio_to_nbdkit_file"), 0.95)
ratio_target("seqwrite", "nbdkit-file", 1.0)
ratio_target("randread", "nbdkit-file", 1.1)
fio_target("rand write 4 KiB QD32: envol >= 1.0x the best peer",
           (fio["randwrite"].get("envol") or {}).get("best_peer_ratio"), 1.0)
e_cpu = (fio["seqread"].get("envol") or {}).get("cpu_s_per_gb")
f_cpu = (fio["seqread"].get("nbdkit-file") or {}).get("cpu_s_per_gb")
fio_target("seq read: envol server CPU s/GB <= 1.5x nbdkit-file's",
           e_cpu / f_cpu if e_cpu and f_cpu else None, 1.5, higher=False)

crypto = parts.get("crypto") or {}
# Medians over the alternating repetitions: openssl per sector size; per (backend, sector,
# call) for xts-speed's rows.
ossl = {}
for size in ("512", "4096"):
    ossl[size] = med([r.get(size) for r in crypto.get("openssl_runs", []) if r.get(size)])
cells = {}
for run in crypto.get("envol_runs", []):
    for c in run:
        cells.setdefault((c.get("backend", "auto"), c["sector"], c["per_call"]), []).append(c)
crypto["openssl_mb_s"] = ossl
crypto["envol"] = [{"backend": k[0], "sector": k[1], "per_call": k[2],
                    "encrypt": med([c["encrypt"] for c in v]),
                    "decrypt": med([c["decrypt"] for c in v]), "runs": len(v)}
                   for k, v in cells.items()]
auto = crypto.get("auto") or "auto"
for size in (512, 4096):
    name = f"sector cipher {size} B: envol ({auto}) >= 1.3x openssl speed"
    o = ossl.get(str(size))
    e = next((c for c in crypto["envol"] if c["backend"] == auto and c["sector"] == size
              and c["per_call"] == size), None)
    if o and e:
        r = e["encrypt"] / o
        target(name, r, r >= 1.3, f"{r:.2f}x ({e['encrypt']:.0f} vs {o:.0f} MB/s)")
    else:
        target(name, None, None, "n/a (" + crypto.get("envol_na", crypto.get("na", "not run")) + ")")

kms = parts.get("kms")
if isinstance(kms, list):
    # Repeated rows (same op, transport, clients, key policy) become one row of medians.
    grouped = {}
    for r in kms:
        grouped.setdefault((r.get("op"), r.get("transport"), r.get("clients"),
                            r.get("key_policy", "default")), []).append(r)
    kms = []
    for rows in grouped.values():
        ok = [r for r in rows if "na" not in r]
        if not ok:
            kms.append(rows[0])
            continue
        m = dict(ok[0])
        for k in ("ops_per_s", "p50_us", "p99_us", "max_us"):
            m[k] = med([r[k] for r in ok])
        m["ops"] = sum(r["ops"] for r in ok)
        m["errors"] = sum(r["errors"] for r in ok)
        m["runs"] = len(ok)
        kms.append(m)
    results["kms"] = kms
dec16 = dec16p = None
if isinstance(kms, list):
    dec16 = next((r for r in kms if r.get("op") == "Decrypt" and r.get("transport") == "unix"
                  and r.get("clients") == 16 and r.get("key_policy", "default") == "default"
                  and "na" not in r), None)
    dec16p = next((r for r in kms if r.get("op") == "Decrypt" and r.get("transport") == "unix"
                   and r.get("clients") == 16 and r.get("key_policy") == "policy-10.json"), None)
if dec16:
    target("KMS Decrypt, Unix socket, 16 clients: >= 20,000 ops/s", dec16["ops_per_s"],
           dec16["ops_per_s"] >= 20000, f"{dec16['ops_per_s']:.0f} ops/s")
    target("KMS Decrypt, Unix socket, 16 clients: p99 < 2 ms", dec16["p99_us"] / 1000,
           dec16["p99_us"] < 2000, f"{dec16['p99_us'] / 1000:.2f} ms")
    # Issue 10: authorization must not cost the hot path.
    name = ("KMS Decrypt, Unix socket, 16 clients, 10-statement key policy with conditions: "
            ">= 20,000 ops/s")
    if dec16p and "na" not in dec16p:
        target(name, dec16p["ops_per_s"], dec16p["ops_per_s"] >= 20000,
               f"{dec16p['ops_per_s']:.0f} ops/s (default policy: {dec16['ops_per_s']:.0f})")
    else:
        target(name, None, None, f"n/a ({(dec16p or {}).get('na', 'not run')})")
else:
    why = kms.get("na") if isinstance(kms, dict) else "not run"
    target("KMS Decrypt, Unix socket, 16 clients: >= 20,000 ops/s, p99 < 2 ms", None, None,
           f"n/a ({why})")

# Issue 13 item 6: envol on RBD against qemu-nbd on the same cluster.
rbd_part = parts.get("rbd") or {}
for wl, label in WORKLOADS:
    needs = [("qemu-rbd-luks2", 1.0)] + ([("qemu-rbd", 0.9)] if wl.startswith("seq") else [])
    for peer, need in needs:
        name = f"RBD, {label}: envol >= {need}x {peer}"
        r = (rbd[wl].get(peer) or {}).get("envol_ratio")
        if r is None:
            target(name, None, None, "n/a" + (f" ({rbd_part['na']})" if "na" in rbd_part else ""))
        else:
            target(name, r, r >= need, f"{r:.2f}x")

att = parts.get("attach") or {}
if "p99_us" in att:
    target("attach p99 < 10 ms", att["p99_us"] / 1000, att["p99_us"] < 10000,
           f"{att['p99_us'] / 1000:.2f} ms")
else:
    target("attach p99 < 10 ms", None, None, f"n/a ({att.get('na', 'not run')})")

mem = parts.get("memory") or {}
if "envold_rss_kib" in mem:
    mib = mem["envold_rss_kib"] / 1024
    target("envold RSS, 100 volumes x 2 connections < 64 MiB", mib, mib < 64, f"{mib:.1f} MiB")
else:
    target("envold RSS, 100 volumes x 2 connections < 64 MiB", None, None,
           f"n/a ({mem.get('na', 'not run')})")
results["targets"] = targets

# ---- NBD over TLS (issue 11): OUT/tls/<server>-<workload>-<rep>.json
TLS_SERVERS = ["envol-tls", "envol-plain", "nbdkit-tls", "nbdkit-plain"]
TLS_WORKLOADS = WORKLOADS[:4]
tls = {}
for wl, _ in TLS_WORKLOADS:
    tls[wl] = {}
    for s in TLS_SERVERS:
        runs = [fio_run(os.path.join(OUT, "tls", f"{s}-{wl}-{r}.json")) for r in range(1, reps + 1)]
        ok = [r for r in runs if r]
        tls[wl][s] = None if not ok else {
            "mb_s": med([r["mb_s"] for r in ok]),
            "iops": med([r["iops"] for r in ok]),
            "p99_ms": med([r["p99_ms"] for r in ok]),
            "cpu_s_per_gb": med([r["cpu_s_per_gb"] for r in ok]),
            "per_run_mb_s": [r["mb_s"] if r else None for r in runs],
            "per_run_cpu": [r["cpu_s_per_gb"] if r else None for r in runs],
        }
    e, n = tls[wl].get("envol-tls"), tls[wl].get("nbdkit-tls")
    if e and n:
        e["ratio_to_nbdkit_tls"] = med([a / b for a, b in zip(e["per_run_mb_s"], n["per_run_mb_s"])
                                        if a and b])
    for srv in ("envol", "nbdkit"):
        t, p = tls[wl].get(f"{srv}-tls"), tls[wl].get(f"{srv}-plain")
        if t and p:
            t["tls_cpu_cost"] = med([a / b for a, b in zip(t["per_run_cpu"], p["per_run_cpu"])
                                     if a and b])
results["tls"] = {"rows": tls, "machine": parts.get("tls")}
for wl in ("seqread", "seqwrite"):
    e = tls[wl].get("envol-tls") or {}
    target(f"TLS {wl}: envol-tls >= 1.2x nbdkit-tls", e.get("ratio_to_nbdkit_tls"),
           None if e.get("ratio_to_nbdkit_tls") is None else e["ratio_to_nbdkit_tls"] >= 1.2,
           fmt(e.get("ratio_to_nbdkit_tls"), "{:.2f}x"))
for wl in ("seqread", "seqwrite"):
    e, n = tls[wl].get("envol-tls") or {}, tls[wl].get("nbdkit-tls") or {}
    ec, nc = e.get("tls_cpu_cost"), n.get("tls_cpu_cost")
    target(f"TLS {wl}: TLS costs envold no more CPU s/GB than it costs nbdkit (tls/plain ratios)",
           ec, None if ec is None or nc is None else ec <= nc,
           f"{fmt(ec, '{:.2f}x')} vs {fmt(nc, '{:.2f}x')}")
results["targets"] = targets

# ---- markdown
md = []
md.append(f"# envol benchmark — {machine.get('date', '')} (commit {machine.get('commit', '?')})")
md.append("")
md.append(f"Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, "
          f"{machine.get('mem_gib', '?')} GiB, Linux {machine.get('kernel', '?')}; "
          f"{machine.get('fio', 'fio')}, nbdkit {machine.get('nbdkit', '?')}, "
          f"qemu-nbd {machine.get('qemu', '?')}, OpenSSL {machine.get('openssl', '?')}. "
          f"fio runs: {machine.get('runtime_s')} s + {machine.get('ramp_s')} s ramp, "
          f"{reps} repetitions, medians; all servers on Unix sockets, files in the page cache. "
          f"Load average (1/5/15 min) at start {machine.get('loadavg_start', '?')}, "
          f"at end {machine.get('loadavg_end', '?')}.")
md.append("")
md.append("## Block I/O (fio --ioengine=nbd)")
md.append("")
md.append("| workload | server | MB/s | IOPS | p99 ms | server CPU % | server CPU s/GB | envol/peer |")
md.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for wl, label in WORKLOADS:
    for s in ALL_SERVERS:
        r = fio[wl].get(s)
        if s == "envol-4k" and not r:
            continue
        if not r:
            why = f"n/a ({envol_na})" if s == "envol" and envol_na else "n/a"
            md.append(f"| {label} | {s} | {why} | | | | | |")
            continue
        ratio = "—" if s == "envol" else fmt(r.get("envol_ratio"), "{:.2f}x")
        if s == "envol-4k":
            ratio = fmt(r.get("ratio_to_nbdkit_file"), "{:.2f}x") + " (4k/file)"
        md.append(f"| {label} | {s} | {r['mb_s']:.0f} | {r['iops']:.0f} | {r['p99_ms']:.2f} | "
                  f"{fmt(r['cpu_pct'])} | {fmt(r['cpu_s_per_gb'], '{:.2f}')} | {ratio} |")
md.append("")
md.append("p99 is fio's completion latency; for the 70/30 mix the larger of read and write. "
          "Server CPU % counts all of the server's threads (200 % = both cores); server CPU s/GB is "
          "the server's CPU time per GB moved, the number least disturbed by other load. "
          "envol is the default volume (512-byte sectors, like the LUKS images); envol-4k the "
          "same with --sector-size 4096, sequential workloads only, its ratio to nbdkit-file.")
md.append("")
md.append("### Ratios per workload (medians of per-repetition ratios)")
md.append("")
md.append("| workload | envol/nbdkit-file | envol/best peer | envol-4k/nbdkit-file | "
          "server CPU s/GB, envol/nbdkit-file |")
md.append("| --- | ---: | ---: | ---: | ---: |")
for wl, label in WORKLOADS:
    e = fio[wl].get("envol") or {}
    f = fio[wl].get("nbdkit-file") or {}
    k = fio[wl].get("envol-4k") or {}
    best = fmt(e.get("best_peer_ratio"), "{:.2f}x")
    if e.get("best_peer"):
        best += f" ({e['best_peer']})"
    cpu = (e["cpu_s_per_gb"] / f["cpu_s_per_gb"]
           if e.get("cpu_s_per_gb") and f.get("cpu_s_per_gb") else None)
    md.append(f"| {label} | {fmt(f.get('envol_ratio'), '{:.2f}x')} | {best} | "
              f"{fmt(k.get('ratio_to_nbdkit_file'), '{:.2f}x', '—')} | {fmt(cpu, '{:.2f}x')} |")

md.append("")
md.append("## Sector cipher, one core (MB/s = 10^6 bytes/s, CPU time, medians)")
md.append("")
if crypto and "na" not in crypto:
    md.append("| backend | 512 B, 1 sector per call (enc / dec) | 512 B, 128 KiB per call | "
              "4096 B, 1 sector per call | 4096 B, 128 KiB per call | 1 sector per call / "
              "openssl speed (512 / 4096) |")
    md.append("| --- | ---: | ---: | ---: | ---: | ---: |")
    md.append(f"| `openssl speed -evp aes-256-xts -bytes N` | {fmt(ossl.get('512'))} | — | "
              f"{fmt(ossl.get('4096'))} | — | 1.00x / 1.00x |")
    order = []
    for c in crypto["envol"]:
        if c["backend"] not in order:
            order.append(c["backend"])
    for b in order:
        row = {(c["sector"], c["per_call"]): c for c in crypto["envol"] if c["backend"] == b}
        cols = []
        for key in ((512, 512), (512, 131072), (4096, 4096), (4096, 131072)):
            c = row.get(key)
            cols.append(f"{c['encrypt']:.0f} / {c['decrypt']:.0f}" if c else "n/a")
        rat = []
        for size in (512, 4096):
            c, o = row.get((size, size)), ossl.get(str(size))
            rat.append(fmt(c["encrypt"] / o, "{:.2f}x") if c and o else "n/a")
        name = b + (" (auto)" if b == auto else "") if b != "libgcrypt-ref" else \
            "libgcrypt-ref (gcry_cipher_setiv + encrypt per sector)"
        md.append(f"| {name} | " + " | ".join(cols) + f" | {rat[0]} / {rat[1]} |")
    if crypto.get("envol_na"):
        md.append("")
        md.append(f"xts-speed: n/a ({crypto['envol_na']})")
    if crypto.get("envold_choice"):
        md.append("")
        md.append(f"envold's log: `{crypto['envold_choice']}`")
else:
    md.append(f"n/a ({crypto.get('na', 'not run')})")
md.append("")

md.append("## KMS load (bench/kms-load, kept-alive HTTP connections)")
md.append("")
if isinstance(kms, list):
    md.append("| operation | key policy | transport | clients | ops/s | p50 ms | p99 ms | errors |")
    md.append("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in kms:
        pol = r.get("key_policy", "default")
        if "na" in r:
            md.append(f"| {r['op']} | {pol} | {r['transport']} | {r['clients']} | "
                      f"n/a ({r['na']}) | | | |")
        else:
            runs = f" (median of {r['runs']})" if r.get("runs", 1) > 1 else ""
            md.append(f"| {r['op']} | {pol} | {r['transport']} | {r['clients']}{runs} | "
                      f"{r['ops_per_s']:.0f} | {r['p50_us'] / 1000:.2f} | "
                      f"{r['p99_us'] / 1000:.2f} | {r['errors']} |")
else:
    md.append(f"n/a ({(kms or {}).get('na', 'not run')})")

md.append("")
md.append("## Attach and memory")
md.append("")
md.append("| measurement | value |")
md.append("| --- | ---: |")
if "p99_us" in att:
    md.append(f"| attach (connect + handshake + NBD_OPT_GO incl. KMS Decrypt), "
              f"{att['attaches']} cold attaches over {att['exports']} volumes: p50 / p99 / max | "
              f"{att['p50_us'] / 1000:.2f} / {att['p99_us'] / 1000:.2f} / "
              f"{att['max_us'] / 1000:.2f} ms |")
else:
    md.append(f"| attach latency | n/a ({att.get('na', 'not run')}) |")
if "envold_rss_kib" in mem:
    md.append(f"| envold RSS idle (fresh start) | {mem['envold_rss_idle_kib'] / 1024:.1f} MiB |")
    md.append(f"| envold RSS, {mem['volumes']} volumes x 2 connections ({mem['connections']} "
              f"connections, {mem['threads']} threads) | {mem['envold_rss_kib'] / 1024:.1f} MiB |")
else:
    md.append(f"| envold RSS, 100 volumes x 2 connections | n/a ({mem.get('na', 'not run')}) |")
keys = parts.get("keys") or {}
if "kmsd_rss_kib" in keys:
    c = keys["create"]
    md.append(f"| envol-kmsd RSS idle (fresh start) | {keys['kmsd_rss_idle_kib'] / 1024:.1f} MiB |")
    md.append(f"| envol-kmsd RSS with {c['ops']} more keys (CreateKey, 16 clients: "
              f"{c['ops_per_s']:.0f} keys/s, p99 {c['p99_us'] / 1000:.1f} ms; kms.db "
              f"{keys['db_bytes'] / 1048576:.1f} MiB) | {keys['kmsd_rss_kib'] / 1024:.1f} MiB |")
else:
    md.append(f"| envol-kmsd RSS with 10,000 keys | n/a ({keys.get('na', 'not run')}) |")

md.append("")
md.append("## Volumes on Ceph RBD (fio --ioengine=nbd, one throwaway single-node cluster)")
md.append("")
if any(rbd[wl].get(s) for wl, _ in WORKLOADS for s in RBD_SERVERS):
    md.append(f"Ceph {rbd_part.get('ceph', '?')}: 1 monitor, 1 OSD (bluestore on a sparse file, "
              "64 MiB cache), pool size 1, client.envol; envold with the volume's own RADOS "
              "client and librbd's cache off; qemu-nbd with qemu's rbd driver in its default "
              "cache mode (librbd's cache on); qemu-rbd-luks2 on an image formatted with "
              "`rbd encryption format … luks2`.")
    md.append("")
    md.append("| workload | server | MB/s | IOPS | p99 ms | server CPU % | envol/peer |")
    md.append("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for wl, label in WORKLOADS:
        for s in RBD_SERVERS:
            r = rbd[wl].get(s)
            if not r:
                md.append(f"| {label} | {s} | n/a | | | | |")
                continue
            ratio = "—" if s == "envol-rbd" else fmt(r.get("envol_ratio"), "{:.2f}x")
            md.append(f"| {label} | {s} | {r['mb_s']:.0f} | {r['iops']:.0f} | "
                      f"{r['p99_ms']:.2f} | {fmt(r['cpu_pct'])} | {ratio} |")
else:
    md.append(f"n/a ({rbd_part.get('na', 'not run')})")

md.append("")
md.append("## NBD over TLS (issue 11: TCP, X.509 with verify-peer, fio --ioengine=nbd)")
md.append("")
tls_part = parts.get("tls") or {}
if any(tls[wl].get(s) for wl, _ in TLS_WORKLOADS for s in TLS_SERVERS):
    md.append(f"GnuTLS {tls_part.get('gnutls', '?')}; kernel TLS: "
              + ("tls ULP offered, asked for through GnuTLS's system configuration"
                 if tls_part.get("ktls_ulp") else
                 f"not used ({tls_part.get('ktls_note') or 'the kernel offers no tls ULP'})")
              + ". envol-tls is envold (server.tls = on) over nbds:// on TCP, envol-plain the "
              "same process over its Unix socket (a plain TCP client has no identity and "
              "attaches nothing); nbdkit-tls is nbdkit's file plugin with --tls=require on TCP, "
              "nbdkit-plain the same without TLS on a Unix socket, on a raw file (no "
              "encryption at rest).")
    md.append("")
    md.append("| workload | server | MB/s | IOPS | p99 ms | server CPU s/GB | "
              "envol-tls/nbdkit-tls | TLS CPU cost (tls/plain s/GB) |")
    md.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for wl, label in TLS_WORKLOADS:
        for s in TLS_SERVERS:
            r = tls[wl].get(s)
            if not r:
                md.append(f"| {label} | {s} | n/a | | | | | |")
                continue
            ratio = fmt(r.get("ratio_to_nbdkit_tls"), "{:.2f}x", "") if s == "envol-tls" else ""
            cost = fmt(r.get("tls_cpu_cost"), "{:.2f}x", "") if s.endswith("-tls") else ""
            md.append(f"| {label} | {s} | {r['mb_s']:.0f} | {r['iops']:.0f} | {r['p99_ms']:.2f} | "
                      f"{fmt(r['cpu_s_per_gb'], '{:.2f}')} | {ratio} | {cost} |")
else:
    md.append(f"n/a ({tls_part.get('na') or 'not run'})")
md.append("")
md.append("## Targets (issue 12; KMS, attach and memory from issue 5; RBD from issue 13; TLS from "
          "issue 11)")
md.append("")
md.append("| target | measured | met |")
md.append("| --- | ---: | :---: |")
for t in targets:
    met = "n/a" if t["met"] is None else ("yes" if t["met"] else "**no**")
    md.append(f"| {t['target']} | {t['shown']} | {met} |")
md.append("")

text = "\n".join(md)
with open(os.path.join(OUT, "results.md"), "w") as f:
    f.write(text)
with open(os.path.join(OUT, "results.json"), "w") as f:
    json.dump(results, f, indent=1, sort_keys=True)
    f.write("\n")

# ---- chart data: index 0 = sequential MB/s, index 1 = random kIOPS; one column per server.
with open(os.path.join(OUT, "chart.dat"), "w") as f:
    for block, (names, key, scale) in enumerate(
            [(("seqwrite", "seqread"), "mb_s", 1), (("randread", "randwrite", "randrw"), "iops", 1e3)]):
        if block:
            f.write("\n\n")
        f.write("workload " + " ".join(SERVERS) + "\n")
        for wl in names:
            vals = [fio[wl].get(s) for s in SERVERS]
            f.write(wl + " " + " ".join(f"{v[key] / scale:.1f}" if v else "0" for v in vals) + "\n")
print(text)
