#!/usr/bin/env bash
# Builds everything and runs every test: the C tests (normal build, then
# under AddressSanitizer + UndefinedBehaviorSanitizer) and the CLI tests, the
# fuzz corpora replayed (ctest -L fuzz) and each fuzz target fuzzed briefly;
# then the WebAssembly builds (SIMD128 and scalar: their C tests under
# node:wasi; the threaded Emscripten build: its thread and kernel tests
# under Node), the JavaScript package's tests (node --test js/test/) and the
# chat demo's end-to-end tests in Debian's chromium (node --test tests/browser/).
# Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh gcc g++ cmake ninja-build libcjson-dev pkg-config ca-certificates \
  clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 libclang-rt-14-dev wabt nginx chromium emscripten
# Node 20 with npm: kept when present (it may come from elsewhere than Debian)
command -v node >/dev/null && command -v npm >/dev/null || scripts/setup.sh nodejs npm
export NODE_PATH=/usr/share/nodejs # Debian's emcc needs it (../shared/TOOLCHAIN.md)

jobs=2
cmake -B build -S . -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
# The JavaScript package first (its build makes both wasm modules into js/dist/): the CLI tests also
# run the Node CLI on damaged inputs (tests/cli/fuzz_inputs.sh), and must not skip it here.
if [ -f js/package-lock.json ]; then npm --prefix js ci --no-audit --no-fund >/dev/null; else npm --prefix js install --no-audit --no-fund >/dev/null; fi
npm --prefix js run build >/dev/null
(cd build && BITSTACK_REQUIRE_NODE_CLI=1 ctest --output-on-failure -j"$jobs")

# Sanitizers: every C test again under ASan + UBSan (leaks included), the
# fuzz corpora replays (ctest -L fuzz) and the CLI tests with them.
cmake -B build-asan -S . -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBS_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
   ctest --output-on-failure -j"$jobs")

# Fuzzing: every fuzz target under libFuzzer (clang, ASan + UBSan) for a
# fixed 20 s each; prints the executions per target (docs/RELIABILITY.md).
scripts/fuzz.sh 20

# WebAssembly: both modules, their C tests under node:wasi, the module check.
for flavor in simd scalar; do
  simd=ON; [ $flavor = scalar ] && simd=OFF
  cmake -S wasm -B build-wasm-$flavor -G Ninja -DCMAKE_BUILD_TYPE=Release -DBS_SIMD=$simd >/dev/null
  cmake --build build-wasm-$flavor -j"$jobs"
  (cd build-wasm-$flavor && ctest --output-on-failure -j"$jobs")
done

# The threaded module (Emscripten -pthread, wasm/threads.cmake): whole
# forward passes on 1 to 4 threads, every logit compared (test_threads),
# and the kernel variants (test_kernels_wasm), as Node programs.
cmake -S wasm -B build-wasm-threads -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE=/usr/share/emscripten/cmake/Modules/Platform/Emscripten.cmake >/dev/null
cmake --build build-wasm-threads -j"$jobs"
(cd build-wasm-threads && ctest --output-on-failure -j"$jobs")

# JavaScript: the package's tests (built above), acceptance included (they
# use build/bitstack and nginx).
node --test js/test/

# The browser: the demo in chromium (playwright-core) against nginx. Required
# here: a missing browser fails instead of skipping.
npm --prefix tests/browser ci --no-audit --no-fund >/dev/null
BITSTACK_REQUIRE_BROWSER=1 node --test tests/browser/
