#!/usr/bin/env python3
"""Attempts N idle and slowloris connections to a running emulator and times `GET /health`.

Usage: python3 benches/emulator-abuse.py HOST:PORT [N] [--attackers K] [--hold S]
                                          [--every-ms MS] [--prober-cpu C] [--attacker-cpu C]
                                          [--perf-cpu C]

Start the emulator first, e.g. `taskset -c 0 jwtprobe mock --listen 127.0.0.1:18090`.
K attacker processes (default: enough that each needs at most 9,000 file descriptors) together
attempt N connections as fast as they can; half send nothing, half send a partial request head
(slowloris). They then hold what they opened for S seconds (default 5; the emulator's
header-read timeout is 10 s). Meanwhile a separate prober process opens a new connection every
MS milliseconds (default 10), sends `GET /health` and times it until the answer's first bytes,
so that the figures are not the attackers' own Python time. Prints the attempts (opened,
failed, answered or closed by the server) and the probe latencies (count, min, median, p99,
p99.9, max, and how many took over 10 ms) while the connections are being opened and while
they are held.

`--prober-cpu` / `--attacker-cpu` pin those processes (os.sched_setaffinity), so that the
emulator can have a core of its own. `--perf-cpu C` (the emulator's core; needs `perf` and the
right to use it) samples that core's clock 5,000 times a second meanwhile (`perf record -e
cpu-clock -C C`) and says, for each probe over 10 ms, how long the core ran nothing at all
(no sample for 2 ms or more: the virtual CPU was stopped or could take no interrupt), which no
program on it can answer through. On a machine shared with other jobs, run the emulator and
this script under `chrt -f 50`: the prober keeps that priority, the attackers drop back to the
normal scheduler. Each process needs its connections + 100 descriptors
(`ulimit -n`); the attackers draw on the local port range
(/proc/sys/net/ipv4/ip_local_port_range, 28,232 ports by default).
"""
import argparse
import multiprocessing as mp
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("addr")
    p.add_argument("n", nargs="?", type=int, default=2000)
    p.add_argument("--attackers", type=int, default=0)
    p.add_argument("--hold", type=float, default=5.0)
    p.add_argument("--every-ms", type=float, default=10.0)
    p.add_argument("--prober-cpu", type=int)
    p.add_argument("--attacker-cpu", type=int)
    p.add_argument("--perf-cpu", type=int)
    return p.parse_args()


def pin(cpu):
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def attacker(host, port, count, hold, cpu, opened_evt, stop_evt, results):
    pin(cpu)
    # Under `chrt` (to keep other jobs on a shared machine from skewing the probe), the attack
    # itself stays an ordinary process.
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    held, failed = [], 0
    for i in range(count):
        try:
            s = socket.create_connection((host, port), timeout=5)
            if i % 2:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            held.append(s)
        except OSError:
            failed += 1
    opened_evt.set()
    stop_evt.wait(hold + 60)
    # How many of the held connections the server refused or closed (503, 408 or EOF).
    closed = 0
    for s in held:
        s.setblocking(False)
        try:
            s.recv(64)
            closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    results.put((len(held), failed, closed))
    for s in held:
        s.close()


def prober(host, port, every, cpu, stop_evt, results):
    pin(cpu)
    samples = []  # (monotonic start, ms, connect ms, status line)
    while not stop_evt.is_set():
        started = time.monotonic()
        t = time.perf_counter()
        line = "error"
        connected = None
        try:
            s = socket.create_connection((host, port), timeout=5)
            connected = time.perf_counter() - t
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = s.recv(256)
            s.close()
            line = data.split(b"\r\n", 1)[0].decode(errors="replace")
        except OSError as e:
            line = f"error: {e.__class__.__name__}"
        dt = time.perf_counter() - t
        samples.append((started, dt * 1000,
                        None if connected is None else connected * 1000, line))
        time.sleep(max(0.0, every - dt))
    results.put(samples)


def stats(ms):
    if not ms:
        return "no samples"
    ms = sorted(ms)

    def q(p):
        return ms[min(len(ms) - 1, int(len(ms) * p))]

    over = sum(1 for x in ms if x > 10.0)
    return (f"x{len(ms)}: min {ms[0]:.2f} ms, median {statistics.median(ms):.2f} ms, "
            f"p99 {q(0.99):.2f} ms, p99.9 {q(0.999):.2f} ms, max {ms[-1]:.2f} ms, "
            f"{over} over 10 ms")


def start_perf(cpu):
    """Starts sampling `cpu`'s clock; returns (process, data file)."""
    fd, path = tempfile.mkstemp(suffix=".perf.data")
    os.close(fd)
    try:
        proc = subprocess.Popen(
            ["perf", "record", "-q", "-e", "cpu-clock", "-F", "5000", "-C", str(cpu),
             "-k", "CLOCK_MONOTONIC", "-o", path],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    except FileNotFoundError:
        os.unlink(path)
        raise SystemExit("--perf-cpu needs `perf` on the PATH")
    time.sleep(0.3)  # perf is sampling before the baseline starts
    if proc.poll() is not None:
        os.unlink(path)
        why = proc.stderr.read().strip() or "is it a CPU of this machine, and may perf run here?"
        raise SystemExit(f"perf record could not sample CPU {cpu}: {why}")
    return proc, path


def stops_of(proc, path, at_least_ms=2.0):
    """Stops sampling; returns the (start, end) CLOCK_MONOTONIC seconds with no sample."""
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    out = subprocess.run(["perf", "script", "-i", path, "-F", "time"],
                         capture_output=True, text=True, check=False).stdout
    os.unlink(path)
    times = [float(line.strip().rstrip(":")) for line in out.splitlines() if line.strip()]
    return [(a, b) for a, b in zip(times, times[1:]) if (b - a) * 1000 >= at_least_ms]


def stopped_ms(start, ms, stops):
    """How many of the `ms` milliseconds from `start` fall in `stops`."""
    end = start + ms / 1000
    return sum(max(0.0, min(end, b) - max(start, a)) for a, b in stops) * 1000


def main():
    a = parse_args()
    host, port = a.addr.rsplit(":", 1)
    port = int(port)
    k = a.attackers or max(1, -(-a.n // 9000))
    # This process forks the others and then only waits; it stays off the emulator's core too
    # (a forked child starts on its parent's CPUs), and gives up `chrt`'s priority once the
    # prober has it: under `perf sched` an unpinned real-time parent here ran 58 ms on the
    # emulator's core and was counted as the emulator's latency.
    pin(a.attacker_cpu if a.attacker_cpu is not None else a.prober_cpu)
    perf = start_perf(a.perf_cpu) if a.perf_cpu is not None else None
    ctx = mp.get_context("fork")
    stop_probe, stop_attack = ctx.Event(), ctx.Event()
    presults, aresults = ctx.Queue(), ctx.Queue()
    probe = ctx.Process(target=prober,
                        args=(host, port, a.every_ms / 1000, a.prober_cpu, stop_probe, presults))
    probe.start()
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    time.sleep(0.5)  # a baseline before the attack
    t0 = time.monotonic()
    opened = []
    procs = []
    for i in range(k):
        count = a.n // k + (1 if i < a.n % k else 0)
        evt = ctx.Event()
        opened.append(evt)
        pr = ctx.Process(target=attacker, args=(host, port, count, a.hold, a.attacker_cpu, evt,
                                                stop_attack, aresults))
        pr.start()
        procs.append(pr)
    for evt in opened:
        evt.wait()
    t1 = time.monotonic()
    time.sleep(a.hold)
    t2 = time.monotonic()
    stop_probe.set()
    samples = presults.get()
    stop_attack.set()
    totals = [0, 0, 0]
    for _ in procs:
        for j, v in enumerate(aresults.get()):
            totals[j] += v
    for pr in procs + [probe]:
        pr.join()
    stops = stops_of(*perf) if perf else None

    print(f"attempted {a.n} connections from {k} processes in {t1 - t0:.1f}s: {totals[0]} opened, "
          f"{totals[1]} failed, {totals[2]} answered or closed by the server while held")
    before = [ms for t, ms, _, _ in samples if t < t0]
    during = [ms for t, ms, _, _ in samples if t0 <= t < t1]
    held = [ms for t, ms, _, _ in samples if t1 <= t < t2]
    lines = sorted({line for _, _, _, line in samples})
    print(f"/health before:        {stats(before)}")
    print(f"/health while opening: {stats(during)}")
    print(f"/health while held:    {stats(held)}")
    print(f"/health answers: {lines}")
    # Where the slow probes spent their time: in connect (the kernel's handshake, before the
    # emulator sees anything) or after it (accept, read, answer: the emulator's part).
    # CLOCK_MONOTONIC, as `perf record -k CLOCK_MONOTONIC` stamps its samples.
    slow = [(t, ms, c) for t, ms, c, _ in samples if ms > 10.0]
    for t, ms, c in slow[:20]:
        c_text = "no connection" if c is None else f"connect {c:.2f} ms, answer {ms - c:.2f} ms"
        if stops is not None:
            c_text += f"; core {a.perf_cpu} stopped {stopped_ms(t, ms, stops):.1f} ms of it"
        print(f"  slow probe at {t - t0:+.2f}s (monotonic {t:.4f}): {ms:.2f} ms ({c_text})")
    if stops is not None:
        longest = max((b - a for a, b in stops if t0 <= a < t2), default=0.0) * 1000
        beyond = sum(1 for t, ms, _ in slow if ms - stopped_ms(t, ms, stops) > 10.0)
        print(f"core {a.perf_cpu} stopped {sum(1 for x, _ in stops if t0 <= x < t2)} times "
              f"(2 ms or more, longest {longest:.1f} ms) during the attack; "
              f"{beyond} of {len(slow)} probes over 10 ms took over 10 ms outside those stops")


if __name__ == "__main__":
    main()
