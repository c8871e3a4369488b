#!/usr/bin/env bash
# check_module.sh MODULE.wasm SIMD(ON|OFF) - what JS relies on in the reactor
# module: no imports (WebAssembly.instantiate(bytes, {})), the API and
# malloc/free/memory exported, and in the SIMD build v128 instructions
# inside the kernels (and none in the scalar build). Needs wabt's
# wasm-objdump; exits 77 (ctest: skipped) without it.
set -euo pipefail
wasm="$1" simd="$2"
command -v wasm-objdump >/dev/null || { echo "skip: wasm-objdump not found (apt-get install wabt)"; exit 77; }
fail() { echo "check_module: $*" >&2; exit 1; }

details=$(wasm-objdump -x "$wasm")
if grep -q '^Import\[' <<<"$details"; then
  grep -A20 '^Import\[' <<<"$details" >&2
  fail "the module imports something"
fi
for name in bs_wasm_abi bs_wasm_open bs_wasm_attach_block bs_wasm_session_eval bs_wasm_sampler_sample \
            bs_wasm_tokenize bs_wasm_detokenize bs_wasm_bench_pass malloc free memory _initialize; do
  grep -qF -- "-> \"$name\"" <<<"$details" || fail "export $name missing"
done

# v128 instructions per function, from the disassembly
counts=$(wasm-objdump -d "$wasm" | awk '
  /^[0-9a-f]+ func\[/ { fn = $0; sub(/.*</, "", fn); sub(/>.*/, "", fn); next }
  / (v128|[if](8x16|16x8|32x4|64x2))\./ { n[fn]++ }
  END { for (f in n) print n[f], f }')
total=$(awk '{ s += $1 } END { print s + 0 }' <<<"$counts")
if [ "$simd" = ON ]; then
  if wasm-objdump -d "$wasm" | grep -q 'func\[[0-9]*\] <dot_f32>'; then
    for fn in dot_f32 matmul_f32 matmul_by_rows matmul_avd; do  # the table entries
      grep -q " $fn\$" <<<"$counts" || fail "no v128 instructions in $fn"
    done
  else # no name section: clang ran binaryen's wasm-opt after the link, which drops it
    [ "$total" -gt 1000 ] || fail "only $total v128 instructions (and no function names to say where)"
    echo "note: no function names in the module (wasm-opt dropped them): v128 counted over all functions"
  fi
  echo "ok: no imports; v128 instructions in $(wc -l <<<"$counts") functions ($total in all):"
  sort -rn <<<"$counts" | head -12
else
  [ "$total" -eq 0 ] || fail "the scalar module holds $total v128 instructions"
  echo "ok: no imports; no v128 instructions"
fi
