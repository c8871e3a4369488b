#!/usr/bin/env bash
# The main job: build, then generate a story with the bundled default model
# (stories260K). Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh gcc cmake ninja-build libcjson-dev pkg-config

cmake -B build -S . -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 >/dev/null
build/bitstack run models/stories260K/stories260K.bin --tokenizer models/stories260K/tok512.bin \
  --prompt "${1:-Once upon a time}" --steps 200 --temperature 0.8 --seed 7
