#!/usr/bin/env bash
# The CLI tests' checks cannot be passed by a sanitizer report: in the
# ASan + UBSan build a report exits 1 by default, the CLI's usage-error
# code, so `expect_exit 1` alone would pass on a crash. lib.bash moves the
# sanitizers' exit codes out of 0-2 and fails any check whose stderr holds a
# report. Shown here with a report that exits 1 (a stand-in), and, in the
# sanitized build, with real ones (tests/cli/sanitizer_probe.c: a heap
# overflow, a signed overflow, a leak); in a plain build the probe exits 1
# cleanly and the check must pass.
# Usage: sanitizers.sh BITSTACK SHARED_DIR SANITIZER_PROBE
set -euo pipefail
source "$(dirname "$0")/lib.bash" "$@"
PROBE="$3"

# expect_caught CMD... : `expect_exit 1 CMD` must count a failure (which is then not one of this script's)
expect_caught() {
  local before=$FAILS
  expect_exit 1 "$@" 2>"$TMP/fail"
  if [ "$FAILS" -eq $((before + 1)) ]; then
    FAILS=$before
    echo "caught: $* ($(head -c 120 "$TMP/fail" | tr '\n' ' '))"
  else
    FAILS=$before
    fail "expect_exit 1 passed on a sanitizer report: $*"
  fi
}

# the exit codes of all three sanitizers are out of 0-2
for v in "ASAN_OPTIONS exitcode=86" "UBSAN_OPTIONS exitcode=87" "LSAN_OPTIONS exitcode=88"; do
  CHECKS=$((CHECKS + 1))
  name=${v% *} want=${v#* }
  [[ ":${!name}:" == *":$want:"* ]] || fail "$name lacks $want (${!name})"
done

# a report on stderr fails the check even with the expected exit code
expect_caught bash -c 'echo "==7==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x1" >&2; exit 1'
expect_caught bash -c 'echo "x.c:3:5: runtime error: signed integer overflow" >&2; exit 1'

if [ "$("$PROBE" sanitized)" = yes ]; then
  for what in heap ub leak; do
    expect_caught "$PROBE" "$what"
    CHECKS=$((CHECKS + 1))
    set +e
    "$PROBE" "$what" 2>/dev/null
    got=$?
    set -e
    [ "$got" -gt 2 ] || fail "probe $what exited $got: a sanitizer exit code inside 0-2"
  done
else
  echo "plain build: the probe exits 1 cleanly, and the check passes"
  expect_exit 1 "$PROBE" heap
fi
finish
