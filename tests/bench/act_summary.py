#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""One lab run's numbers, from QEMU's own reports (lmlab's lab.jsonl), never
from lmtrace's: total time and downtime (query-migrate at the end), throttle
steps (rises of cpu-throttle-percentage between polls), the guest's lost
CPU time (throttle % integrated over the polls: seconds of one vCPU), and
whether it converged. With a trace (lmtrace -j), also the actions it took.

usage: act_summary.py LAB.jsonl [TRACE.jsonl]   -> one JSON object on stdout
"""
import json
import sys


def main():
    polls, result = [], None
    for line in open(sys.argv[1]):
        r = json.loads(line)
        if r.get("type") == "poll":
            polls.append(r)
        elif r.get("type") == "result":
            result = r
    steps, lost, prev_pct, prev_ts = 0, 0.0, 0, None
    for p in polls:
        pct = p.get("cpu-throttle-percentage") or 0
        if prev_ts is not None:
            lost += prev_pct / 100.0 * (p["ts"] - prev_ts)
        if pct > prev_pct:
            steps += 1
        prev_pct, prev_ts = pct, p["ts"]
    out = {
        "status": result["status"] if result else "none",
        "converged": bool(result and result["status"] == "completed"),
        "total_s": result["total_time_ms"] / 1000.0 if result and result["total_time_ms"] > 0 else None,
        "downtime_ms": result["downtime_ms"] if result and result["status"] == "completed" else None,
        "throttle_steps": steps,
        "max_throttle_pct": result["max_cpu_throttle_pct"] if result else None,
        "lost_cpu_s": round(lost, 2),
        "syncs": result["dirty_sync_count"] if result else None,
    }
    if len(sys.argv) > 2:
        acts = []
        for line in open(sys.argv[2]):
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if r.get("type") == "action":
                acts.append("%s %s %s" % (r["action"], r["value"], r["outcome"]))
        out["actions"] = acts
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
