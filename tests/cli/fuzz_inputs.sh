#!/usr/bin/env bash
# No input makes the CLI crash or hang: every subcommand that reads a model
# (run, chat, ppl, inspect, compress, curve; bench on a few) over the fuzz
# seed corpora (tests/fuzz/corpus, harness prefixes removed) and
# deterministic mutations of them (truncations, flipped bytes), plus a
# damaged Hugging Face directory and damaged tokenizer files; and the Node
# CLI's chat (js/bin/bitstack.mjs: the .bstk reader in wasm and the Jinja
# template path) over the .bstk seeds, their mutations and damaged
# templates. Every exit must be 0, 1 or 2 within the time limit, with no
# sanitizer report (lib.bash moves the sanitizer exit codes out of that set
# so an ASan build cannot hide a crash) and, from Node, no stack trace.
# The Node part runs in the plain build only (Node is not sanitized: once
# is enough); it needs the wasm modules and js/node_modules (npm --prefix js
# ci && npm --prefix js run build) and is skipped without them unless
# BITSTACK_REQUIRE_NODE_CLI=1 (scripts/test.sh), which makes that a failure.
set -euo pipefail
source "$(dirname "$0")/lib.bash" "$@"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CORPUS="$ROOT/tests/fuzz/corpus"
TOK="$ROOT/models/stories260K/tok512.bin"
S260_MODEL="$ROOT/models/stories260K/stories260K.bin"
RANDOM=20261123 # the same mutations on every run
head -c 4000 "$ROOT/models/stories260K/calib.txt" >"$TMP/text.txt"
echo hi >"$TMP/hi.txt"
RUNS=0
EXITS=(0 0 0)
# matching pairs for curve --source: stacks compressed from stories260K and from the tiny GGUF model
mkdir -p "$TMP/good"
tail -c +6 "$CORPUS/bstk/stories260k_planes_whole" >"$TMP/good/s260.bstk"
tail -c +6 "$CORPUS/bstk/tiny_bpe_planes_whole" >"$TMP/good/tiny.bstk"
CURVE=(--text "$TMP/text.txt" --out "$TMP/curve" --ctx 16 --max-windows 1 --points 2)

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
  any_exit "$BS" curve "$f" "${CURVE[@]}" --no-rtn
}

# curve with a source (float model and RTN baselines): FILE as the stack against its real source, or
# FILE as the source of a stack made from it (llama2c: none matches; the load must still fail cleanly)
curve_commands() {
  local f=$1 kind=$2
  case $kind in
  bstk) any_exit "$BS" curve "$f" --source "$S260_MODEL" --tokenizer "$TOK" "${CURVE[@]}" --rtn-groups 32 ;;
  gguf) any_exit "$BS" curve "$TMP/good/tiny.bstk" --source "$f" "${CURVE[@]}" --rtn-groups 32 ;;
  llama2c) any_exit "$BS" curve "$TMP/good/s260.bstk" --source "$f" --tokenizer "$TOK" "${CURVE[@]}" --rtn-groups 32 ;;
  esac
}

mkdir -p "$TMP/in"
n=0
for kind in bstk llama2c gguf; do
  for seed in "$CORPUS/$kind"/*; do
    src="$TMP/in/seed.$kind"
    if [ $kind = bstk ]; then tail -c +6 "$seed" >"$src"; else cp "$seed" "$src"; fi # drop the harness's prefix
    model_commands "$src"
    curve_commands "$src" $kind
    for k in 0 1 2 3 4; do
      mutate "$src" "$TMP/in/m" $k
      model_commands "$TMP/in/m"
      [ $((k % 2)) = 0 ] && curve_commands "$TMP/in/m" $kind
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

# the Node CLI's chat: .bstk seeds and their mutations with a good template, then damaged templates
NODE_CLI="$ROOT/js/bin/bitstack.mjs"
CHATML="$ROOT/tests/data/chatml.jinja"
node_missing() {
  command -v node >/dev/null || { echo "node is not installed"; return; }
  ls "$ROOT"/js/dist/bitstack-*.wasm >/dev/null 2>&1 || { echo "js/dist has no wasm (npm --prefix js run build)"; return; }
  [ -d "$ROOT/js/node_modules/@huggingface/jinja" ] || echo "js/node_modules lacks @huggingface/jinja (npm --prefix js ci)"
}
NODE_RUNS=0
if [ "$("${3:-false}" sanitized 2>/dev/null)" = yes ]; then
  echo "the Node CLI's chat: not in the sanitized build (Node is not sanitized; the plain build runs it)"
elif why=$(node_missing) && [ -n "$why" ]; then
  if [ "${BITSTACK_REQUIRE_NODE_CLI:-0}" = 1 ]; then fail "the Node CLI's chat cannot run: $why"
  else echo "the Node CLI's chat: skipped ($why)"; fi
else
  # node_chat FILE TEMPLATE : like any_exit, and a JavaScript stack trace on stderr fails too
  node_chat() {
    NODE_RUNS=$((NODE_RUNS + 1))
    any_exit node "$NODE_CLI" chat "$1" --template "$2" --steps 3 --temperature 0
    if grep -qE '^ +at .*:[0-9]+:[0-9]+\)?$' "$TMP/err"; then
      fail "a stack trace from the Node CLI: chat $1 --template $2"
      head -5 "$TMP/err" | sed 's/^/  stderr: /' >&2
    fi
  }
  for seed in "$CORPUS/bstk"/*; do
    tail -c +6 "$seed" >"$TMP/in/seed.bstk"
    node_chat "$TMP/in/seed.bstk" "$CHATML"
    for k in 0 3 4; do
      mutate "$TMP/in/seed.bstk" "$TMP/in/m" $k
      node_chat "$TMP/in/m" "$CHATML"
    done
  done
  for k in 0 1 3 4 5 6; do
    mutate "$CHATML" "$TMP/in/tpl" $k
    node_chat "$TMP/good/s260.bstk" "$TMP/in/tpl"
  done
fi
echo "$RUNS runs ($NODE_RUNS of the Node CLI): ${EXITS[0]} exit 0, ${EXITS[1]} exit 1, ${EXITS[2]} exit 2"
finish
