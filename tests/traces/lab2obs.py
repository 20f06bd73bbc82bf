#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Turn an lmlab JSON log (tests/lab/lmlab --out) into an observation trace
(test_estimator_text.h format) so a real migration can be replayed through
the estimator when no lmtrace recording exists.

QMP-derived, hence coarser than lmtrace's own rounds: sync times are known to
one poll period (250 ms), and the dirty pages of a round come from QEMU's
dirty-pages-rate x the round's length (QEMU counts only pages not already
pending, ~10 % below the bitmap popcount when the working set saturates; for
rounds shorter than a second QEMU does not refresh the rate and the last one
is reused). Bytes are QEMU's `transferred`. The expectations line comes from
the lab's result record.

usage: lab2obs.py LAB.jsonl > NAME.obs.txt
"""
import json
import sys

PAGE = 4096


def ts(t):
    ns = int(round(t * 1e9))
    return "%d.%09d" % (ns // 10**9, ns % 10**9)


def main():
    recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    cfg = next(r for r in recs if r.get("event") == "config")
    mig = next(r for r in recs if r.get("event") == "migrate")
    res = next((r for r in recs if r["type"] == "result"), None)
    polls = [r for r in recs if r["type"] == "poll" and r.get("attempt", 1) == mig.get("attempt", 1)]
    pid = 1
    out = []
    t0 = mig["ts"]
    ram = next((p["total"] for p in polls if p["total"]), cfg["mem_mib"] << 20)
    out.append("# qmp-derived: lmlab scenario %s (%s), converted by tests/traces/lab2obs.py"
               % (cfg["scenario"], cfg.get("guest_cmdline", "")))
    out.append("start ts=%s pid=%d ram_bytes=%d late=0" % (ts(t0), pid, ram))
    out.append("params ts=%s pid=%d downtime_ms=%d max_bandwidth=%d ram_bytes=%d throttle_pct=0 page_size=%d"
               % (ts(t0), pid, cfg["downtime_ms"], cfg["bandwidth_mib"] << 20, ram, PAGE))
    syncs, last_sync_t, rate, prev, throttle = 0, t0, 0, None, 0
    for p in polls:
        t = p["ts"]
        n = p["dirty-sync-count"]
        done = p["status"] == "completed"
        while syncs < n:
            syncs += 1
            final = done and syncs == n
            if syncs == 1:
                out.append("round ts=%s pid=%d round=1 flags=0 dirty_pages=%d duration_s=0 tx_bytes=0 "
                           "tx_total=0 ram_bytes=%d sync_ns=0" % (ts(t0 + 0.001), pid, ram // PAGE, ram))
                last_sync_t = t0 + 0.001
                continue
            if final:
                st = t - (res["downtime_ms"] / 1e3 if res else 0)
            elif prev is not None and n - syncs >= 1 and done:
                st = (prev["ts"] + t) / 2
            else:
                st = (prev["ts"] + t) / 2 if prev else t
            st = max(st, last_sync_t + 0.001)
            if p["dirty-pages-rate"]:
                rate = p["dirty-pages-rate"]
            dur = st - last_sync_t
            dirty = 0 if final else int(rate * dur)
            tx = prev["transferred"] if prev else 0
            out.append("round ts=%s pid=%d round=%d flags=%s dirty_pages=%d duration_s=%.9f tx_bytes=0 "
                       "tx_total=%d ram_bytes=%d sync_ns=0"
                       % (ts(st), pid, syncs, "final" if final else "0", dirty, dur, tx, ram))
            last_sync_t = st
        # QEMU changes the throttle at a sync: after the rounds of this poll
        if p.get("cpu-throttle-percentage", 0) != throttle:
            throttle = p["cpu-throttle-percentage"]
            out.append("params ts=%s pid=%d downtime_ms=%d max_bandwidth=%d ram_bytes=%d throttle_pct=%d page_size=%d"
                       % (ts(max(t - 0.001, last_sync_t)), pid, cfg["downtime_ms"], cfg["bandwidth_mib"] << 20,
                          ram, throttle, PAGE))
        if not done and p["status"] == "active":
            out.append("tick ts=%s pid=%d interval_s=%.9f tx_total=%d dirty_events_total=0 rounds=%d source=0"
                       % (ts(t), pid, t - prev["ts"] if prev else 0.25, p["transferred"], syncs))
        if done or p["status"] in ("cancelled", "failed"):
            out.append("end ts=%s pid=%d reason=%s" % (ts(t), pid, "completed" if done else "cancelled"))
            break
        prev = p
    if res:
        if res["status"] == "completed":
            x = "converges=1 total_s=%.3f downtime_ms=%d" % (res["total_time_ms"] / 1e3, res["downtime_ms"])
            if res.get("max_cpu_throttle_pct"):
                x = "converges=1 downtime_ms=%d" % res["downtime_ms"]
        else:
            x = "converges=0"
        out.insert(1, "# lab result: %s after %d ms, %d syncs, downtime %s ms, max throttle %s%%"
                   % (res["status"], res["total_time_ms"], res["dirty_sync_count"],
                      res.get("downtime_ms"), res.get("max_cpu_throttle_pct")))
        out.insert(2, "# expect " + x)
    print("\n".join(out))


if __name__ == "__main__":
    main()
