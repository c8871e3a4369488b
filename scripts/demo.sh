#!/usr/bin/env bash
# The main job: build, compress the bundled default model (stories260K) into a
# .bstk with bit-plane blocks, show what the file holds, and generate the same
# story at several budgets, each a prefix of the one file; then build the
# WebAssembly modules and serve the chat demo with nginx on 127.0.0.1,
# printing its URL. On a terminal it serves until Ctrl-C; without one (CI,
# logs) it checks that the page and the model are served and stops
# (BITSTACK_SERVE=1 serves anyway; PORT=N picks the port). Installs what it
# needs first.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh gcc cmake ninja-build libcjson-dev pkg-config clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 nginx
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

# The chat demo: the wasm modules and the JS package, then nginx.
echo
if [ -f js/package-lock.json ]; then npm --prefix js ci --no-audit --no-fund >/dev/null; else npm --prefix js install --no-audit --no-fund >/dev/null; fi
npm --prefix js run build >/dev/null
serve=(node demo/serve.mjs ${PORT:+--port "$PORT"} stories260K=cache/stories260K.bstk)
if [ -t 0 ] || [ "${BITSTACK_SERVE:-}" = 1 ]; then
  exec "${serve[@]}"
else
  "${serve[@]}" --check
  echo "(no terminal: the server was stopped; run scripts/demo.sh in a terminal, or BITSTACK_SERVE=1, to keep it up)"
fi
