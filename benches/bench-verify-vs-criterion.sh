#!/usr/bin/env bash
# Does `jwtprobe bench verify` (single thread) agree with the criterion bench `verify/<alg>`?
#
#   benches/bench-verify-vs-criterion.sh [SECONDS] [ROUNDS] [ALGS]   (defaults: 1 s, 7 rounds,
#                                                                     "RS256 ES256 EdDSA HS256")
#
# Both run the same `token::verify` over the same Qlik-like token on one pinned core
# (taskset when available): `jwtprobe bench verify --threads 1` and the crypto bench's loop mode
# (`crypto-<hash> --loop verify/<id> --seconds S`, criterion's closure outside criterion), both
# counting operations per wall-clock second. A shared machine moves single runs by ±20 %, so each
# round runs the two back to back (order swapped every other round) and the verdict is the
# median of the per-round ratios. Target: within 10 % (0.90–1.10).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-1}
ROUNDS=${2:-7}
ALGS=${3:-"RS256 ES256 EdDSA HS256"}

PIN=()
if command -v taskset >/dev/null 2>&1; then PIN=(taskset -c 0); fi

echo "== cargo build --release; cargo bench --bench crypto --no-run" >&2
cargo build --release --quiet
BUILD_LOG=$(cargo bench --bench crypto --no-run 2>&1) || { echo "$BUILD_LOG" >&2; exit 1; }
EXE=$(sed -n 's/.*Executable benches\/crypto.rs (\(.*\))$/\1/p' <<<"$BUILD_LOG" | tail -1)
[[ -x "$EXE" ]] || { echo "$BUILD_LOG" >&2; echo "error: no crypto bench executable" >&2; exit 1; }
BIN=target/release/jwtprobe

bench_verify() {
  "${PIN[@]}" "$BIN" bench verify --alg "$1" --threads 1 --duration "${SECS}s" 2>&1 |
    awk -v a="$1" '$1 == a && $(NF-3) == 1 { v = $(NF-2); gsub(",", "", v); print v }'
}
criterion_loop() {
  local id=$1
  [[ $id == RS256 ]] && id=RS256/2048
  "${PIN[@]}" "$EXE" --loop "verify/$id" --seconds "$SECS" | awk '{ print $6 }'
}

printf '%-6s %6s %14s %14s %7s\n' alg round "bench verify" "criterion" ratio
declare -A RATIOS
for alg in $ALGS; do
  for round in $(seq 1 "$ROUNDS"); do
    if (( round % 2 )); then b=$(bench_verify "$alg"); c=$(criterion_loop "$alg")
    else c=$(criterion_loop "$alg"); b=$(bench_verify "$alg"); fi
    r=$(awk -v b="$b" -v c="$c" 'BEGIN { printf "%.3f", b / c }')
    printf '%-6s %6d %14.0f %14.0f %7s\n' "$alg" "$round" "$b" "$c" "$r"
    RATIOS[$alg]+="$r "
  done
done
echo
status=0
for alg in $ALGS; do
  med=$(python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.3f}')" ${RATIOS[$alg]})
  ok=$(awk -v m="$med" 'BEGIN { print (m >= 0.90 && m <= 1.10) ? "within 10 %" : "NOT within 10 %" }')
  printf '%-6s median bench verify / criterion = %s  %s\n' "$alg" "$med" "$ok"
  [[ $ok == "within 10 %" ]] || status=1
done
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
