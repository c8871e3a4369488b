// The wasm modules as JS sees them: no imports (instantiate(bytes, {})),
// the API exported, SIMD128 detected, and v128 instructions in the SIMD
// module's kernels (wasm-objdump -d, when wabt is installed).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { Runtime, simdSupported } from '../src/index.js';
import { JS, wasmMissing } from './helpers.mjs';

const skip = wasmMissing();
const path = (f) => join(JS, 'dist', `bitstack-${f}.wasm`);

describe('wasm modules', { skip }, () => {
  for (const flavor of ['simd128', 'scalar']) {
    it(`${flavor}: no imports, the API exported, the right kernels`, async () => {
      const mod = new WebAssembly.Module(readFileSync(path(flavor)));
      assert.deepEqual(WebAssembly.Module.imports(mod), []);
      const names = WebAssembly.Module.exports(mod).map((e) => e.name);
      for (const n of ['memory', 'malloc', 'free', '_initialize', 'bs_wasm_abi', 'bs_wasm_open', 'bs_wasm_attach_block',
        'bs_wasm_set_blocks', 'bs_wasm_session_eval', 'bs_wasm_sampler_sample', 'bs_wasm_tokenize', 'bs_wasm_detokenize',
        'bs_wasm_bench_create', 'bs_wasm_bench_pass', 'bs_wasm_bench_info', 'bs_wasm_bench_free']) {
        assert.ok(names.includes(n), n);
      }
      const rt = await Runtime.load({ flavor });
      assert.equal(rt.kernels, flavor);
    });
  }

  it('detects SIMD128 (Node 20 has it)', () => {
    assert.equal(simdSupported(), true);
  });

  const objdump = spawnSync('wasm-objdump', ['--version']).status === 0;
  it('the SIMD module runs v128 instructions in its kernels; the scalar one none', { skip: !objdump && 'wasm-objdump (wabt) not installed' }, () => {
    const count = (flavor) => {
      const out = spawnSync('wasm-objdump', ['-d', path(flavor)], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout;
      const perFn = {};
      let fn = '';
      for (const line of out.split('\n')) {
        const m = /func\[(\d+)\](?: <([^>]+)>)?:/.exec(line);
        if (m) fn = m[2] ?? `func[${m[1]}]`;
        else if (/ (v128|[if](8x16|16x8|32x4|64x2))\./.test(line)) perFn[fn] = (perFn[fn] ?? 0) + 1;
      }
      return perFn;
    };
    const simd = count('simd128');
    if (!Object.keys(simd).some((f) => f.startsWith('func['))) {
      for (const fn of ['dot_f32', 'matmul_f32', 'matmul_by_rows', 'matmul_avd']) assert.ok(simd[fn] > 0, fn);
    } else { // no name section (binaryen's wasm-opt ran after the link and dropped it): the whole module
      assert.ok(Object.values(simd).reduce((a, b) => a + b, 0) > 1000, 'v128 instructions');
    }
    assert.deepEqual(count('scalar'), {});
  });
});
