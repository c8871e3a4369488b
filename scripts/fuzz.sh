#!/usr/bin/env bash
# Fuzzes every target of tests/fuzz with libFuzzer for a fixed time each and
# prints the executions per target. A crash, leak, sanitizer report or hang
# fails the script; the input that did it is left in build-fuzz/artifacts/
# (commit it under tests/fuzz/regressions/<target>/ with the fix).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET [TARGET...]]    (default 20 s, all)
#
# Needs clang-14 and libclang-rt-14-dev (libFuzzer); scripts/test.sh installs
# them. New inputs found go to a scratch directory, not to the committed
# corpora.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(bstk llama2c gguf safetensors hf tokenizer tokenizer_file chat)

cmake -B build-fuzz -S . -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang-14 -DBS_FUZZ=ON >/dev/null
cmake --build build-fuzz -j2 --target fuzz_targets >/dev/null
mkdir -p build-fuzz/artifacts
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

printf '%-16s %12s %10s %8s %8s\n' target executions exec/s seeds new
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t"
  log="build-fuzz/artifacts/$t.log"
  set +e
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    build-fuzz/tests/fuzz/fuzz_$t -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$t-" \
      "$scratch/$t" "tests/fuzz/corpus/$t" "tests/fuzz/regressions/$t" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  seeds=$(find "tests/fuzz/corpus/$t" -type f | wc -l)
  new=$(find "$scratch/$t" -type f | wc -l) # inputs with new coverage found in this run
  printf '%-16s %12s %10s %8s %8s\n' "$t" "${execs:-?}" "${rate:-?}" "$seeds" "$new"
  if [ $rc -ne 0 ]; then
    echo "fuzz_$t failed (exit $rc); log: $log" >&2
    grep -E "ERROR|SUMMARY|Test unit written" "$log" | head -5 >&2
    failed=1
  fi
done
exit $failed
