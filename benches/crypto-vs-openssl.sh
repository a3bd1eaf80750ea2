#!/usr/bin/env bash
# Compare jwtprobe's RS256 (RSA 2048) verify and mint throughput with `openssl speed rsa2048`.
#
# What each side does per operation:
# - `openssl speed rsa2048` signs / verifies a 36-byte digest with a prepared EVP_PKEY_CTX: the
#   RSA operation and its padding, nothing else (no hashing, no parsing).
# - `verify` is token::verify, the emulator's whole path: split the compact token, base64url-
#   decode header, payload and signature, validate both as JSON (every byte, as serde_json does),
#   check `alg` against the allow-list, hash the signing input with SHA-256 and check the RSA
#   signature (key parsed once), then exp/nbf and the identity claims (UserId, UserDirectory).
#   The full header/claims maps are built only when a caller asks (`verify-claims` adds that).
# - `mint` is token::Minter::mint: serialize the claims to JSON, base64url, SHA-256 + RSA sign,
#   base64url the signature.
# - `raw verify` / `raw sign` are aws-lc-rs alone (key parsed once) on a 260-byte message, the
#   floors under the JWT work.
# So jwtprobe's numbers include work openssl's do not; the ratios are not flattered.
#
# Method. A shared machine's speed changes from second to second, so the two sides are measured
# in pairs, close together: each round runs `openssl speed -seconds S rsa2048` (S s of signing,
# then S s of verifying), with jwtprobe's signing measurements right before it and its verifying
# ones right after (S s each, one at a time, the order within each side swapped every other
# round), from the `crypto` bench executable's `--loop` mode (the same closures as the criterion
# benches; see benches/crypto.rs). Everything is pinned
# to one CPU (taskset). Both sides divide their operation count by the CPU time the process got
# (`openssl speed`'s default divisor; jwtprobe reads its thread's time from
# /proc/thread-self/schedstat), so time taken by other processes counts on neither side;
# TIMING=wall divides both by wall-clock time instead (`openssl speed -elapsed`).
#
# Each round prints its numbers and its ratios; the verdict is the median of the per-round
# ratios (each jwtprobe number over the openssl number of its own round), with the best of the
# rounds on each side for reference.
#
# Usage: benches/crypto-vs-openssl.sh [seconds] [rounds]   (defaults: 2 s, 7 rounds)
# On a busy machine, more short rounds (`1 15`) give a steadier median than a few long ones.
# Targets: verify >= 1.00x openssl verify/s, mint >= 0.95x openssl sign/s.
set -euo pipefail
cd "$(dirname "$0")/.."
S=${1:-2}
ROUNDS=${2:-7}
TIMING=${TIMING:-cpu}
case "$TIMING" in
  cpu) OSSL_TIMING=() ;;
  wall) OSSL_TIMING=(-elapsed) ;;
  *) echo "error: TIMING must be \`cpu\` or \`wall\`, found \`$TIMING\`" >&2; exit 2 ;;
esac
if ! [[ "$S" =~ ^[1-9][0-9]*$ && "$ROUNDS" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [seconds (whole, >= 1)] [rounds]" >&2
  exit 2
fi

# Pin both to one CPU when taskset is available, so neither borrows a second core.
PIN=()
if command -v taskset >/dev/null 2>&1; then PIN=(taskset -c 0); fi

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
echo "== openssl: $(openssl version); jwtprobe: $EXE --loop <id> --seconds $S;" \
  "$ROUNDS rounds; divisor: $TIMING time; pinned: ${PIN[*]:-no}" >&2

# `openssl speed` prints "rsa 2048 bits <s/sign> <s/verify> <sign/s> <verify/s>".
openssl_speed() {
  "${PIN[@]}" openssl speed "${OSSL_TIMING[@]}" -seconds "$S" rsa2048 2>/dev/null |
    awk '/^rsa 2048 bits/ { print $6, $7 }'
}

# The loop mode prints "<id> <ops> <cpu s> <wall s> <ops/cpu s> <ops/wall s>".
jwtprobe_rate() {
  local col=5
  [[ "$TIMING" == wall ]] && col=6
  "${PIN[@]}" "$EXE" --loop "$1" --seconds "$S" | awk -v c="$col" '{ print $c }'
}

# name -> bench id.
NAMES=(verify raw_verify mint raw_sign verify_claims)
declare -A ID=(
  [verify]=verify/RS256/2048
  [raw_verify]=raw-verify/RS256/2048
  [mint]=mint/RS256/2048
  [raw_sign]=raw-sign/RS256/2048
  [verify_claims]=verify-claims/RS256/2048
)
# What each jwtprobe number is compared with.
declare -A VS=(
  [verify]=ossl_verify [raw_verify]=ossl_verify [verify_claims]=ossl_verify
  [mint]=ossl_sign [raw_sign]=ossl_sign
)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0) ? a / b : 0 }'; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END {
  if (NR == 0) { print 0 } else if (NR % 2) { print v[(NR + 1) / 2] }
  else { printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 } }'; }
max() { tr ' ' '\n' | grep -v '^$' | sort -g | tail -1; }

declare -A ALL      # name -> the per-round values, space-separated
declare -A RATIOS   # name -> the per-round ratios to openssl, space-separated

printf '\n%-5s %9s %9s | %9s %9s %9s %9s %9s | %6s %6s %6s %6s\n' round "ossl sign" \
  "ossl vrfy" verify "raw vrfy" mint "raw sign" "+claims" "v/o" "rv/o" "m/o" "rs/o"
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round/$ROUNDS" >&2
  declare -A R=()
  # openssl speed signs for S s, then verifies for S s. The signing measurements run right
  # before it and the verifying ones right after, so each pair is at most 2 S apart; every other
  # round swaps the order within each side, so a drift does not favour one measurement.
  if (( round % 2 )); then SIGN_SIDE=(mint raw_sign); VERIFY_SIDE=(verify raw_verify verify_claims)
  else SIGN_SIDE=(raw_sign mint); VERIFY_SIDE=(raw_verify verify verify_claims); fi
  for n in "${SIGN_SIDE[@]}"; do R[$n]=$(jwtprobe_rate "${ID[$n]}"); done
  read -r R[ossl_sign] R[ossl_verify] < <(openssl_speed)
  for n in "${VERIFY_SIDE[@]}"; do R[$n]=$(jwtprobe_rate "${ID[$n]}"); done
  for n in ossl_sign ossl_verify "${NAMES[@]}"; do ALL[$n]+="${R[$n]} "; done
  for n in "${NAMES[@]}"; do RATIOS[$n]+="$(ratio "${R[$n]}" "${R[${VS[$n]}]}") "; done
  printf '%-5s %9.0f %9.0f | %9.0f %9.0f %9.0f %9.0f %9.0f | %5.2fx %5.2fx %5.2fx %5.2fx\n' \
    "$round" "${R[ossl_sign]}" "${R[ossl_verify]}" "${R[verify]}" "${R[raw_verify]}" \
    "${R[mint]}" "${R[raw_sign]}" "${R[verify_claims]}" \
    "$(ratio "${R[verify]}" "${R[ossl_verify]}")" "$(ratio "${R[raw_verify]}" "${R[ossl_verify]}")" \
    "$(ratio "${R[mint]}" "${R[ossl_sign]}")" "$(ratio "${R[raw_sign]}" "${R[ossl_sign]}")"
  unset R
done

med() { median <<<"${RATIOS[$1]}"; }
best() { max <<<"${ALL[$1]}"; }
verdict() {
  awk -v r="$1" -v t="$2" 'BEGIN { print (r + 0 >= t + 0) ? "met" : "NOT met" }'
}
line() {
  # label, name, openssl name, note
  printf '%-34s %9.0f %9sx %9sx   %s\n' "$1" "$(best "$2")" "$(med "$2")" \
    "$(ratio "$(best "$2")" "$(best "$3")")" "$4"
}

printf '\nRSA 2048 / RS256, one core, %s rounds of %s s, ops per %s second\n' "$ROUNDS" "$S" "$TIMING"
printf '%-34s %9s %10s %10s\n' "" "best" "median of" "best /"
printf '%-34s %9s %10s %10s\n' "" "ops/s" "round ratios" "best ossl"
printf '%-34s %9.0f\n' "openssl speed sign" "$(best ossl_sign)"
printf '%-34s %9.0f\n' "openssl speed verify" "$(best ossl_verify)"
line "jwtprobe token::verify RS256" verify ossl_verify \
  "target >= 1.00: $(verdict "$(med verify)" 1.00)"
line "jwtprobe token::verify + claims()" verify_claims ossl_verify "x openssl verify"
line "jwtprobe Minter::mint RS256" mint ossl_sign "target >= 0.95: $(verdict "$(med mint)" 0.95)"
line "aws-lc-rs raw verify (floor)" raw_verify ossl_verify "x openssl verify"
line "aws-lc-rs raw sign (floor)" raw_sign ossl_sign "x openssl sign"
JWT_V=$(for i in $(seq 1 "$ROUNDS"); do
  v=$(cut -d' ' -f"$i" <<<"${ALL[verify]}"); r=$(cut -d' ' -f"$i" <<<"${ALL[raw_verify]}")
  ratio "$v" "$r"; echo
done | median)
printf '%-34s %9s %9sx %10s   %s\n' "token::verify / raw verify" "" "$JWT_V" "" \
  "(1.00 = no JWT overhead)"
