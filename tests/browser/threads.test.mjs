// Threads in the browser: the demo asks for threads (?threads=N, default the
// cores the browser reports, at most 4). The page is cross-origin isolated
// (nginx sends COOP/COEP), so the runtime loads the threaded wasm build; the
// replies are the native CLI's text, on the main thread and in a Web Worker.
// A page served without those headers is not isolated: it falls back to the
// single-thread module, says why, and still prints the same text. The
// prompt is long enough (~90 tokens) that prefill splits linear maps over
// the threads.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { runNative } from '../../js/test/helpers.mjs';
import { ask, browserMissing, fixtures, openBrowser, ROOT, startNginx, waitState } from './helpers.mjs';

const skip = browserMissing();
const PROMPT = readFileSync(join(ROOT, 'models/stories260K/calib.txt'), 'utf8').slice(0, 400).replace(/\s+/g, ' ').trim();
const STEPS = 40;

describe('threads in chromium', { skip }, () => {
  let nginx, file, expected;
  before(async () => {
    file = fixtures().planes;
    nginx = await startNginx({ models: { s: file } });
    const r = await runNative(['run', file, '--budget', '6bpw', '--prompt', PROMPT, '--steps', String(STEPS),
      '--temperature', '0']);
    assert.equal(r.code, 0, r.stderr);
    expected = r.stdout.toString().replace(/\n$/, '');
  });
  after(async () => nginx?.stop());

  for (const [what, query] of [['on the main thread', ''], ['in a Web Worker', '&worker=1']]) {
    it(`2 threads ${what}: the threaded build, the native text`, async () => {
      const b = await openBrowser();
      try {
        const { page } = b;
        await page.goto(`${nginx.url}/demo/?model=/models/s.bstk&budget=6bpw&threads=2${query}`);
        await waitState(page, (s) => s.phase === 'complete');
        assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), true);
        assert.equal(await ask(page, PROMPT, { maxTokens: STEPS }), expected);
        const facts = await page.textContent('#facts');
        assert.match(facts, /threads \(simd128\), 2 threads, /);
        assert.match(facts, new RegExp(what));
        assert.deepEqual(b.errors, []);
      } finally {
        await b.close();
      }
    });
  }

  it('a page that is not cross-origin isolated falls back to one thread, says why, same text', async () => {
    const b = await openBrowser();
    try {
      const { page } = b;
      // the page's own response without COOP/COEP: no SharedArrayBuffer for it
      await page.route((url) => url.pathname === '/demo/', async (route) => {
        const res = await route.fetch();
        const headers = { ...res.headers() };
        delete headers['cross-origin-opener-policy'];
        delete headers['cross-origin-embedder-policy'];
        await route.fulfill({ response: res, headers });
      });
      await page.goto(`${nginx.url}/demo/?model=/models/s.bstk&budget=6bpw&threads=2&sw=0`);
      await waitState(page, (s) => s.phase === 'complete');
      assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), false);
      assert.equal(await ask(page, PROMPT, { maxTokens: STEPS }), expected);
      assert.match(await page.textContent('#facts'), /simd128 \(simd128\), 1 thread \(no SharedArrayBuffer here/);
      assert.deepEqual(b.errors, []);
    } finally {
      await b.close();
    }
  });
});
