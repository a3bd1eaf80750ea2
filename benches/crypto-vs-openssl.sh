#!/usr/bin/env bash
# Compare jwtprobe's RS256 (RSA 2048) verify and mint throughput with `openssl speed rsa2048`.
#
# Both run single-threaded on one core. jwtprobe's numbers come from the criterion bench
# `crypto` (`verify/RS256/2048` goes through token::verify: split, base64, JSON, signature,
# exp/nbf and identity claims; `mint/RS256/2048` goes through token::Minter: JSON, base64,
# signature), so they include the JWT work around the raw RSA operation that openssl measures.
#
# Usage: benches/crypto-vs-openssl.sh [seconds]   (default 3 per measurement)
# Targets: verify >= 1.0x openssl verify/s, mint >= 0.95x openssl sign/s.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER=${1:-3}

# Pin both to one CPU when taskset is available, so neither borrows a second core.
PIN=()
if command -v taskset >/dev/null 2>&1; then PIN=(taskset -c 0); fi

# openssl runs before and after the bench and the two runs are averaged, so a change in
# machine load during the run affects both sides alike.
openssl_speed() {
  echo "== openssl speed -seconds $SECONDS_PER rsa2048 ($(openssl version))" >&2
  "${PIN[@]}" openssl speed -seconds "$SECONDS_PER" rsa2048 2>/dev/null |
    awk '/^rsa 2048 bits/ { print $6, $7 }'
}
read -r OSSL_SIGN_1 OSSL_VERIFY_1 < <(openssl_speed)

echo "== cargo bench --bench crypto -- '^(verify|mint|raw-sign|raw-verify)/RS256/2048\$'" >&2
cargo bench --bench crypto --no-run >&2
BENCH_OUT=$("${PIN[@]}" cargo bench --bench crypto -- --warm-up-time 1 \
  --measurement-time "$SECONDS_PER" --noplot '^(verify|mint|raw-sign|raw-verify)/RS256/2048$' 2>/dev/null)

# Criterion prints "<id>  time: [low mid high]" (sometimes with the id on its own line);
# take the middle estimate and turn it into operations per second.
per_second() {
  awk -v id="$1" '
    $1 == id { found = 1 }
    found && /time:/ {
      sub(/.*time: *\[/, ""); v = $3; u = $4
      f = (u == "ns") ? 1e9 : (u == "µs" || u == "us") ? 1e6 : (u == "ms") ? 1e3 : 1
      printf "%.1f\n", f / v; exit
    }' <<<"$BENCH_OUT"
}
read -r OSSL_SIGN_2 OSSL_VERIFY_2 < <(openssl_speed)
OSSL_SIGN=$(awk -v a="$OSSL_SIGN_1" -v b="$OSSL_SIGN_2" 'BEGIN { printf "%.1f", (a + b) / 2 }')
OSSL_VERIFY=$(awk -v a="$OSSL_VERIFY_1" -v b="$OSSL_VERIFY_2" 'BEGIN { printf "%.1f", (a + b) / 2 }')
VERIFY=$(per_second verify/RS256/2048)
MINT=$(per_second mint/RS256/2048)
RAW=$(per_second raw-sign/RS256/2048)
RAW_VERIFY=$(per_second raw-verify/RS256/2048)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '\n%-34s %12s\n' "RSA 2048 / RS256, one core" "ops/s"
printf '%-34s %12s\n' "openssl speed sign" "$OSSL_SIGN"
printf '%-34s %12s\n' "openssl speed verify" "$OSSL_VERIFY"
printf '%-34s %12s   %sx openssl verify (target >= 1.00)\n' "jwtprobe token::verify RS256" "$VERIFY" "$(ratio "$VERIFY" "$OSSL_VERIFY")"
printf '%-34s %12s   %sx openssl sign   (target >= 0.95)\n' "jwtprobe Minter::mint RS256" "$MINT" "$(ratio "$MINT" "$OSSL_SIGN")"
printf '%-34s %12s   %sx openssl verify\n' "aws-lc-rs raw verify (floor)" "$RAW_VERIFY" "$(ratio "$RAW_VERIFY" "$OSSL_VERIFY")"
printf '%-34s %12s   %sx openssl sign\n' "aws-lc-rs raw sign (floor)" "$RAW" "$(ratio "$RAW" "$OSSL_SIGN")"
