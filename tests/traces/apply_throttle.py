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

usage: apply_throttle.py TRACE.jsonl QMP_SOCKET
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


def main():
    trace, sock_path = sys.argv[1], sys.argv[2]
    pos = 0
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
            if r.get("type") != "sample" or r.get("verdict") != "not-converging":
                continue
            pct = r.get("throttle_pct")
            if not pct or pct <= 0:
                continue
            pct = min(99, int(math.ceil(pct)))
            res = qmp(sock_path, "migrate-set-parameters",
                      {"cpu-throttle-initial": pct, "max-cpu-throttle": pct,
                       "cpu-throttle-increment": 99})
            print("applied throttle_pct=%d at %.3f (lmtrace sample ts %s, recommended %.1f): %s"
                  % (pct, time.time(), r.get("ts"), r.get("throttle_pct"), json.dumps(res)))
            sys.stdout.flush()
            return 0 if "return" in res else 1
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
