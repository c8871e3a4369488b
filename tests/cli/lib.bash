# lib.bash - helpers for the CLI tests (sourced; not a test itself).
# Usage in a test: source "$(dirname "$0")/lib.bash" "$@"
BS="$1"
SHARED="$2"
S260="$SHARED/models/stories260K"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILS=0
CHECKS=0
# In the ASan + UBSan build a sanitizer report ends the process with exit 1 by default, which is the
# CLI's usage-error code: `expect_exit 1` would pass on a crash. Move the sanitizers' codes out of 0-2,
# and (below) count any report on stderr as a failure whatever the exit code.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=87"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}exitcode=88"
SANITIZER_REPORT='ERROR: [A-Za-z]*Sanitizer|runtime error:|WARNING: [A-Za-z]*Sanitizer'

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

# expect_exit CODE CMD... : runs CMD, checks its exit code and that no sanitizer reported, keeps stdout/stderr
expect_exit() {
  local want=$1; shift
  CHECKS=$((CHECKS + 1))
  set +e
  "$@" >"$TMP/out" 2>"$TMP/err"
  local got=$?
  set -e
  if [ "$got" != "$want" ]; then
    fail "exit $got (want $want): $*"
    sed 's/^/  stderr: /' "$TMP/err" | head -5 >&2
  elif grep -qE -e "$SANITIZER_REPORT" "$TMP/err"; then
    fail "sanitizer report (exit $got): $*"
    grep -E -A4 -e "$SANITIZER_REPORT" "$TMP/err" | head -5 | sed 's/^/  stderr: /' >&2
  fi
}

# expect_stderr REGEX : the last command's stderr matches
expect_stderr() {
  CHECKS=$((CHECKS + 1))
  grep -qE -e "$1" "$TMP/err" || fail "stderr lacks /$1/: $(head -c 300 "$TMP/err")"
}

expect_stdout_eq() {
  CHECKS=$((CHECKS + 1))
  [ "$(cat "$TMP/out")" == "$1" ] || fail "stdout differs: got [$(head -c 300 "$TMP/out")] want [$1]"
}

finish() {
  echo "$((CHECKS - FAILS)) passed, $FAILS failed"
  [ "$FAILS" -eq 0 ]
}
