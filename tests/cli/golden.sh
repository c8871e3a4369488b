#!/usr/bin/env bash
# The reference generation of DATA.md through every format of stories260K.
set -euo pipefail
source "$(dirname "$0")/lib.bash" "$@"

REF='Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high'
for f in stories260K.bin stories260K_v1export.bin stories260K.gguf; do
  expect_exit 0 "$BS" run "$S260/$f" --tokenizer "$S260/tok512.bin" --steps 60 --temperature 0
  expect_stdout_eq "$REF"
  expect_stderr 'decode: 60 tokens'
done
# threads never change the output (prompt batches and decode alike)
expect_exit 0 "$BS" run "$S260/stories260K.bin" --tokenizer "$S260/tok512.bin" --steps 60 --temperature 0 --threads 3
expect_stdout_eq "$REF"
expect_exit 0 "$BS" bench "$S260/stories260K.bin" --prompt-tokens 70 --gen-tokens 4 --threads 2 --json
CHECKS=$((CHECKS + 1))
grep -q '"threads": 2,' "$TMP/out" || fail "bench JSON lacks \"threads\": 2: $(cat "$TMP/out")"
# the GGUF carries its own tokenizer
expect_exit 0 "$BS" run "$S260/stories260K.gguf" --steps 60 --temperature 0
expect_stdout_eq "$REF"
# a seed makes sampling reproducible
expect_exit 0 "$BS" run "$S260/stories260K.bin" --tokenizer "$S260/tok512.bin" --steps 40 --seed 5
a=$(cat "$TMP/out")
expect_exit 0 "$BS" run "$S260/stories260K.bin" --tokenizer "$S260/tok512.bin" --steps 40 --seed 5
expect_stdout_eq "$a"
# the same perplexity through the three files
TEXT="$SHARED/corpora/tinystories/tinystories_val_head.txt"
for f in stories260K.bin stories260K_v1export.bin stories260K.gguf; do
  expect_exit 0 "$BS" ppl "$S260/$f" --tokenizer "$S260/tok512.bin" --text "$TEXT" --ctx 512 --max-windows 8 --json
  grep -o '"ppl": [0-9.]*' "$TMP/out" >>"$TMP/ppls"
done
CHECKS=$((CHECKS + 1))
[ "$(sort -u "$TMP/ppls" | wc -l)" == 1 ] || fail "ppl differs between formats: $(cat "$TMP/ppls")"
finish
