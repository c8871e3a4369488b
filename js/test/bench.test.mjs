// The baselines' bench export (core/src/bench.h through wasm/bs_wasm.c and
// js/src/baselines.js) and the Node CLI's `bench`: sane figures on the
// stories260K fixture, clean failures on bad arguments. No speed is
// asserted (benchmarks report speed, tests check behaviour).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { BASELINE_SIDES, Engine } from '../src/index.js';
import { fixtures, nativeMissing, runNode, wasmMissing } from './helpers.mjs';

const skip = nativeMissing() || wasmMissing();

/** Weights of every linear map (lm_head included) of a model's config. */
function linearWeights(i) {
  const kv = i.nKvHeads * i.headDim, q = i.nHeads * i.headDim;
  return i.nLayers * (i.dim * q * 2 + i.dim * kv * 2 + 3 * i.dim * i.hiddenDim) + i.vocabSize * i.dim;
}

describe('bench baselines', { skip }, () => {
  let files, engine;
  before(async () => {
    files = fixtures();
    engine = await Engine.open(files.planes, { budget: '4bpw' });
  });
  after(() => engine?.close());

  it('times every side: positive seconds, the copies\' sizes', () => {
    const r = engine.benchBaselines({ reps: 2 });
    assert.deepEqual(Object.keys(r.seconds), BASELINE_SIDES);
    for (const s of BASELINE_SIDES) assert.ok(r.seconds[s] > 0 && Number.isFinite(r.seconds[s]), `${s}: ${r.seconds[s]}`);
    assert.equal(r.weights, linearWeights(engine.info()));
    const b = r.weightBytes;
    assert.equal(b.f32, 4 * r.weights);
    assert.ok(b.q4 < b.q8 && b.q8 < b.f32 && b.bitstack > 0, JSON.stringify(b));
    // blocks of 32 with a binary16 scale: 34 and 18 bytes per 32 weights (rows padded to whole blocks)
    assert.ok(b.q8 >= (r.weights / 32) * 34 && b.q4 >= (r.weights / 32) * 18, JSON.stringify(b));
  });

  it('derives baseline decode speeds from the model\'s, between its decode steps', () => {
    const b = engine.baselines();
    try {
      engine.reset();
      engine.prefill([1, 5, 9]);
      let step = Infinity;
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        engine.prefill([20 + i]);
        step = Math.min(step, (performance.now() - t0) / 1000);
        b.time(1);
      }
      const tok = b.decodeTokS(1 / step);
      assert.deepEqual(Object.keys(tok), ['f32', 'q8', 'q4']);
      // each baseline step = its matvecs + the model's step outside its matvecs
      const other = Math.max(0, step - b.best.bitstack);
      for (const s of ['f32', 'q8', 'q4']) assert.ok(Math.abs(1 / tok[s] - (b.best[s] + other)) < 1e-12, s);
    } finally {
      b.close();
    }
  });

  it('fails cleanly on bad arguments and after close', () => {
    assert.throws(() => engine.benchBaselines({ reps: 0 }), { code: 'BS_ERR_INVALID_ARG' });
    assert.throws(() => engine.benchBaselines({ reps: 1.5 }), { code: 'BS_ERR_INVALID_ARG' });
    const b = engine.baselines();
    assert.throws(() => b.pass('q5'), { code: 'BS_ERR_INVALID_ARG' });
    assert.throws(() => b.decodeTokS(100), { code: 'BS_ERR_STATE' }); // no pass timed yet
    const { rt } = engine;
    assert.equal(rt.x.bs_wasm_bench_pass(b.ptr, 4), 1); // BS_ERR_INVALID_ARG: no side 4
    assert.equal(rt.x.bs_wasm_bench_pass(b.ptr, -1), 1);
    assert.equal(rt.x.bs_wasm_bench_pass(0, 0), 1);
    assert.match(rt.cstring(rt.x.bs_wasm_last_error()), /side/);
    rt.withScratch(8, (out) => assert.equal(rt.x.bs_wasm_bench_create(0, out), 1));
    b.close();
    b.close(); // idempotent
    assert.throws(() => b.pass('f32'), { code: 'BS_ERR_STATE' });
  });

  it('runs on the session\'s threads in the threaded build', async () => {
    const e = await Engine.open(files.planes, { budget: '4bpw', threads: 2 });
    try {
      assert.equal(e.info().threads, 2);
      const r = e.benchBaselines({ reps: 1 });
      for (const s of BASELINE_SIDES) assert.ok(r.seconds[s] > 0, s);
      assert.equal(r.weights, linearWeights(e.info()));
    } finally {
      await e.close();
    }
  });

  it('the engine\'s close() frees baselines left open', async () => {
    const e = await Engine.open(files.planes, { budget: '4bpw' });
    const b = e.baselines();
    await e.close();
    assert.equal(b.ptr, 0);
    assert.throws(() => e.baselines(), { code: 'BS_ERR_STATE' });
  });
});

describe('node CLI bench', { skip }, () => {
  it('prints the native bench\'s keys, the baselines included', async () => {
    const r = await runNode(['bench', fixtures().planes, '--budget', '4bpw', '--json', '--gen-tokens', '8', '--reps', '2']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout.toString());
    for (const k of ['prefill_tok_s', 'decode_tok_s']) assert.ok(j[k] > 0, k);
    assert.equal(j.threads, 1);
    for (const s of ['f32', 'q8', 'q4']) {
      assert.ok(j.baseline_decode_tok_s[s] > 0, s);
      assert.ok(j.baseline_weight_bytes[s] > 0, s);
    }
    assert.deepEqual(Object.keys(j.matvec_tok_s), BASELINE_SIDES);
  });

  it('--no-baselines leaves them out; bad options exit 1', async () => {
    const r = await runNode(['bench', fixtures().planes, '--json', '--no-baselines', '--gen-tokens', '4']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout.toString()).baseline_decode_tok_s, undefined);
    for (const bad of [['--reps', '0'], ['--gen-tokens', 'x'], ['--bogus']]) {
      const u = await runNode(['bench', fixtures().planes, ...bad]);
      assert.equal(u.code, 1, bad.join(' '));
    }
  });
});
