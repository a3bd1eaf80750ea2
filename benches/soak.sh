#!/usr/bin/env bash
# Soak: the emulator in bearer mode (an RS256 token verified and a new proxy session opened on
# every request) for N requests, far past its session table's capacity (200,000 per virtual
# proxy), to show that throughput stays flat and memory stays bounded once the table is full.
#
#   benches/soak.sh [REQUESTS] [USERS]                    (defaults: 1000000, 32)
#
# Environment: TARGET_CORES / GEN_CORES (taskset lists; default: all cores for both), BIN.
# Prints the emulator's RSS and the generator's rate once per interval, then the first and
# last tenth of the intervals compared (rate ratio, and RSS at the end vs at capacity).
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${1:-1000000}
USERS=${2:-32}
ALL="0-$(($(nproc) - 1))"
TARGET_CORES=${TARGET_CORES:-$ALL}
GEN_CORES=${GEN_CORES:-$ALL}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=target/release/jwtprobe
fi
ROOT=$(pwd)
sed -e "s#\.\./keys/#$ROOT/fixtures/keys/#" fixtures/mock/qseow-load.yaml > "$WORK/load.yaml"
taskset -c "$TARGET_CORES" "$BIN" mock --config "$WORK/load.yaml" --listen 127.0.0.1:0 > "$WORK/mock.out" 2>/dev/null &
MOCK_PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/mock.out" 2>/dev/null && break; sleep 0.1; done
BASE=$(sed -n 's/^listening on //p' "$WORK/mock.out" | head -1)

mkdir -p "$WORK/sc"
cat > "$WORK/sc/suite.yaml" <<YAML
name: soak
profile: qseow
prefix: jwt
identity: { user: soak, directory: CORP }
keys:
  signing: { file: $ROOT/fixtures/keys/qlik-signing.key.pem }
defaults:
  token: { key: signing, alg: RS256, claims: { exp: +2h } }
YAML
cat > "$WORK/sc/user.yaml" <<'YAML'
name: bearer
steps:
  - name: qps-user
    request: { path: /qps/user }
    expect: { status: 200 }
YAML

# RSS of the emulator, once a second, beside the generator's progress lines.
( while kill -0 "$MOCK_PID" 2>/dev/null; do
    echo "rss_kb $(awk '/VmRSS/ {print $2}' "/proc/$MOCK_PID/status")"; sleep 1
  done ) > "$WORK/rss.log" &
taskset -c "$GEN_CORES" "$BIN" load "$WORK/sc" --target "$BASE" --users "$USERS" \
  --requests "$REQUESTS" --session bearer --connections per-user --json "$WORK/soak.json" \
  2> "$WORK/load.err" || true
kill "$MOCK_PID"
{ grep -E "^\[" "$WORK/load.err" || true; } | sed -n 's/.*requests, \([0-9.]*\)\/s.*/\1/p' > "$WORK/rates"
python3 - "$WORK/rates" "$WORK/rss.log" "$WORK/soak.json" <<'PY'
import json, sys
rates = [float(x) for x in open(sys.argv[1]) if x.strip()]
rss = [int(l.split()[1]) for l in open(sys.argv[2]) if l.split()[1:]]
summary = json.load(open(sys.argv[3]))
o = summary["overall"]
print(f"requests {o['requests']:,} in {summary['elapsed_s']:.0f} s, errors {o['errors']}, mean {o['rps']:,.0f}/s")
# The first interval holds the warm-up of connections: compare whole intervals after it.
whole = rates[1:-1] if len(rates) > 3 else rates
tenth = max(1, len(whole) // 10)
first, last = whole[:tenth], whole[-tenth:]
mean = lambda xs: sum(xs) / len(xs)
print(f"intervals {len(whole)}: first tenth {mean(first):,.0f}/s, last tenth {mean(last):,.0f}/s, last/first ×{mean(last)/mean(first):.3f}")
if rss:
    print(f"emulator RSS: max {max(rss)/1024:.0f} MiB, at the end {rss[-1]/1024:.0f} MiB, after a tenth of the run {rss[len(rss)//10]/1024:.0f} MiB")
PY
