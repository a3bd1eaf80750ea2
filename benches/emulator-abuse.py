#!/usr/bin/env python3
"""Holds N idle and slowloris connections to a running emulator and times `GET /health`.

Usage: python3 benches/emulator-abuse.py HOST:PORT [N] [ROUNDS]
Start the emulator first: `jwtprobe mock --listen 127.0.0.1:18090`. Half of the N connections
send nothing, half send a partial request head (slowloris). Prints how many were accepted,
refused (503 or reset) and the /health latencies (min, median, max) while they are held.
The process needs N + 100 file descriptors (`ulimit -n`).
"""
import socket
import statistics
import sys
import time

host, port = sys.argv[1].rsplit(":", 1)
port = int(port)
n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 20

held, failed = [], 0
started = time.time()
for i in range(n):
    try:
        s = socket.create_connection((host, port), timeout=5)
        if i % 2:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        held.append(s)
    except OSError:
        failed += 1
opened = time.time() - started


def health():
    t = time.perf_counter()
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = s.recv(256)
    s.close()
    return time.perf_counter() - t, data.split(b"\r\n", 1)[0].decode(errors="replace")


times, lines = [], set()
for _ in range(rounds):
    dt, line = health()
    times.append(dt * 1000)
    lines.add(line)
    time.sleep(0.05)

# How many of the held connections the server refused (it answers 503 or closes them).
refused = 0
for s in held:
    s.setblocking(False)
    try:
        s.recv(64)  # an answer (503, 408) or b"" (closed)
        refused += 1
    except BlockingIOError:
        pass
    except OSError:
        refused += 1
print(f"attempted {n} connections in {opened:.1f}s: {len(held)} opened, {failed} failed, "
      f"{refused} answered or closed by the server while held")
print(f"/health x{rounds}: {sorted(lines)} min {min(times):.2f} ms, "
      f"median {statistics.median(times):.2f} ms, max {max(times):.2f} ms")
