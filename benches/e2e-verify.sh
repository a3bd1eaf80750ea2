#!/usr/bin/env bash
# End to end: verified requests per second of the emulator, with and without JWT verification.
#
#   benches/e2e-verify.sh [SECONDS_PER_RUN] [USERS]          (defaults: 5 s, 50 users)
#
# For emulator `--workers 1` and `--workers 2`, runs `jwtprobe load` (closed model, USERS
# keep-alive connections) twice: with a bearer RS256 token on every request (`/jwt/hub/`, the
# token verified each time: bearer mode sends no session cookie) and against the
# unauthenticated `/health`. Prints req/s, latency percentiles, the emulator's CPU time per
# request (from /proc) and the difference: what verification costs per request. The
# emulator's 5-sessions-per-user limit is turned off in a temporary copy of its config, since
# every bearer request opens a session. Generator and emulator share the machine: print
# `nproc` with the numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
USERS=${2:-50}
ROOT=$(pwd)
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

cargo build --release --quiet
BIN=$ROOT/target/release/jwtprobe

sed -e 's/max_sessions_per_user: 5/max_sessions_per_user: 0/' \
    -e "s#\.\./keys/#$ROOT/fixtures/keys/#" \
    fixtures/mock/qseow.yaml > "$WORK/mock.yaml"

mkdir -p "$WORK/bearer" "$WORK/health"
cat > "$WORK/bearer/suite.yaml" <<YAML
name: verify
profile: qseow
prefix: jwt
identity: { user: alice, directory: CORP }
keys:
  signing: { file: $ROOT/fixtures/keys/qlik-signing.key.pem }
defaults:
  token: { key: signing, alg: RS256, claims: { exp: +1h } }
YAML
cat > "$WORK/bearer/hub.yaml" <<'YAML'
name: bearer
steps:
  - name: hub
    request: { path: /hub/ }
    expect: { status: accept }
YAML
cat > "$WORK/health/suite.yaml" <<'YAML'
name: health
profile: generic
YAML
cat > "$WORK/health/health.yaml" <<'YAML'
name: health
steps:
  - name: health
    token: { placement: none }
    request: { raw_path: /health }
    expect: { status: 200 }
YAML

# CPU seconds of a process so far (user + system), from /proc/PID/stat.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"; }

printf '%-8s %-7s %10s %9s %9s %9s %13s\n' workers path "req/s" p50 p99 p99.9 "mock µs CPU/req"
declare -A CPU
for workers in 1 2; do
  "$BIN" mock --mock-config "$WORK/mock.yaml" --listen 127.0.0.1:0 --workers "$workers" > "$WORK/mock.out" 2>/dev/null &
  MOCK=$!
  for _ in $(seq 50); do grep -q listening "$WORK/mock.out" 2>/dev/null && break; sleep 0.1; done
  URL=$(sed -n 's/^listening on //p' "$WORK/mock.out" | head -1)
  for kind in bearer health; do
    before=$(cpu_of "$MOCK")
    "$BIN" load "$WORK/$kind" --target "$URL" --users "$USERS" --duration "${SECS}s" --warmup 1s \
      --connections per-user --session bearer --json "$WORK/$kind.json" 2>/dev/null || true
    after=$(cpu_of "$MOCK")
    read -r rps p50 p99 p999 n errors < <(python3 -c "
import json; o = json.load(open('$WORK/$kind.json'))['overall']; l = o['latency_us']
print(o['rps'], l['p50'], l['p99'], l['p99_9'], o['requests'], o['errors'])")
    # The warm-up's requests also cost CPU: count them at the measured rate.
    total=$(python3 -c "print($n * ($SECS + 1) / $SECS)")
    us=$(python3 -c "print(f'{($after - $before) / max($total, 1) * 1e6:.1f}')")
    CPU[$workers$kind]=$us
    printf '%-8s %-7s %10.0f %8.2fms %8.2fms %8.2fms %13s%s\n' "$workers" "$kind" "$rps" \
      "$(python3 -c "print($p50/1000)")" "$(python3 -c "print($p99/1000)")" "$(python3 -c "print($p999/1000)")" \
      "$us" "$([ "$errors" != 0 ] && echo "  ($errors errors)" || true)"
  done
  kill "$MOCK"; wait "$MOCK" 2>/dev/null || true
done
echo
for workers in 1 2; do
  python3 -c "print(f'workers $workers: verification costs {${CPU[${workers}bearer]} - ${CPU[${workers}health]}:.1f} µs of emulator CPU per request (bearer minus /health)')"
done
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); generator and emulator share it"
