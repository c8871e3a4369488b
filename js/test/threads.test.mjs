// The threaded wasm build (Emscripten -pthread, wasm/threads.cmake) prints
// exactly what the single-thread modules and the native CLI print, at every
// thread count; the runtime falls back to the single-thread module where
// memory cannot be shared, and says why. The prompts are long enough that
// prefill batches cross the session's work threshold, so linear maps are
// split over the threads (test_threads in the threaded ctest splits every
// job of decode steps too, with memcmp on every logit).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { Engine, Runtime } from '../src/index.js';
import { fixtures, nativeMissing, ROOT, runNative, runNode, wasmMissing } from './helpers.mjs';

const skip = nativeMissing() || wasmMissing();
const BUDGETS = ['2.5bpw', '4bpw', '8.5bpw'];
// ~200 tokens of the calibration text: prefill runs batches of 64
const PROMPT = readFileSync(join(ROOT, 'models/stories260K/calib.txt'), 'utf8').slice(0, 400);

describe('threaded wasm prints what the single-thread modules and the native CLI print', { skip }, () => {
  const files = skip ? {} : fixtures();
  for (const kind of ['planes', 'avd']) {
    it(`${kind} file, 1 to 3 threads (and the threaded build on 1), budgets ${BUDGETS.join(' ')}`, async () => {
      for (const budget of BUDGETS) {
        const args = ['run', files[kind], '--budget', budget, '--steps', '60', '--temperature', '0', '--prompt', PROMPT];
        const [nat, one, oneT, two, three] = await Promise.all([runNative([...args, '--threads', '2']),
          runNode([...args, '--wasm', 'simd128']), runNode([...args, '--wasm', 'threads']),
          runNode([...args, '--threads', '2']), runNode([...args, '--threads', '3'])]);
        for (const r of [nat, one, oneT, two, three]) assert.equal(r.code, 0, r.stderr);
        assert.ok(nat.stdout.length > 50, 'some text');
        assert.match(one.stderr, /wasm simd128, 1 thread\n/);
        assert.match(oneT.stderr, /wasm threads, 1 thread\n/);
        assert.match(two.stderr, /wasm threads, 2 threads\n/);
        assert.match(three.stderr, /wasm threads, 3 threads\n/);
        for (const r of [one, oneT, two, three]) assert.equal(r.stdout.toString(), nat.stdout.toString(), `${kind} ${budget}`);
      }
    });
  }

  it('samples the same tokens with temperature and a seed, in process', async () => {
    const texts = [];
    for (const threads of [1, 2, 4]) {
      const engine = await Engine.open(files.planes, { budget: '5bpw', threads });
      try {
        assert.equal(engine.info().threads, threads);
        assert.equal(engine.info().flavor, threads === 1 ? 'simd128' : 'threads');
        assert.equal(engine.info().kernels, 'simd128');
        let text = '';
        for await (const t of engine.generate(PROMPT, { maxTokens: 80, temperature: 0.9, topP: 0.9, seed: 7 })) text += t.text;
        // a second generation after a reset: the workers survive between calls
        engine.reset();
        for await (const t of engine.generate('Lily and Tom', { maxTokens: 40, temperature: 1, seed: 3 })) text += t.text;
        texts.push(text);
      } finally {
        await engine.close();
      }
    }
    assert.ok(texts[0].length > 100);
    assert.equal(texts[1], texts[0]);
    assert.equal(texts[2], texts[0]);
  });
});

describe('runtime: which module for how many threads', { skip }, () => {
  it('loads the threaded build for threads > 1 and the reactor for 1', async () => {
    const one = await Runtime.load({ threads: 1 });
    assert.equal(one.flavor, 'simd128');
    assert.equal(one.threads, 1);
    const two = await Runtime.load({ threads: 2 });
    try {
      assert.equal(two.flavor, 'threads');
      assert.equal(two.threads, 2);
      assert.equal(two.kernels, 'simd128');
      assert.ok(two.x.memory.buffer instanceof SharedArrayBuffer);
      assert.equal(two.threadsUnavailable, '');
    } finally {
      two.close();
    }
  });

  it('falls back to the single-thread module without SharedArrayBuffer, and says why', async () => {
    const saved = globalThis.SharedArrayBuffer;
    delete globalThis.SharedArrayBuffer; // as in a page that is not cross-origin isolated
    let rt;
    try {
      rt = await Runtime.load({ threads: 2 });
    } finally {
      globalThis.SharedArrayBuffer = saved;
    }
    assert.equal(rt.flavor, 'simd128');
    assert.equal(rt.threads, 1);
    assert.match(rt.threadsUnavailable, /SharedArrayBuffer/);
    const engine = await Engine.open(fixtures().planes, { runtime: rt, threads: 2 });
    assert.equal(engine.info().threads, 1);
    assert.match(engine.info().threadsUnavailable, /cross-origin isolated/);
    await engine.close();
  });

  it('rejects thread counts outside [1, 16]', async () => {
    for (const threads of [0, 17, 1.5, -1]) {
      await assert.rejects(Runtime.load({ threads }), { code: 'BS_ERR_INVALID_ARG' }, String(threads));
    }
  });

  it('the node CLI rejects --threads outside [1, 16] (exit 1)', async () => {
    for (const n of ['0', '17', 'two']) {
      const r = await runNode(['run', fixtures().planes, '--threads', n]);
      assert.equal(r.code, 1, n);
      assert.match(r.stderr, /--threads/);
    }
  });
});
