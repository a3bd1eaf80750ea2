#!/usr/bin/env python3
"""Holds N idle and slowloris connections to a running emulator and times `GET /health`.

Usage: python3 benches/emulator-abuse.py HOST:PORT [N] [ROUNDS]
Start the emulator first: `jwtprobe mock --listen 127.0.0.1:18090`. Half of the N connections
send nothing, half send a partial request head (slowloris). Prints how many were accepted,
refused (503 or reset) and the /health latencies (min, median, p99, max): ROUNDS probes
spread over the opening of the N connections, then ROUNDS more while they are held.
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


def health():
    t = time.perf_counter()
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = s.recv(256)
    s.close()
    return time.perf_counter() - t, data.split(b"\r\n", 1)[0].decode(errors="replace")


held, failed = [], 0
during, lines = [], set()
every = max(1, n // rounds)
started = time.time()
for i in range(n):
    try:
        s = socket.create_connection((host, port), timeout=5)
        if i % 2:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        held.append(s)
    except OSError:
        failed += 1
    if i % every == every - 1:
        dt, line = health()
        during.append(dt * 1000)
        lines.add(line)
opened = time.time() - started

times = []
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


def stats(ms):
    p99 = sorted(ms)[min(len(ms) - 1, int(len(ms) * 0.99))]
    return (f"min {min(ms):.2f} ms, median {statistics.median(ms):.2f} ms, p99 {p99:.2f} ms, "
            f"max {max(ms):.2f} ms")


print(f"/health x{len(during)} while opening: {stats(during)}")
print(f"/health x{rounds} while held: {sorted(lines)} {stats(times)}")
