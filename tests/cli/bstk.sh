#!/usr/bin/env bash
# The compressor and the .bstk paths of the CLI: compress, inspect, budgets,
# damaged files.
set -euo pipefail
source "$(dirname "$0")/lib.bash" "$@"
M="$S260/stories260K.bin"
T="$S260/tok512.bin"
CAL="$TMP/calib.txt"
tail -c 120000 "$SHARED/corpora/tinystories/tinystories_val_head.txt" >"$CAL"
FAST=(--calib "$CAL" --blocks 4 --calib-windows 2 --sort-windows 1 --curve-windows 1 --calib-ctx 128)

expect_exit 0 "$BS" compress "$M" "$TMP/a.bstk" --tokenizer "$T" "${FAST[@]}" --method avd
expect_stderr 'compressed 35 matrices into 105 stacked blocks'
expect_exit 0 "$BS" compress "$M" "$TMP/p.bstk" --tokenizer "$T" "${FAST[@]}" --method planes --sort fast
CHECKS=$((CHECKS + 1)); ls "$TMP" | grep -q tmp && fail "temporary file left behind"

expect_exit 0 "$BS" inspect "$TMP/a.bstk"
grep -q 'compress.method *avd' "$TMP/out" || fail "inspect lacks the method"
expect_exit 0 "$BS" inspect "$TMP/p.bstk" --json
grep -q '"compress.method": "planes"' "$TMP/out" || fail "inspect --json lacks the method"
grep -q '"curve": \[{"blocks": 0' "$TMP/out" || fail "inspect --json lacks the curve"

# budgets: bytes with units, bits per weight, too small, malformed
for b in 150KB 200KiB 3bpw 5.5bpw 1GB; do
  expect_exit 0 "$BS" run "$TMP/p.bstk" --budget $b --steps 8 --temperature 0
  expect_stderr 'stack: [0-9]+ of 108 blocks loaded'
done
expect_exit 0 "$BS" ppl "$TMP/a.bstk" --budget 3bpw --text "$CAL" --ctx 128 --max-windows 2
expect_exit 0 "$BS" bench "$TMP/p.bstk" --budget 2bpw --prompt-tokens 8 --gen-tokens 8
expect_exit 2 "$BS" run "$TMP/p.bstk" --budget 1KB --steps 2
expect_stderr 'below the resident size'
expect_exit 1 "$BS" run "$TMP/p.bstk" --budget lots --steps 2
expect_exit 1 "$BS" run "$M" --tokenizer "$T" --budget 1MB --steps 2
expect_stderr 'applies to .bstk'

# curve: its source must be the float model the stack came from (a mismatched one overran a buffer
# sized from the stack's weights, and a .bstk as the source had no f32 weights: both crashed)
CURVE=(--text "$CAL" --out "$TMP/curve" --ctx 32 --max-windows 1 --points 3 --rtn-groups 32)
expect_exit 0 "$BS" curve "$TMP/p.bstk" --source "$M" --tokenizer "$T" "${CURVE[@]}"
expect_stderr 'wrote .*curve.csv'
CHECKS=$((CHECKS + 1)); grep -q '^RTN sym g32' "$TMP/curve.csv" || fail "curve.csv lacks the RTN rows: $(head -3 "$TMP/curve.csv")"
expect_exit 2 "$BS" curve "$TMP/p.bstk" --source "$TMP/a.bstk" "${CURVE[@]}"
expect_stderr 'is not f32 \(give the float model, not a .bstk\)'
expect_exit 2 "$BS" curve "$TMP/p.bstk" --source "$(dirname "$0")/../data/gguf/tiny_llama.gguf" "${CURVE[@]}"
expect_stderr 'does not match the stack: 2 layers, vocabulary [0-9]+ \(the stack: 5 layers, vocabulary 512\)'

# damaged files exit 2 with a message naming the problem
size=$(stat -c %s "$TMP/p.bstk")
head -c $((size - 5)) "$TMP/p.bstk" >"$TMP/cut.bstk"
expect_exit 2 "$BS" run "$TMP/cut.bstk" --steps 2
expect_stderr 'inside block'
cp "$TMP/p.bstk" "$TMP/flip.bstk"
printf '\xff' | dd of="$TMP/flip.bstk" bs=1 seek=$((size - 40)) conv=notrunc status=none
expect_exit 2 "$BS" run "$TMP/flip.bstk" --steps 2
expect_stderr 'checksum'
cp "$TMP/p.bstk" "$TMP/ver.bstk"
printf '\x07' | dd of="$TMP/ver.bstk" bs=1 seek=8 conv=notrunc status=none
expect_exit 2 "$BS" inspect "$TMP/ver.bstk"
expect_stderr 'version 7'

# compressor flags and inputs
expect_exit 1 "$BS" compress "$M" "$TMP/x.bstk" --tokenizer "$T"
expect_stderr 'needs --calib'
expect_exit 1 "$BS" compress "$M" "$TMP/x.bstk" --tokenizer "$T" --calib "$CAL" --method jpeg
expect_exit 1 "$BS" compress "$M" "$TMP/x.bstk" --tokenizer "$T" --calib "$CAL" --blocks 0
printf 'tiny' >"$TMP/tiny.txt"
expect_exit 2 "$BS" compress "$M" "$TMP/x.bstk" --tokenizer "$T" --calib "$TMP/tiny.txt"
expect_stderr 'calibration text has'
CHECKS=$((CHECKS + 1)); [ ! -e "$TMP/x.bstk" ] || fail "a failed compression left an output file"
expect_exit 2 "$BS" compress "$TMP/p.bstk" "$TMP/x.bstk" --calib "$CAL"
expect_stderr 'float model'
finish
