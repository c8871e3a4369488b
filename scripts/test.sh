#!/usr/bin/env bash
# Builds everything and runs every test: the C tests (normal build, then
# under AddressSanitizer + UndefinedBehaviorSanitizer) and the CLI tests.
# Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh gcc g++ cmake ninja-build libcjson-dev pkg-config ca-certificates

jobs=2
cmake -B build -S . -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

# Sanitizers: every C test again under ASan + UBSan (leaks included).
cmake -B build-asan -S . -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBS_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
   ctest --output-on-failure -j"$jobs")
