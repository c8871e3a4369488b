#!/usr/bin/env bash
# `bitstack compress` on bad input: NaN/Inf/huge weights, all-zero rows and
# matrices, mismatched shapes, empty, tiny and unreadable calibration text,
# out-of-range flags, unwritable outputs. Bad flags exit 1, bad inputs exit 2,
# each with a message naming the problem, and no output file (nor its
# temporary) is left behind; zero rows are valid and compress.
set -euo pipefail
source "$(dirname "$0")/lib.bash" "$@"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
M="$ROOT/models/stories260K/stories260K.bin"
T="$ROOT/models/stories260K/tok512.bin"
head -c 20000 "$ROOT/models/stories260K/calib.txt" >"$TMP/calib.txt"
FAST=(--calib-windows 2 --sort-windows 1 --curve-windows 1 --calib-ctx 32 --blocks 2)
OUT="$TMP/dest/o.bstk"
mkdir -p "$TMP/dest"

# no_output : the output directory holds nothing (no file, no temporary)
no_output() {
  CHECKS=$((CHECKS + 1))
  [ -z "$(ls -A "$TMP/dest")" ] || fail "output left behind: $(ls -A "$TMP/dest")"
  rm -rf "$TMP/dest" && mkdir -p "$TMP/dest"
}

# patch FILE OFFSET HEXBYTES : overwrites bytes of a copy of the checkpoint
# stories260K.bin (llama2.c legacy): header 28 bytes, token table 512 x 64 f32
# at 28, attention norms 5 x 64 at 131100, wq of layers 0..4 (64 x 64 each) from 132380.
patch() {
  cp "$M" "$1"
  printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
NAN='\x00\x00\xc0\x7f'; INF='\x00\x00\x80\x7f'; HUGE='\x00\x00\x80\x50' # 1.7e10

# ---- weights the compressor cannot store: exit 2, the tensor named ----
for method in planes avd; do
  patch "$TMP/m.bin" 28 "$NAN"
  expect_exit 2 "$BS" compress "$TMP/m.bin" "$OUT" --tokenizer "$T" --calib "$TMP/calib.txt" "${FAST[@]}" --method $method
  expect_stderr "token embedding weight \(0, 0\) is nan"
  no_output
  patch "$TMP/m.bin" 131100 "$NAN"
  expect_exit 2 "$BS" compress "$TMP/m.bin" "$OUT" --tokenizer "$T" --calib "$TMP/calib.txt" "${FAST[@]}" --method $method
  expect_stderr "layer 0 attention norm weight \(0, 0\) is nan"
  no_output
  patch "$TMP/m.bin" $((132380 + 4 * 70)) "$INF"
  expect_exit 2 "$BS" compress "$TMP/m.bin" "$OUT" --tokenizer "$T" --calib "$TMP/calib.txt" "${FAST[@]}" --method $method
  expect_stderr "layer 0 q weight \(1, 6\) is inf"
  no_output
  patch "$TMP/m.bin" $((132380 + 4 * 64 * 64 + 8)) "$HUGE"
  expect_exit 2 "$BS" compress "$TMP/m.bin" "$OUT" --tokenizer "$T" --calib "$TMP/calib.txt" "${FAST[@]}" --method $method
  expect_stderr "layer 1 q weight \(0, 2\) is 1.7.*e\+10.*65504"
  no_output
done

# ---- finite weights that overflow in the forward pass (norm weights at FLT_MAX) ----
cp "$M" "$TMP/big.bin"
for i in 0 1 2 3; do printf '\xff\xff\x7f\x7f' | dd of="$TMP/big.bin" bs=1 seek=$((131100 + 4 * i)) conv=notrunc 2>/dev/null; done
expect_exit 2 "$BS" compress "$TMP/big.bin" "$OUT" --tokenizer "$T" --calib "$TMP/calib.txt" "${FAST[@]}"
expect_stderr "float model's loss on the calibration text is (nan|inf)"
no_output

# ---- all-zero rows and a whole zero matrix are valid weights: they compress and load ----
cp "$M" "$TMP/zero.bin"
dd if=/dev/zero of="$TMP/zero.bin" bs=1 seek=132380 count=256 conv=notrunc 2>/dev/null        # row 0 of wq
dd if=/dev/zero of="$TMP/zero.bin" bs=1 seek=$((132380 + 16384)) count=8192 conv=notrunc 2>/dev/null # wk
for method in planes avd; do
  expect_exit 0 "$BS" compress "$TMP/zero.bin" "$TMP/zero.bstk" --tokenizer "$T" --calib "$TMP/calib.txt" "${FAST[@]}" --method $method
  expect_exit 0 "$BS" run "$TMP/zero.bstk" --steps 8 --temperature 0
  CHECKS=$((CHECKS + 1))
  [ -s "$TMP/out" ] || fail "no text generated from the zero-row model ($method)"
done

# ---- mismatched shapes (a Hugging Face directory whose config disagrees with its tensors) ----
cp -r "$ROOT/tests/data/hf/llama_f32" "$TMP/hf"
sed -i 's/"intermediate_size": 96/"intermediate_size": 80/' "$TMP/hf/config.json"
expect_exit 2 "$BS" compress "$TMP/hf" "$OUT" --calib "$TMP/calib.txt" "${FAST[@]}"
expect_stderr "gate_proj.weight .*has shape \[96, 64\], config.json implies \[80, 64\]"
no_output

# ---- calibration text ----
: >"$TMP/empty.txt"
expect_exit 2 "$BS" compress "$M" "$OUT" --tokenizer "$T" --calib "$TMP/empty.txt" "${FAST[@]}"
expect_stderr "calibration text has 1 tokens.*need 128"
no_output
printf 'Hi' >"$TMP/tiny.txt"
expect_exit 2 "$BS" compress "$M" "$OUT" --tokenizer "$T" --calib "$TMP/tiny.txt" "${FAST[@]}"
expect_stderr "calibration text has 3 tokens"
no_output
expect_exit 2 "$BS" compress "$M" "$OUT" --tokenizer "$T" --calib "$TMP/missing.txt" "${FAST[@]}"
expect_stderr "cannot open text file"
no_output
expect_exit 2 "$BS" compress "$M" "$OUT" --tokenizer "$T" --calib "$TMP" "${FAST[@]}"
expect_stderr "cannot read text file.*Is a directory"
no_output
expect_exit 2 "$BS" compress "$M" "$OUT" --calib "$TMP/calib.txt" "${FAST[@]}"
expect_stderr "no tokenizer"
no_output
expect_exit 2 "$BS" compress "$M" "$OUT" --tokenizer "$T" --calib "$TMP/calib.txt" --chat-template "$TMP/missing.jinja" "${FAST[@]}"
expect_stderr "cannot open text file .*missing.jinja"
no_output

# ---- flags out of range: exit 1, the flag named ----
bad_flag() { # FLAG VALUE REGEX
  expect_exit 1 "$BS" compress "$M" "$OUT" --tokenizer "$T" --calib "$TMP/calib.txt" "$1" "$2"
  expect_stderr "$3"
  no_output
}
bad_flag --blocks 0 "--blocks 0: expects an integer in \[1, 64\]"
bad_flag --blocks 65 "--blocks 65"
bad_flag --blocks 13 "--blocks 13: planes allow at most 12"
bad_flag --blocks 99999999999999999999 "--blocks"
bad_flag --group -1 "--group -1"
bad_flag --scale-bits 12 "--scale-bits 12: expects 0, 8 or 16"
bad_flag --group 1e3 "--group 1e3"
bad_flag --rank -1 "--rank -1"
bad_flag --rank 5000 "--rank 5000"
bad_flag --threads 0 "--threads 0"
bad_flag --seed -1 "--seed -1"
bad_flag --calib-windows 0 "--calib-windows 0"
bad_flag --calib-ctx 1 "--calib-ctx 1"
bad_flag --calib-ctx 100000 "--calib-ctx 100000 exceeds the model's context of 512"
bad_flag --method foo "--method foo: expects avd or planes"
bad_flag --sort foo "--sort foo"
bad_flag --order foo "--order foo"
bad_flag --scaling maybe "--scaling maybe"
bad_flag --embeddings x "--embeddings x"
bad_flag --rotate maybe "--rotate maybe: expects auto, on or off"
bad_flag --rotate-draws 0 "--rotate-draws 0"
bad_flag --probe-level 0 "--probe-level 0"
bad_flag --min-level 0 "--min-level 0"
expect_exit 1 "$BS" compress "$M" "$OUT" --tokenizer "$T" --calib "$TMP/calib.txt" --method avd --embeddings planes
expect_exit 1 "$BS" compress "$M" --calib "$TMP/calib.txt"
no_output

# ---- inputs and outputs ----
expect_exit 2 "$BS" compress "$TMP/missing.bin" "$OUT" --calib "$TMP/calib.txt" "${FAST[@]}"
expect_stderr "cannot open"
expect_exit 2 "$BS" compress "$TMP/zero.bstk" "$OUT" --calib "$TMP/calib.txt" "${FAST[@]}"
expect_stderr "must be a float model"
no_output
expect_exit 2 "$BS" compress "$M" "$TMP/nowhere/o.bstk" --tokenizer "$T" --calib "$TMP/calib.txt" "${FAST[@]}"
expect_stderr "cannot write .*nowhere.*No such file"
mkdir "$TMP/dest/adir"
expect_exit 2 "$BS" compress "$M" "$TMP/dest/adir" --tokenizer "$T" --calib "$TMP/calib.txt" "${FAST[@]}"
expect_stderr "is a directory"
rmdir "$TMP/dest/adir"
no_output
finish
