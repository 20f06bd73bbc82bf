#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Write NAME.lmrec.expect from an lmlab log: expectations from QEMU's own
query-migrate numbers (never from lmtrace's).

  converges=1 total_s= downtime_ms=   completed without any throttle
  converges=1 nc_by_round=N ...       completed once a throttle was applied
  converges=0 nc_by_round=N           cancelled at the bound

nc_by_round is one sync before QEMU's auto-converge trigger: the round at
which QEMU's throttle changed when auto-converge was on, else the trigger
computed from the polls (two check periods in which dirtied bytes =
dirty-pages-rate x period exceed 50 % of transferred bytes; like QEMU, a
period ends at the first sync more than 1 s after the last check, so short
rounds add up). Never
below 2, the first sync after the bulk pass. The comment lines state what
QEMU reported, including the number of throttle steps.

usage: lab2expect.py LAB.jsonl [--applied APPLY.log] [--switchover-bw B/S]
"""
import json
import sys


def qemu_trigger_round(polls, page):
    """Sync count at which QEMU's auto-converge rule fires, from the polls."""
    prev_sync, prev_t, prev_tx, high = None, None, None, 0
    for p in polls:
        n = p["dirty-sync-count"]
        if p.get("cpu-throttle-percentage", 0) > 0:
            return n
        if prev_sync is None:
            prev_sync, prev_t, prev_tx = n, p["ts"], p["transferred"]
            continue
        if n != prev_sync and p["status"] == "active":
            period = p["ts"] - prev_t
            # QEMU checks at the first sync more than 1 s after its last
            # check, over everything since: short rounds accumulate.
            if period <= 1.0:
                prev_sync = n
                continue
            if n >= 2:
                dirtied = p["dirty-pages-rate"] * period * page
                sent = p["transferred"] - prev_tx
                if dirtied > 0.5 * sent:
                    high += 1
                    if high >= 2:
                        return n
            prev_sync, prev_t, prev_tx = n, p["ts"], p["transferred"]
    return None


def throttle_steps(polls):
    steps, now = [], 0
    for p in polls:
        t = p.get("cpu-throttle-percentage", 0)
        if t != now:
            steps.append(t)
            now = t
    return steps


def main():
    args = sys.argv[1:]
    recs = [json.loads(l) for l in open(args[0]) if l.strip()]
    applied = None
    sbw = 0
    if "--applied" in args:
        applied = open(args[args.index("--applied") + 1]).read().strip()
    if "--switchover-bw" in args:
        sbw = float(args[args.index("--switchover-bw") + 1])
    cfg = next(r for r in recs if r.get("event") == "config")
    mig = next(r for r in recs if r.get("event") == "migrate")
    res = next(r for r in recs if r["type"] == "result")
    polls = [r for r in recs if r["type"] == "poll" and r.get("attempt", 1) == mig.get("attempt", 1)]
    page = next((p["page-size"] for p in polls if p.get("page-size")), 4096)
    trig = qemu_trigger_round(polls, page)
    steps = throttle_steps(polls)
    print("# lmlab %s: wss=%s MiB rate=%s MiB/s pattern=%s mem=%s MiB bandwidth=%s MiB/s downtime-limit=%s ms "
          "auto-converge=%s" % (cfg["scenario"], cfg.get("wss_mib"), cfg.get("rate"), cfg.get("pattern"),
                                cfg.get("mem_mib"), cfg.get("bandwidth_mib"), cfg.get("downtime_ms"),
                                cfg.get("auto_converge")))
    print("# QEMU: %s, total %s ms, %s syncs, downtime %s ms, transferred %s, throttle steps %s, "
          "auto-converge rule fires at sync %s"
          % (res["status"], res["total_time_ms"], res["dirty_sync_count"], res["downtime_ms"],
             res["transferred"], steps or "none", trig))
    if applied:
        print("# " + applied.replace("\n", "\n# "))
    x = []
    if res["status"] == "completed":
        x.append("converges=1")
        if steps or applied:
            x.append("nc_by_round=%d" % max(2, (trig or 3) - 1))
        else:
            x.append("total_s=%.3f" % (res["total_time_ms"] / 1e3))
        x.append("downtime_ms=%d" % res["downtime_ms"])
        if sbw:
            x.append("switchover_bw=%.0f" % sbw)
    else:
        x.append("converges=0")
        x.append("nc_by_round=%d" % max(2, (trig or 3) - 1))
    print("expect " + " ".join(x))


if __name__ == "__main__":
    main()
