// The engine: budgets, live grow and shrink (each size prints what the
// native CLI prints at that budget), progressive loading, defaults, aborts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { Engine, parseHead } from '../src/index.js';
import { fixtures, nativeMissing, runNative, startServer, wasmMissing } from './helpers.mjs';

const skip = nativeMissing() || wasmMissing();

async function text(engine, n = 40) {
  const parts = [];
  for await (const t of engine.generate('', { maxTokens: n, temperature: 0 })) parts.push(Buffer.from(t.bytes));
  return Buffer.concat(parts).toString();
}

async function nativeText(file, budget, n = 40) {
  const r = await runNative(['run', file, '--budget', budget, '--steps', String(n), '--temperature', '0']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.toString().replace(/\n$/, '');
}

describe('Engine', { skip }, () => {
  let files;
  before(() => {
    files = fixtures();
  });

  it('grows and shrinks the live model; each size matches the native run', async () => {
    const engine = await Engine.open(files.avd, { budget: '3bpw' });
    try {
      assert.equal(await text(engine), await nativeText(files.avd, '3bpw'));
      for (const budget of ['6bpw', '2.5bpw', '4bpw']) {
        await engine.resize(budget);
        engine.reset();
        assert.equal(await text(engine), await nativeText(files.avd, budget), budget);
      }
      await engine.resize({ blocks: 0 });
      assert.equal(engine.stack().nLoaded, 0);
      await assert.rejects(engine.resize('1KB'), { code: 'BS_ERR_RANGE' });
    } finally {
      await engine.close();
    }
  });

  it('loads everything by default in Node when memory allows, and reports facts', async () => {
    const engine = await Engine.open(files.planes);
    try {
      const head = parseHead(new Uint8Array(readFileSync(files.planes)));
      const s = engine.stack();
      assert.equal(s.nLoaded, head.nBlocks);
      assert.equal(s.loadedBytes, head.fullBytes);
      const info = engine.info();
      assert.equal(info.vocabSize, 512);
      assert.equal(info.bosToken, '<s>');
      assert.equal(info.tokenizerKind, 'spm');
      assert.ok(['simd128', 'scalar'].includes(info.kernels));
      assert.deepEqual(Array.from(engine.tokenize('Once upon')), Array.from(engine.tokenize('Once upon', { bos: true })));
      assert.equal(engine.tokenize('Once', { bos: true })[0], info.bosId);
    } finally {
      await engine.close();
    }
  });

  it('progressive: generates before the download ends, then reaches the budget', async () => {
    const bytes = readFileSync(files.avd);
    let delay = true;
    const s = await startServer((req, res) => {
      const [, a, b] = /bytes=(\d+)-(\d+)/.exec(req.headers.range);
      const start = +a, end = Math.min(+b + 1, bytes.length);
      res.writeHead(206, { 'Content-Length': end - start, 'Content-Range': `bytes ${start}-${end - 1}/${bytes.length}` });
      const send = () => res.end(bytes.subarray(start, end));
      if (start > 150000 && delay) setTimeout(send, 300); // blocks past the first few arrive late
      else send();
    });
    try {
      const progress = [];
      const engine = await Engine.open(`${s.url}/m.bstk`, {
        budget: '6bpw', progressive: true, loader: { maxRequestBytes: 20000 }, onProgress: (p) => progress.push(p),
      });
      const early = engine.stack().nLoaded;
      assert.ok(early < engine.targetBlocks, `${early} of ${engine.targetBlocks} before the end`);
      assert.ok((await text(engine, 5)).length > 0, 'generation works meanwhile');
      await engine.ready;
      delay = false;
      assert.equal(engine.stack().nLoaded, engine.targetBlocks);
      assert.equal(progress.at(-1).blocks, engine.targetBlocks);
      engine.reset();
      assert.equal(await text(engine), await nativeText(files.avd, '6bpw'));
      await engine.close();
    } finally {
      await s.close();
    }
  });

  it('an aborted open rejects with an AbortError', async () => {
    await assert.rejects(Engine.open(files.avd, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  });

  it('a budget below the resident section is BS_ERR_RANGE', async () => {
    await assert.rejects(Engine.open(files.avd, { budget: 1000 }), { code: 'BS_ERR_RANGE' });
    await assert.rejects(Engine.open(files.avd, { budget: 'much' }), { code: 'BS_ERR_INVALID_ARG' });
  });
});
