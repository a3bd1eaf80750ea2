#!/usr/bin/env bash
# Scaling benchmark: the machine's cores split between a target and a generator (taskset),
# with wrk, oha and `jwtprobe load` side by side in alternating rounds, and the emulator in
# bearer mode against `jwtprobe bench verify` on the same cores.
#
#   benches/scale.sh [SECONDS_PER_RUN] [ROUNDS]                  (defaults: 5 s, 3 rounds)
#
# Environment (defaults fit a 2-core machine; on 16 cores try TARGET_CORES=0-9 GEN_CORES=10-15):
#   TARGET_CORES  cores of the target (taskset list)              default: 0
#   GEN_CORES     cores of the generators                          default: 1 (or 0 on 1 core)
#   CONNS         connections of the closed model                  default: 50
#   RATES         fixed rates to try, req/s, space-separated       default: "10000 25000 50000"
#   SECTIONS      which parts to run                               default: "plain https rate bearer"
#   BIN           the jwtprobe binary                              default: target/release/jwtprobe
#
# Sections:
#   plain   closed model, keep-alive, the emulator's unauthenticated /health over http
#   https   the same over HTTPS (`jwtprobe mock --tls`, HTTP/1.1 keep-alive for every tool)
#   rate    fixed arrival rate: `jwtprobe load --rate R` against /health; whether the schedule
#           was kept, the p99 send lateness (intended → actual send) and the rate achieved;
#           oha `-q R` beside it for the achieved rate
#   bearer  the emulator (`--workers` = the target's cores, `fixtures/mock/qseow-load.yaml`)
#           verifying an RS256 token and opening a session on every request (wrk with a fixed
#           bearer header), against `jwtprobe bench verify --threads` on the same cores
#
# jwtprobe runs with one connection per virtual user (`--connections per-user`, the default),
# like wrk's and oha's connections. Prints per round req/s and generator CPU µs per request (user+system of the tool, from
# getrusage), then medians and ratios. Nothing leaves 127.0.0.1. wrk comes from apt when
# missing; oha is used when on PATH (`cargo install oha`). The device machine (no Rust) can run
# this with a carried `BIN=` and carried wrk/oha binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
ROUNDS=${2:-3}
CONNS=${CONNS:-50}
RATES=${RATES:-"10000 25000 50000"}
SECTIONS=${SECTIONS:-"plain https rate bearer"}
NPROC=$(nproc)
TARGET_CORES=${TARGET_CORES:-0}
if [ -z "${GEN_CORES:-}" ]; then
  if [ "$NPROC" -gt 1 ]; then GEN_CORES=1; else GEN_CORES=0; fi
fi
count_cores() { python3 -c "
import sys
n=0
for part in sys.argv[1].split(','):
    a,_,b=part.partition('-'); n+=int(b or a)-int(a)+1
print(n)" "$1"; }
TN=$(count_cores "$TARGET_CORES")
GN=$(count_cores "$GEN_CORES")
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=target/release/jwtprobe
fi
if ! command -v wrk >/dev/null; then
  (apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y wrk >/dev/null 2>&1; }) \
    || echo "wrk is not installable here; skipping it" >&2
fi
tools=()
command -v wrk >/dev/null && tools+=(wrk)
command -v oha >/dev/null && tools+=(oha)
tools+=(jwtprobe)

# start_mock OUT ARGS… : starts the emulator on the target cores; sets BASE and MOCK_PID.
start_mock() {
  local out=$1; shift
  taskset -c "$TARGET_CORES" "$BIN" mock --listen 127.0.0.1:0 --workers "$TN" "$@" > "$out" 2>/dev/null &
  MOCK_PID=$!
  for _ in $(seq 100); do grep -q listening "$out" 2>/dev/null && break; sleep 0.1; done
  BASE=$(sed -n 's/^listening on //p' "$out" | head -1)
}

# cpu_run CMD… : runs the command on the generator cores; prints its output and
# "CPU <user+sys seconds>".
cpu_run() {
  python3 - "$GEN_CORES" "$@" <<'PY'
import resource, subprocess, sys
out = subprocess.run(["taskset", "-c", sys.argv[1]] + sys.argv[2:], capture_output=True, text=True)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stdout.write(out.stdout)
sys.stderr.write(out.stderr)
print(f"CPU {ru.ru_utime + ru.ru_stime:.3f}")
PY
}

# A scenario sending GET /health without a token.
mkdir -p "$WORK/sc"
printf 'name: bench\nprofile: generic\n' > "$WORK/sc/suite.yaml"
cat > "$WORK/sc/health.yaml" <<'YAML'
name: health
steps:
  - name: get
    token: { placement: none }
    request: { raw_path: /health }
    expect: { status: 200 }
YAML

median() { python3 -c "import statistics,sys; print(statistics.median(map(float, sys.argv[1:])))" $1; }
jq_() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {'d': d}))" "$@"; }

echo "machine: $NPROC cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)); target cores $TARGET_CORES ($TN), generator cores $GEN_CORES ($GN); load $(cut -d' ' -f1-3 /proc/loadavg)"

closed_section() {
  local name=$1 base=$2
  local url="$base/health"
  declare -A RPS CPU
  for round in $(seq "$ROUNDS"); do
    for tool in "${tools[@]}"; do
      case $tool in
        wrk) out=$(cpu_run wrk -t"$GN" -c"$CONNS" -d"${SECS}"s "$url" 2>&1)
             rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
             n=$(echo "$out" | awk '/requests in/ {print $1}') ;;
        oha) out=$(cpu_run oha -z "${SECS}"s -c "$CONNS" --no-tui --insecure --http-version 1.1 "$url" 2>&1)
             rps=$(echo "$out" | awk '/Requests\/sec/ {print $2; exit}')
             n=$(python3 -c "print(round($rps*$SECS))") ;;
        jwtprobe) out=$(cpu_run "$BIN" load "$WORK/sc" --target "$base" --insecure --users "$CONNS" \
                          --duration "${SECS}"s --connections per-user --json "$WORK/j.json" 2>&1)
             rps=$(jq_ "$WORK/j.json" "d['overall']['rps']")
             n=$(jq_ "$WORK/j.json" "d['overall']['requests']") ;;
      esac
      cpu=$(echo "$out" | awk '/^CPU / {print $2}')
      us=$(python3 -c "print(f'{$cpu/max($n,1)*1e6:.2f}')")
      printf '%-6s round %d %-9s %10.0f req/s  %6s µs CPU/req\n' "$name" "$round" "$tool" "$rps" "$us"
      RPS[$tool]+="$rps "; CPU[$tool]+="$us "
    done
  done
  printf '%-6s %-9s %12s %12s %14s\n' "$name" tool "req/s (med)" "per gen core" "µs CPU/req"
  for tool in "${tools[@]}"; do
    local r; r=$(median "${RPS[$tool]}")
    printf '%-6s %-9s %12.0f %12.0f %14.2f\n' "$name" "$tool" "$r" "$(python3 -c "print($r/$GN)")" "$(median "${CPU[$tool]}")"
  done
  for other in wrk oha; do
    if [ -n "${RPS[$other]:-}" ]; then
      python3 -c "print(f'$name: jwtprobe/$other throughput ×{$(median "${RPS[jwtprobe]}")/$(median "${RPS[$other]}"):.2f}, CPU per request ×{$(median "${CPU[jwtprobe]}")/$(median "${CPU[$other]}"):.2f}')"
    fi
  done
}

for section in $SECTIONS; do
  case $section in
    plain)
      start_mock "$WORK/plain.out"; base=$BASE
      closed_section plain "$base"
      kill "$MOCK_PID"; wait "$MOCK_PID" 2>/dev/null || true ;;
    https)
      start_mock "$WORK/tls.out" --tls; base=$BASE
      closed_section https "$base"
      kill "$MOCK_PID"; wait "$MOCK_PID" 2>/dev/null || true ;;
    rate)
      start_mock "$WORK/rate.out"; base=$BASE
      for rate in $RATES; do
        for round in $(seq "$ROUNDS"); do
          out=$(cpu_run "$BIN" load "$WORK/sc" --target "$base" --rate "$rate" --users "$CONNS" \
                  --duration "${SECS}"s --connections per-user --json "$WORK/r.json" 2>&1 || true)
          kept=$(jq_ "$WORK/r.json" "d['schedule_kept']")
          got=$(jq_ "$WORK/r.json" "round(d['overall']['rps'])")
          late=$(jq_ "$WORK/r.json" "d['overall']['lateness_us']['p99']")
          pacer=$(jq_ "$WORK/r.json" "(d['pacer'] or {}).get('lateness_us', {}).get('p99')")
          line="rate   $rate/s round $round: jwtprobe achieved $got/s, schedule kept $kept, p99 send lateness ${late} µs (pacer p99 ${pacer} µs)"
          if command -v oha >/dev/null; then
            o=$(cpu_run oha -z "${SECS}"s -c "$CONNS" -q "$rate" --no-tui "$base/health" 2>&1)
            line+=", oha achieved $(echo "$o" | awk '/Requests\/sec/ {printf "%.0f", $2; exit}')/s"
          fi
          echo "$line"
        done
      done
      kill "$MOCK_PID"; wait "$MOCK_PID" 2>/dev/null || true ;;
    bearer)
      sed -e "s#\.\./keys/#$(pwd)/fixtures/keys/#" fixtures/mock/qseow-load.yaml > "$WORK/load.yaml"
      token=$("$BIN" token mint --key fixtures/keys/qlik-signing.key.pem -c UserId=alice -c UserDirectory=CORP --exp +1h)
      for round in $(seq "$ROUNDS"); do
        start_mock "$WORK/bearer.out" --config "$WORK/load.yaml"; base=$BASE
        t0=$(awk '{print $14+$15}' "/proc/$MOCK_PID/stat")
        out=$(cpu_run wrk -t"$GN" -c"$CONNS" -d"${SECS}"s -H "Authorization: Bearer $token" "$base/jwt/qps/user" 2>&1)
        t1=$(awk '{print $14+$15}' "/proc/$MOCK_PID/stat")
        kill "$MOCK_PID"; wait "$MOCK_PID" 2>/dev/null || true
        rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
        n=$(echo "$out" | awk '/requests in/ {print $1}')
        bad=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
        tick=$(getconf CLK_TCK)
        emu_us=$(python3 -c "print(f'{($t1-$t0)/$tick/max($n,1)*1e6:.1f}')")
        v=$(taskset -c "$TARGET_CORES" "$BIN" bench verify --alg RS256 --threads "$TN" --duration "${SECS}"s 2>&1 \
              | awk '/^RS256/ {gsub(",", "", $6); print $6}' | tail -1)
        python3 -c "
rps=$rps; v=$v; emu=$emu_us
print(f'bearer round $round: emulator {rps:,.0f} verified req/s on $TN cores (non-2xx: ${bad:-0}), {emu} µs emulator CPU/req; bench verify {v:,.0f}/s on $TN threads: ×{rps/v:.2f} of the crypto limit; by CPU time ×{(1e6/v*$TN)/emu:.2f}')"
      done ;;
  esac
done
