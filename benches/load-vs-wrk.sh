#!/usr/bin/env bash
# Throughput and generator CPU per request: wrk, oha and `jwtprobe load` against one local
# target, in alternation, at 50 connections (closed model, keep-alive).
#
#   benches/load-vs-wrk.sh [SECONDS_PER_RUN] [ROUNDS]        (defaults: 5 s, 3 rounds)
#
# Installs wrk from the system packages when missing (apt-get). oha is used when on PATH;
# `JWTPROBE_INSTALL_OHA=1` runs `cargo install oha` first (several minutes of compiling, so it
# is off by default). The target is nginx when installed (a static 200), else the emulator's
# unauthenticated `/health` (`jwtprobe mock`). Prints the median req/s and generator CPU µs per
# request of each tool (and its user-space part; the rest is the kernel's TCP work), and
# jwtprobe's ratios to the others. jwtprobe uses one shared pool (`--connections shared`, up to
# 50 connections like the others) and its lean HTTP/1.1 client (plain http targets). Results
# depend on the machine: `nproc` and the load average are printed next to them.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
ROUNDS=${2:-3}
CONNS=50
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

if ! command -v wrk >/dev/null; then
  echo "installing wrk (apt-get)…" >&2
  (apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y wrk >/dev/null 2>&1; }) \
    || echo "wrk is not installable here; skipping it" >&2
fi
if ! command -v oha >/dev/null; then
  if [ "${JWTPROBE_INSTALL_OHA:-0}" = 1 ]; then
    cargo install oha --locked >&2 || echo "cargo install oha failed; skipping oha" >&2
  else
    echo "oha not found; skipping it (set JWTPROBE_INSTALL_OHA=1 to cargo install it)" >&2
  fi
fi

cargo build --release --quiet
BIN=target/release/jwtprobe

if command -v nginx >/dev/null; then
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$WORK/nginx/logs"
  cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes 1; daemon off; error_log $WORK/nginx/logs/error.log; pid $WORK/nginx/nginx.pid;
events { worker_connections 1024; }
http { access_log off; server { listen 127.0.0.1:$PORT; location / { return 200 "ok"; } } }
CONF
  nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" &
  TARGET_PID=$!
  BASE="http://127.0.0.1:$PORT"
  PATH_=/
  TARGET_NAME="nginx (1 worker)"
  sleep 0.5
else
  "$BIN" mock --listen 127.0.0.1:0 > "$WORK/mock.out" 2>/dev/null &
  TARGET_PID=$!
  for _ in $(seq 50); do grep -q listening "$WORK/mock.out" 2>/dev/null && break; sleep 0.1; done
  BASE=$(sed -n 's/^listening on //p' "$WORK/mock.out" | head -1)
  PATH_=/health
  TARGET_NAME="jwtprobe mock /health"
fi
URL="$BASE$PATH_"

# A scenario that sends GET $PATH_ without a token.
mkdir -p "$WORK/sc"
cat > "$WORK/sc/suite.yaml" <<YAML
name: bench
profile: generic
YAML
cat > "$WORK/sc/plain.yaml" <<YAML
name: plain
steps:
  - name: get
    token: { placement: none }
    request: { raw_path: "$PATH_" }
    expect: { status: 200 }
YAML

# run NAME CMD… : runs the command, prints "req/s cpu_seconds" (children's user+system CPU).
cpu_run() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys
out = subprocess.run(sys.argv[1:], capture_output=True, text=True)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stdout.write(out.stdout)
sys.stderr.write(out.stderr)
print(f"CPU {ru.ru_utime + ru.ru_stime:.3f} {ru.ru_utime:.3f}")
PY
}

declare -A RPS CPU USR
tools=()
command -v wrk >/dev/null && tools+=(wrk)
command -v oha >/dev/null && tools+=(oha)
tools+=(jwtprobe)

for round in $(seq "$ROUNDS"); do
  for tool in "${tools[@]}"; do
    case $tool in
      wrk) out=$(cpu_run wrk -t2 -c$CONNS -d${SECS}s "$URL" 2>&1)
           rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
           n=$(echo "$out" | awk '/requests in/ {print $1}') ;;
      oha) out=$(cpu_run oha -z ${SECS}s -c $CONNS --no-tui "$URL" 2>&1)
           rps=$(echo "$out" | awk '/Requests\/sec/ {print $2; exit}')
           n=$(python3 -c "print(round($rps*$SECS))") ;;
      jwtprobe) out=$(cpu_run "$BIN" load "$WORK/sc" --target "$BASE" --users $CONNS \
                        --duration ${SECS}s --connections shared --json "$WORK/j.json" 2>&1)
           rps=$(python3 -c "import json;print(json.load(open('$WORK/j.json'))['overall']['rps'])")
           n=$(python3 -c "import json;print(json.load(open('$WORK/j.json'))['overall']['requests'])") ;;
    esac
    cpu=$(echo "$out" | awk '/^CPU / {print $2}')
    usr=$(echo "$out" | awk '/^CPU / {print $3}')
    us=$(python3 -c "print(f'{$cpu/max($n,1)*1e6:.2f}')")
    uus=$(python3 -c "print(f'{$usr/max($n,1)*1e6:.2f}')")
    printf 'round %d %-9s %10.0f req/s  %6s µs CPU/req (%s user)  load %s\n' "$round" "$tool" "$rps" "$us" "$uus" "$(cut -d' ' -f1 /proc/loadavg)"
    RPS[$tool]+="$rps "; CPU[$tool]+="$us "; USR[$tool]+="$uus "
  done
done

median() { python3 -c "import statistics,sys; print(statistics.median(map(float, sys.argv[1:])))" $1; }
echo
echo "target: $TARGET_NAME at $URL; $CONNS connections; ${SECS}s × $ROUNDS rounds; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %12s %14s %14s\n' tool "req/s (med)" "µs CPU/req" "of it user"
for tool in "${tools[@]}"; do
  printf '%-9s %12.0f %14.2f %14.2f\n' "$tool" "$(median "${RPS[$tool]}")" "$(median "${CPU[$tool]}")" "$(median "${USR[$tool]}")"
done
for other in wrk oha; do
  if [ -n "${RPS[$other]:-}" ]; then
    python3 -c "print(f'jwtprobe/$other: throughput ×{$(median "${RPS[jwtprobe]}")/$(median "${RPS[$other]}"):.2f}, CPU per request ×{$(median "${CPU[jwtprobe]}")/$(median "${CPU[$other]}"):.2f}')"
  fi
done
