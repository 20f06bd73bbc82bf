#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Apply lmtrace's recommended throttle over QMP, as an operator would.

Follows lmtrace's JSON lines (TRACE.jsonl, still being written); at the first
sample whose verdict is not-converging with a throttle recommendation, rounds
it up to a whole percent and sets cpu-throttle-initial = max-cpu-throttle =
pct, cpu-throttle-increment = 99 on QEMU's QMP socket. QEMU 7.2 has no direct
"set throttle" command: auto-converge (which must be on) applies it at its
next trigger, from 0 % (initial) or from any lower throttle (+99, capped at
max). Increment 99, not 100: QEMU accepts only 1..99.

With --repeat (closed loop): once QEMU runs at the applied throttle and
lmtrace has seen two more syncs under it, a not-converging verdict with a
higher recommendation is applied the same way, and so on.

usage: apply_throttle.py TRACE.jsonl QMP_SOCKET [--repeat]
"""
import json
import math
import socket
import sys
import time


def qmp(sock_path, cmd, args):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    f = s.makefile("rw")
    f.readline()  # greeting
    for c, a in (("qmp_capabilities", {}), (cmd, args)):
        f.write(json.dumps({"execute": c, "arguments": a}) + "\n")
        f.flush()
        while True:
            r = json.loads(f.readline())
            if "return" in r or "error" in r:
                break
        if "error" in r:
            return r
    s.close()
    return r


def qemu_throttle(sock_path):
    r = qmp(sock_path, "query-migrate", {})
    return r.get("return", {}).get("cpu-throttle-percentage", 0)


def main():
    trace, sock_path = sys.argv[1], sys.argv[2]
    repeat = "--repeat" in sys.argv[3:]
    pos, applied, settled_rounds = 0, 0, None
    while True:
        with open(trace) as f:
            f.seek(pos)
            lines = f.readlines()
            pos = f.tell()
        for line in lines:
            if not line.endswith("\n"):
                pos -= len(line.encode())
                break
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if r.get("type") != "sample":
                continue
            if applied and settled_rounds is None and qemu_throttle(sock_path) == applied:
                settled_rounds = r.get("rounds", 0)
            if r.get("verdict") != "not-converging":
                continue
            pct = r.get("throttle_pct")
            if not pct or pct <= 0:
                continue
            pct = min(99, int(math.ceil(pct)))
            if applied:
                if settled_rounds is None or r.get("rounds", 0) < settled_rounds + 2 or pct <= applied:
                    continue
            res = qmp(sock_path, "migrate-set-parameters",
                      {"cpu-throttle-initial": pct, "max-cpu-throttle": pct,
                       "cpu-throttle-increment": 99})
            print("applied throttle_pct=%d at %.3f (lmtrace sample ts %s, round %s, recommended %.1f): %s"
                  % (pct, time.time(), r.get("ts"), r.get("rounds"), r.get("throttle_pct"), json.dumps(res)))
            sys.stdout.flush()
            if "return" not in res:
                return 1
            if not repeat:
                return 0
            applied, settled_rounds = pct, None
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
