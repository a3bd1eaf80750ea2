#!/usr/bin/env bash
# The first request of a new HTTPS connection to the emulator: time from the end of the TLS
# handshake to the first response byte, over N fresh connections (curl, HTTP/2 as reqwest
# negotiates it, and HTTP/1.1). Before the emulator set TCP_NODELAY on accepted sockets,
# about one in ten took ~40 ms (Nagle's algorithm meeting the client's delayed ACK).
#
#   benches/https-first-request.sh [N]        (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
cargo build --release --quiet
OUT=$(mktemp)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -f "$OUT"' EXIT
target/release/jwtprobe mock --tls --listen 127.0.0.1:0 > "$OUT" 2>/dev/null &
for _ in $(seq 50); do grep -q listening "$OUT" 2>/dev/null && break; sleep 0.1; done
URL=$(sed -n 's/^listening on //p' "$OUT" | head -1)
for proto in --http2 --http1.1; do
  for _ in $(seq "$N"); do
    curl -sk "$proto" -o /dev/null -w '%{time_appconnect} %{time_starttransfer}\n' "$URL/health"
  done | awk '{printf "%.3f\n", ($2-$1)*1000}' | sort -n | awk -v p="$proto" '{a[NR]=$1; if ($1>20) n++} END {printf "%s: %d connections, first response after the handshake: p50 %.2f ms, p99 %.2f ms, max %.2f ms, over 20 ms: %d\n", p, NR, a[int(NR*0.5)], a[int(NR*0.99)], a[NR], n}'
done
