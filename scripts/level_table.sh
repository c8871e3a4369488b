#!/usr/bin/env bash
# Prints a markdown table of a .bstk measured at each complete level of its
# stack: level, cumulative bytes, bits per compressed weight, perplexity
# (bitstack ppl at exactly that many bytes).
# usage: scripts/level_table.sh FILE.bstk TEXT CTX WINDOWS
set -euo pipefail
file=$1 text=$2 ctx=$3 windows=$4
B=${B:-build/bitstack}
echo "| level | bytes | bpw | ppl |"
echo "|---|---|---|---|"
"$B" inspect "$file" | sed -n 's/^  level *\([0-9]*\): .*cumulative *\([0-9]*\) bytes *\([0-9.]*\) bits\/weight/\1 \2 \3/p' |
  while read -r level bytes bpw; do
    ppl=$("$B" ppl "$file" --budget "$bytes" --text "$text" --ctx "$ctx" --max-windows "$windows" --json 2>/dev/null |
      sed 's/.*"ppl": \([0-9.]*\).*/\1/')
    echo "| $level | $bytes | $bpw | $ppl |"
  done
