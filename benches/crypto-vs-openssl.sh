#!/usr/bin/env bash
# Compare jwtprobe's RS256 (RSA 2048) verify and mint throughput with `openssl speed rsa2048`.
#
# Both run single-threaded on one core. jwtprobe's numbers come from the criterion bench
# `crypto`: `verify/RS256/2048` goes through token::verify, the emulator's path (split, base64,
# header and payload validated as JSON, alg allow-list, signature, exp/nbf, identity claims;
# the full header/claims maps are built only when a caller asks for them, which
# `verify-claims/RS256/2048` adds); `mint/RS256/2048` goes through token::Minter (JSON,
# base64, signature). So they include the JWT work around the raw RSA operation that openssl
# measures; the aws-lc-rs raw lines are the floor without it.
#
# A shared machine's load changes from second to second, so the comparison runs in rounds:
# each round measures openssl, then the bench, then openssl again (the two openssl runs are
# averaged). Every round is printed; the verdict compares the best of the rounds on each side.
#
# Usage: benches/crypto-vs-openssl.sh [seconds] [rounds]   (defaults: 3 per measurement, 3 rounds)
# Targets: verify >= 1.0x openssl verify/s, mint >= 0.95x openssl sign/s.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER=${1:-3}
ROUNDS=${2:-3}

# Pin both to one CPU when taskset is available, so neither borrows a second core.
PIN=()
if command -v taskset >/dev/null 2>&1; then PIN=(taskset -c 0); fi

openssl_speed() {
  "${PIN[@]}" openssl speed -seconds "$SECONDS_PER" rsa2048 2>/dev/null |
    awk '/^rsa 2048 bits/ { print $6, $7 }'
}

# Build once and run the executable itself, so that a rebuild (other edits in the tree) cannot
# land between rounds.
echo "== cargo bench --bench crypto --no-run" >&2
BUILD_LOG=$(cargo bench --bench crypto --no-run 2>&1) || { echo "$BUILD_LOG" >&2; exit 1; }
EXE=$(sed -n 's/.*Executable benches\/crypto.rs (\(.*\))$/\1/p' <<<"$BUILD_LOG" | tail -1)
if [[ -z "$EXE" || ! -x "$EXE" ]]; then
  echo "$BUILD_LOG" >&2
  echo "error: failed to find the built \`crypto\` bench executable" >&2
  exit 1
fi
IDS='^(verify|verify-claims|mint|raw-sign|raw-verify)/RS256/2048$'
echo "== openssl: $(openssl version); bench: $EXE -- '$IDS'" >&2

# Criterion prints "<id>  time: [low mid high]" (sometimes with the id on its own line);
# take the middle estimate and turn it into operations per second.
per_second() {
  awk -v id="$1" '
    $1 == id { found = 1 }
    found && /time:/ {
      sub(/.*time: *\[/, ""); v = $3; u = $4
      f = (u == "ns") ? 1e9 : (u == "µs" || u == "us") ? 1e6 : (u == "ms") ? 1e3 : 1
      printf "%.1f\n", f / v; exit
    }' <<<"$2"
}
avg() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (a + b) / 2 }'; }
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 > b + 0) ? a : b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

NAMES=(ossl_sign ossl_verify verify verify_claims mint raw_verify raw_sign)
declare -A BEST
for n in "${NAMES[@]}"; do BEST[$n]=0; done

printf '\n%-6s %11s %11s %11s %11s %11s %11s %11s %8s %8s\n' round "ossl sign" "ossl verify" \
  verify "+claims()" mint "raw verify" "raw sign" "v/ossl" "m/ossl"
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round/$ROUNDS" >&2
  read -r SIGN_1 VERIFY_1 < <(openssl_speed)
  OUT=$("${PIN[@]}" "$EXE" --bench --warm-up-time 1 --measurement-time "$SECONDS_PER" \
    --noplot "$IDS" 2>/dev/null)
  read -r SIGN_2 VERIFY_2 < <(openssl_speed)
  declare -A R=(
    [ossl_sign]=$(avg "$SIGN_1" "$SIGN_2")
    [ossl_verify]=$(avg "$VERIFY_1" "$VERIFY_2")
    [verify]=$(per_second verify/RS256/2048 "$OUT")
    [verify_claims]=$(per_second verify-claims/RS256/2048 "$OUT")
    [mint]=$(per_second mint/RS256/2048 "$OUT")
    [raw_verify]=$(per_second raw-verify/RS256/2048 "$OUT")
    [raw_sign]=$(per_second raw-sign/RS256/2048 "$OUT")
  )
  for n in "${NAMES[@]}"; do BEST[$n]=$(max "${BEST[$n]}" "${R[$n]}"); done
  printf '%-6s %11s %11s %11s %11s %11s %11s %11s %7sx %7sx\n' "$round" "${R[ossl_sign]}" \
    "${R[ossl_verify]}" "${R[verify]}" "${R[verify_claims]}" "${R[mint]}" "${R[raw_verify]}" \
    "${R[raw_sign]}" "$(ratio "${R[verify]}" "${R[ossl_verify]}")" \
    "$(ratio "${R[mint]}" "${R[ossl_sign]}")"
done

printf '\n%-40s %12s\n' "RSA 2048 / RS256, one core, best of $ROUNDS" "ops/s"
printf '%-40s %12s\n' "openssl speed sign" "${BEST[ossl_sign]}"
printf '%-40s %12s\n' "openssl speed verify" "${BEST[ossl_verify]}"
printf '%-40s %12s   %sx openssl verify (target >= 1.00)\n' "jwtprobe token::verify RS256" \
  "${BEST[verify]}" "$(ratio "${BEST[verify]}" "${BEST[ossl_verify]}")"
printf '%-40s %12s   %sx openssl verify\n' "jwtprobe token::verify + claims()" \
  "${BEST[verify_claims]}" "$(ratio "${BEST[verify_claims]}" "${BEST[ossl_verify]}")"
printf '%-40s %12s   %sx openssl sign   (target >= 0.95)\n' "jwtprobe Minter::mint RS256" \
  "${BEST[mint]}" "$(ratio "${BEST[mint]}" "${BEST[ossl_sign]}")"
printf '%-40s %12s   %sx openssl verify\n' "aws-lc-rs raw verify (floor)" "${BEST[raw_verify]}" \
  "$(ratio "${BEST[raw_verify]}" "${BEST[ossl_verify]}")"
printf '%-40s %12s   %sx openssl sign\n' "aws-lc-rs raw sign (floor)" "${BEST[raw_sign]}" \
  "$(ratio "${BEST[raw_sign]}" "${BEST[ossl_sign]}")"
printf '%-40s %12s   %sx raw verify (1.00 = no JWT overhead)\n' "token::verify / raw verify" "" \
  "$(ratio "${BEST[verify]}" "${BEST[raw_verify]}")"
