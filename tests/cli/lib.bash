# lib.bash - helpers for the CLI tests (sourced; not a test itself).
# Usage in a test: source "$(dirname "$0")/lib.bash" "$@"
BS="$1"
SHARED="$2"
S260="$SHARED/models/stories260K"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILS=0
CHECKS=0

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

# expect_exit CODE CMD... : runs CMD, checks its exit code, keeps stdout/stderr
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
