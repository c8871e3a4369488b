#!/usr/bin/env bash
# The main job: build, compress the bundled default model (stories260K) into a
# .bstk with bit-plane blocks, show what the file holds, and generate the same
# story at several budgets, each a prefix of the one file. Installs what it
# needs first.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh gcc cmake ninja-build libcjson-dev pkg-config

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
