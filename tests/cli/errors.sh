#!/usr/bin/env bash
# Bad flags exit 1, bad files exit 2, each with a message naming the problem.
set -euo pipefail
source "$(dirname "$0")/lib.bash" "$@"
M="$S260/stories260K.bin"
T="$S260/tok512.bin"

expect_exit 1 "$BS"
expect_exit 1 "$BS" frobnicate
expect_stderr "unknown command"
expect_exit 0 "$BS" --help
for c in run chat ppl bench; do
  expect_exit 0 "$BS" $c --help
  expect_exit 1 "$BS" $c
  expect_exit 1 "$BS" $c "$M" --no-such-flag
  expect_stderr "unknown option --no-such-flag"
done
expect_exit 1 "$BS" run "$M" --steps abc
expect_stderr "steps"
expect_exit 1 "$BS" run "$M" --temperature -1
expect_exit 1 "$BS" run "$M" --top-p 2
expect_exit 1 "$BS" run "$M" --steps
expect_stderr "needs a value"
for n in 0 257 -1; do
  expect_exit 1 "$BS" run "$M" --threads $n
  expect_stderr "threads"
done
expect_exit 1 "$BS" ppl "$M" --tokenizer "$T"
expect_stderr "needs --text"
expect_exit 2 "$BS" run "$TMP/missing.bin"
expect_stderr "cannot open"
expect_exit 2 "$BS" run "$SHARED"
# truncated checkpoints, at several cut points
for n in 0 3 20 28 1000 500000 1056539; do
  head -c $n "$M" >"$TMP/cut.bin"
  expect_exit 2 "$BS" run "$TMP/cut.bin" --tokenizer "$T" --steps 2
done
# garbage and absurd headers
head -c 4096 /dev/urandom >"$TMP/rand.bin"
expect_exit 2 "$BS" run "$TMP/rand.bin" --steps 2
printf '\x40\x00\x00\x00\xff\xff\xff\x7f\x05\x00\x00\x00\x08\x00\x00\x00\x04\x00\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00' >"$TMP/absurd.bin"
expect_exit 2 "$BS" run "$TMP/absurd.bin" --steps 2
expect_stderr "out of range|truncated"
# a truncated tokenizer
head -c 3000 "$T" >"$TMP/tok.bin"
expect_exit 2 "$BS" run "$M" --tokenizer "$TMP/tok.bin" --steps 2
# a chat without a template
expect_exit 2 "$BS" chat "$M" --tokenizer "$T" </dev/null
expect_stderr "chat template"
finish
