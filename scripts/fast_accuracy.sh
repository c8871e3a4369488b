#!/usr/bin/env bash
# fast_accuracy.sh FILE.bstk TEXT CTX WINDOWS BUDGET... - fast mode against
# exact mode at each budget (docs/RESULTS.md, "Fast decode"): perplexity of
# `bitstack ppl --batch 1` (the text fed token by token, so every token goes
# through the decode kernels; with ppl's default batch of 64 the exact path
# would run in both modes), one markdown row per budget:
#   | file | budget | ppl fast | ppl exact | relative difference |
# BUDGET is anything --budget takes (3bpw, 98362432) or "whole" (every block).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 5 ] || { echo "usage: $0 FILE.bstk TEXT CTX WINDOWS BUDGET..." >&2; exit 1; }
file=$1 text=$2 ctx=$3 windows=$4
shift 4
B=build/bitstack
ppl() { # budget, extra flags -> perplexity
  local budget=() && [ "$1" != whole ] && budget=(--budget "$1")
  "$B" ppl "$file" --text "$text" --ctx "$ctx" --max-windows "$windows" --batch 1 "${budget[@]}" "${@:2}" --json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["ppl"])'
}
for b in "$@"; do
  fast=$(ppl "$b") exact=$(ppl "$b" --exact)
  python3 -c "import sys; f, e = float(sys.argv[3]), float(sys.argv[4]); \
print(f'| {sys.argv[1]} | {sys.argv[2]} | {f:.6f} | {e:.6f} | {(f - e) / e:+.1e} |')" "$(basename "$file")" "$b" "$fast" "$exact"
done
