#!/usr/bin/env bash
# No input makes the CLI crash or hang: every subcommand that reads a model
# (run, chat, ppl, inspect, compress; bench on a few) over the fuzz seed
# corpora (tests/fuzz/corpus, harness prefixes removed) and deterministic
# mutations of them (truncations, flipped bytes, 0xff runs), plus a damaged
# Hugging Face directory and damaged tokenizer files. Every exit must be 0, 1
# or 2 within the time limit, with no sanitizer report (lib.bash moves the
# sanitizer exit codes out of that set so an ASan build cannot hide a crash).
set -euo pipefail
source "$(dirname "$0")/lib.bash" "$@"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CORPUS="$ROOT/tests/fuzz/corpus"
TOK="$ROOT/models/stories260K/tok512.bin"
RANDOM=20261123 # the same mutations on every run
head -c 4000 "$ROOT/models/stories260K/calib.txt" >"$TMP/text.txt"
echo hi >"$TMP/hi.txt"
RUNS=0
EXITS=(0 0 0)

# any_exit CMD... : runs CMD (stdin "hi"), requires exit 0/1/2 within 20 s and no sanitizer report
any_exit() {
  CHECKS=$((CHECKS + 1))
  RUNS=$((RUNS + 1))
  set +e
  timeout 20 "$@" <"$TMP/hi.txt" >/dev/null 2>"$TMP/err"
  local got=$?
  set -e
  [ $got -le 2 ] && EXITS[$got]=$((EXITS[$got] + 1))
  if [ $got -gt 2 ] || grep -qE -e "$SANITIZER_REPORT" "$TMP/err"; then
    fail "exit $got: $*"
    head -5 "$TMP/err" | sed 's/^/  stderr: /' >&2
    cp "$1" "$TMP/keep.$CHECKS" 2>/dev/null || true
  fi
}

# mutate SRC DST K : the K-th deterministic mutation of SRC
mutate() {
  local src=$1 dst=$2 k=$3 size
  size=$(stat -c %s "$src")
  cp "$src" "$dst"
  case $k in
  0) truncate -s $((size / 2)) "$dst" ;;
  1) truncate -s $((size > 100 ? 100 : size / 2)) "$dst" ;;
  2) truncate -s $((size - 1)) "$dst" ;;
  *) # flip a few bytes: in the first 512 bytes for odd k, anywhere for even k
     local n=$((k % 2 ? 512 : size)) i off
     [ "$n" -gt "$size" ] && n=$size
     for i in 1 2 3 4; do
       [ "$size" -gt 0 ] || break
       off=$(((RANDOM * 32768 + RANDOM) % n))
       printf "\\x$(printf %02x $((RANDOM % 256)))" | dd of="$dst" bs=1 seek=$off conv=notrunc 2>/dev/null
     done ;;
  esac
}

# every command that reads a model file
model_commands() {
  local f=$1
  any_exit "$BS" inspect "$f"
  any_exit "$BS" inspect "$f" --json
  any_exit "$BS" run "$f" --steps 3 --temperature 0
  any_exit "$BS" run "$f" --steps 3 --budget 30000 --tokenizer "$TOK"
  any_exit "$BS" ppl "$f" --text "$TMP/text.txt" --ctx 16
  any_exit "$BS" chat "$f" --system x
}

mkdir -p "$TMP/in"
n=0
for kind in bstk llama2c gguf; do
  for seed in "$CORPUS/$kind"/*; do
    src="$TMP/in/seed.$kind"
    if [ $kind = bstk ]; then tail -c +6 "$seed" >"$src"; else cp "$seed" "$src"; fi # drop the harness's prefix
    model_commands "$src"
    for k in 0 1 2 3 4; do
      mutate "$src" "$TMP/in/m" $k
      model_commands "$TMP/in/m"
    done
    if [ $kind != bstk ] && [ $((n++ % 2)) = 0 ]; then
      any_exit "$BS" compress "$src" "$TMP/in/o.bstk" --tokenizer "$TOK" --calib "$TMP/text.txt" \
        --calib-windows 1 --sort-windows 1 --curve-windows 1 --calib-ctx 16 --blocks 2
      any_exit "$BS" compress "$TMP/in/m" "$TMP/in/o.bstk" --calib "$TMP/text.txt" --calib-ctx 16
    fi
  done
done
any_exit "$BS" bench "$TMP/in/m"

# tokenizer files (llama2.c .bin) given with a good model
for seed in "$CORPUS/tokenizer_file"/tok512_bin*; do
  tail -c +2 "$seed" >"$TMP/in/tok"
  for k in 0 1 2 3 4 5; do
    mutate "$TMP/in/tok" "$TMP/in/tm" $k
    any_exit "$BS" run "$ROOT/models/stories260K/stories260K.bin" --tokenizer "$TMP/in/tm" --steps 3 --prompt "Once upon"
  done
done

# a Hugging Face directory with one file damaged at a time
HF="$ROOT/tests/data/hf/llama_f32"
for file in config.json tokenizer.json tokenizer_config.json model.safetensors generation_config.json; do
  for k in 0 1 3 4; do
    rm -rf "$TMP/hf" && cp -r "$HF" "$TMP/hf"
    mutate "$HF/$file" "$TMP/hf/$file" $k
    any_exit "$BS" run "$TMP/hf" --steps 3 --temperature 0
    any_exit "$BS" chat "$TMP/hf"
  done
done
echo "$RUNS runs: ${EXITS[0]} exit 0, ${EXITS[1]} exit 1, ${EXITS[2]} exit 2"
finish
