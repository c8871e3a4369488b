#!/usr/bin/env bash
# Regenerates the stories260K figures of docs/RESULTS.md: compresses the
# model with each method (calibrated on the second half of the TinyStories
# validation head, disjoint from the evaluation text) and measures
# perplexity against size next to the RTN baselines on the first half.
# Writes docs/results/stories260k_*.{csv,svg}. Takes about 15 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
S=../shared/models/stories260K
T=../shared/corpora/tinystories/tinystories_val_head.txt
W=cache/results && mkdir -p $W docs/results
head -c 397000 $T >$W/eval.txt
tail -c +397001 $T >$W/calib.txt
B=build/bitstack
C=(--tokenizer $S/tok512.bin --calib $W/calib.txt --sort exact --sort-windows 16 --embeddings f16)
$B compress $S/stories260K.bin $W/planes.bstk "${C[@]}" --method planes --order byte --sort-windows 64
$B compress $S/stories260K.bin $W/planes_level.bstk "${C[@]}" --method planes --order level
$B compress $S/stories260K.bin $W/avd.bstk "${C[@]}" --method avd --order level
$B compress $S/stories260K.bin $W/avd_byte.bstk "${C[@]}" --method avd --order byte
for f in planes planes_level avd avd_byte; do $B inspect $W/$f.bstk >docs/results/stories260k_$f.inspect.txt; done
$B curve $W/planes.bstk $W/planes_level.bstk $W/avd.bstk $W/avd_byte.bstk --text $W/eval.txt \
  --out docs/results/stories260k --source $S/stories260K.bin --tokenizer $S/tok512.bin --ctx 256 --max-windows 16 \
  | tee docs/results/stories260k_table.txt
