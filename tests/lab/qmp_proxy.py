#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""A QMP socket that records every command a client sends, then passes it on.

Listens on LISTEN (a UNIX socket), connects each client to QEMU's socket
UPSTREAM, copies bytes both ways unchanged, and appends every JSON object
the client sent, one per line, to LOG. The dry-run test reads LOG: an
lmtrace that only looks sends qmp_capabilities and query-* commands alone.
The proxy is its own process: SO_PEERCRED on LISTEN names it, not QEMU.

usage: qmp_proxy.py LISTEN UPSTREAM LOG
"""
import os
import socket
import sys
import threading


def pump(src, dst, log, lock):
    buf = b""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
            if log is None:
                continue
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    with lock:
                        log.write(line.decode(errors="replace").strip() + "\n")
                        log.flush()
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    listen, upstream, log_path = sys.argv[1:4]
    log, lock = open(log_path, "a"), threading.Lock()
    if os.path.exists(listen):
        os.unlink(listen)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(listen)
    srv.listen(4)
    while True:
        client, _ = srv.accept()
        up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        up.connect(upstream)
        threading.Thread(target=pump, args=(client, up, log, lock), daemon=True).start()
        threading.Thread(target=pump, args=(up, client, None, lock), daemon=True).start()


if __name__ == "__main__":
    main()
