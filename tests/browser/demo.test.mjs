// ACCEPTANCE in a browser: the chat demo in Debian's chromium (playwright-
// core) against nginx on 127.0.0.1 (demo/serve.mjs, Range requests).
//
// - cold start: the model is served under /slow/ (nginx limit_rate 100k per
//   request) and the demo asks for 4 KiB requests (?chunk=4096), so the
//   ~295 kB file takes ~3 s to arrive; the first token must appear while the
//   page has received fewer bytes than the file holds.
// - reload and browser restart: all units come from IndexedDB; the only
//   request to the model is the head's; the same prompt and seed give the
//   same text, greedy and sampled (temperature 0.8, seed 7), which is the
//   native CLI's text for that budget and those settings.
// - faults, injected with page.route: a response cut mid-block resumes at the
//   first block it did not complete; a block with a flipped byte is fetched
//   again; the stored records equal the file's bytes.
// - the budget slider shrinks and grows the live model, mid-generation too.
// - the engine in a Web Worker (?worker=1) prints the same text, caches the
//   same way and resizes the same way.
// - the page is cross-origin isolated (crossOriginIsolated, the COOP/COEP
//   headers of demo/serve.mjs), so threaded wasm builds get SharedArrayBuffer.
// - IndexedDB records stay under a record limit (?record=16384 here, 32 MiB
//   by default): the resident section is kept in pieces and read back.
// - a screenshot of the demo after a reply: docs/results/demo.png.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { blockEntry, parseHead } from '../../js/src/format.js';
import { runNative } from '../../js/test/helpers.mjs';
import { ask, assertStoredMatchesFile, browserMissing, fixtures, getState, openBrowser, ROOT, startNginx, storedUnits, waitState }
  from './helpers.mjs';

const skip = browserMissing();
const PROMPT = 'Once upon a time';
const STEPS = 40;

/** The native CLI's continuation at a budget (bytes), greedy or sampled (run's default top-p 0.9, as the demo's). */
async function native(file, budget, { temperature = 0, seed = 42 } = {}) {
  const r = await runNative(['run', file, '--budget', String(budget), '--prompt', PROMPT, '--steps', String(STEPS),
    '--temperature', String(temperature), '--seed', String(seed)]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.toString().replace(/\n$/, '');
}

const setBudget = (page, mb) => page.$eval('#budget', (el, v) => {
  el.value = v;
  el.dispatchEvent(new Event('change'));
}, String(mb));

describe('chat demo in chromium', { skip }, () => {
  let nginx, file, bytes, head;
  before(async () => {
    file = fixtures().planes;
    bytes = readFileSync(file);
    head = parseHead(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
    nginx = await startNginx({ models: { s: file }, rate: '100k' });
  });
  after(async () => nginx?.stop());

  it('cold start: the first token comes before the file is in; reload and restart fetch no block', async () => {
    const b = await openBrowser();
    try {
      const { page } = b;
      const url = `${nginx.url}/demo/?model=/slow/s.bstk&chunk=4096`;
      await page.goto(url);
      await waitState(page, (s) => s.phase === 'ready' || s.phase === 'complete');
      const reply = await ask(page, PROMPT, { maxTokens: 20 });
      assert.ok(reply.length > 0);
      let st = await getState(page);
      assert.equal(st.fileSize, bytes.length);
      console.log(`# cold start: first token after ${st.firstToken.netBytes} of ${bytes.length} bytes, ` +
        `${st.firstToken.blocksLoaded} of ${st.blocks.total} blocks, ${st.firstToken.ms.toFixed(0)} ms`);
      assert.ok(st.firstToken.netBytes < bytes.length, `${st.firstToken.netBytes} bytes before the first token`);
      assert.ok(st.firstToken.blocksLoaded < st.blocks.total);
      await waitState(page, (s) => s.phase === 'complete', undefined, 30000);
      st = await getState(page);
      assert.equal(st.blocks.loaded, head.nBlocks);
      assert.equal(st.blocks.fromCache, 0);
      // with every block in, the page prints what the native CLI prints for the whole file
      const full = await ask(page, PROMPT, { maxTokens: STEPS });
      assert.equal(full, await native(file, head.fullBytes));
      // sampled: the same seed gives the same text, here and after the reloads below
      const SAMPLED = { maxTokens: STEPS, temperature: 0.8, seed: 7 };
      const sampled = await ask(page, PROMPT, SAMPLED);
      assert.notEqual(sampled, full);
      assert.equal(sampled, await native(file, head.fullBytes, SAMPLED));
      mkdirSync(join(ROOT, 'docs', 'results'), { recursive: true });
      await page.screenshot({ path: join(ROOT, 'docs', 'results', 'demo.png') });
      assertStoredMatchesFile(await storedUnits(page), bytes, head);

      // reload: everything from IndexedDB, one request for the head
      for (const how of ['reload', 'restart']) {
        const n0 = nginx.log().length;
        const p = how === 'reload' ? page : await b.restart();
        if (how === 'reload') await page.reload();
        else await p.goto(url);
        await waitState(p, (s) => s.phase === 'complete');
        st = await getState(p);
        const requests = nginx.log().slice(n0).filter((l) => l.includes('.bstk'));
        console.log(`# ${how}: ${st.blocks.fromCache} units from IndexedDB, ${st.blocks.fromNet} from the network, ` +
          `${st.net.bytes} bytes received (${requests.join('; ')})`);
        assert.equal(st.blocks.fromNet, 0);
        assert.equal(st.blocks.fromCache, head.nBlocks + 1);
        assert.deepEqual(requests, ['GET /slow/s.bstk "bytes=0-65535" 206 65536']);
        assert.equal(await ask(p, PROMPT, { maxTokens: STEPS }), full);
        assert.equal(await ask(p, PROMPT, SAMPLED), sampled);
      }
      assert.deepEqual(b.errors, []);
    } finally {
      await b.close();
    }
  });

  it('the page is cross-origin isolated (COOP/COEP from demo/serve.mjs), and so are the workers it starts', async () => {
    const b = await openBrowser();
    try {
      const { page } = b;
      const res = await page.goto(`${nginx.url}/demo/?model=/models/s.bstk&worker=1&sw=0`);
      assert.equal(res.headers()['cross-origin-opener-policy'], 'same-origin');
      assert.equal(res.headers()['cross-origin-embedder-policy'], 'require-corp');
      await waitState(page, (s) => s.phase === 'complete');
      // every module, the wasm and the worker script passed COEP (each carries CORP): the page and its worker are isolated
      const isolated = await page.evaluate(() => new Promise((resolve) => {
        const w = new Worker(URL.createObjectURL(new Blob(['postMessage(self.crossOriginIsolated)'], { type: 'text/javascript' })));
        w.onmessage = (e) => resolve({ page: self.crossOriginIsolated, worker: e.data, sab: typeof SharedArrayBuffer === 'function' });
      }));
      assert.deepEqual(isolated, { page: true, worker: true, sab: true });
      assert.deepEqual(b.errors, []);
    } finally {
      await b.close();
    }
  });

  it('IndexedDB records stay within the record limit: the resident section in pieces, read back, a damaged piece refetched', async () => {
    const b = await openBrowser();
    const LIMIT = 16384; // stories260K's resident section is ~52 kB: four pieces
    try {
      const { page } = b;
      const url = `${nginx.url}/demo/?model=/models/s.bstk&record=${LIMIT}&chunk=16384&sw=0`;
      await page.goto(url);
      await waitState(page, (s) => s.phase === 'complete');
      const rawRecords = () => page.evaluate(() => Promise.all(['units', 'pieces'].map((name) => new Promise((resolve, reject) => {
        const r = window.demo.store.db.transaction(name).objectStore(name).getAll();
        r.onsuccess = () => resolve(r.result.map((x) => ({ unit: x.unit, part: x.part, bytes: x.data?.byteLength ?? null, parts: x.parts })));
        r.onerror = () => reject(r.error);
      }))));
      const [units, pieces] = await rawRecords();
      const resident = head.residentEnd - head.header.dataOffset;
      console.log(`# record limit ${LIMIT}: ${units.length} unit records, resident section (${resident} bytes) in ` +
        `${pieces.filter((p) => p.unit === -1).map((p) => p.bytes).join(' + ')} bytes`);
      assert.equal(units.length, head.nBlocks + 1);
      assert.deepEqual(pieces.filter((p) => p.unit === -1).map((p) => p.part), [0, 1, 2, 3]);
      assert.equal(units.find((u) => u.unit === -1).parts, 4);
      assert.equal(units.find((u) => u.unit === -1).bytes, null); // the list of pieces holds no data
      assert.ok([...units, ...pieces].every((r) => r.bytes === null || r.bytes <= LIMIT));
      assert.equal(pieces.reduce((n, p) => n + p.bytes, 0), resident);
      assertStoredMatchesFile(await storedUnits(page), bytes, head);
      const full = await native(file, head.fullBytes);
      assert.equal(await ask(page, PROMPT, { maxTokens: STEPS }), full);

      // a flipped byte in one piece: the resident section reads as missing and comes from the network again
      await page.evaluate(() => new Promise((resolve, reject) => {
        const { engine, store } = window.demo;
        const tx = store.db.transaction('pieces', 'readwrite');
        const os = tx.objectStore('pieces');
        const r = os.get([engine.loader.storeKey, -1, 2]);
        r.onsuccess = () => {
          new Uint8Array(r.result.data)[100] ^= 1;
          os.put(r.result);
        };
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
      }));
      for (const [fromNet, badRecords] of [[1, 1], [0, 0]]) {
        await page.reload();
        await waitState(page, (s) => s.phase === 'complete');
        const st = await getState(page);
        const bad = await page.evaluate(() => window.demo.store.stats.bad);
        console.log(`# reload: ${st.blocks.fromCache} units from IndexedDB, ${st.blocks.fromNet} from the network, ${bad} damaged`);
        assert.equal(st.blocks.fromNet, fromNet);
        assert.equal(st.blocks.fromCache, head.nBlocks + 1 - fromNet);
        assert.equal(bad, badRecords);
        assert.equal(await ask(page, PROMPT, { maxTokens: STEPS }), full);
      }
      assertStoredMatchesFile(await storedUnits(page), bytes, head);
      assert.deepEqual(b.errors, []);
    } finally {
      await b.close();
    }
  });

  /** Loads the fast model with one faulty response (fault(body, start) returns the bytes to send). */
  async function loadWithFault(fault) {
    const b = await openBrowser();
    const ranges = [];
    let faulted = null;
    await b.page.route('**/models/s.bstk', async (route) => {
      const range = route.request().headers().range;
      const start = Number(/bytes=(\d+)-/.exec(range)[1]);
      ranges.push(start);
      const res = await route.fetch();
      let body = await res.body();
      if (!faulted && start >= head.residentEnd) {
        faulted = { start, ...fault(body, start) };
        body = faulted.body;
      }
      await route.fulfill({ status: res.status(), headers: res.headers(), body });
    });
    await b.page.goto(`${nginx.url}/demo/?model=/models/s.bstk&chunk=16384`);
    await waitState(b.page, (s) => s.phase === 'complete');
    return { b, ranges, faulted };
  }

  /** The first block whose bytes are not all in [0, pos). */
  const blockAt = (pos) => {
    for (let i = 0; i < head.nBlocks; i++) {
      const e = blockEntry(head, i);
      if (e.offset + e.size > pos) return e;
    }
    return null;
  };

  it('an interrupted download resumes at the last verified block', async () => {
    const { b, ranges, faulted } = await loadWithFault((body, start) => {
      const cut = Math.floor(body.length / 2); // mid-request, mid-block (blocks are ~1 kB)
      return { body: body.subarray(0, cut), cut: start + cut };
    });
    try {
      assert.ok(faulted, 'no block request was cut');
      const resume = blockAt(faulted.cut);
      assert.ok(resume.offset < faulted.cut && faulted.cut < resume.offset + resume.size, 'the cut falls inside a block');
      const next = ranges[ranges.indexOf(faulted.start) + 1];
      console.log(`# cut at byte ${faulted.cut}: next request starts at ${next} (block at ${resume.offset})`);
      assert.equal(next, resume.offset);
      assertStoredMatchesFile(await storedUnits(b.page), bytes, head);
      assert.equal(await ask(b.page, PROMPT, { maxTokens: STEPS }), await native(file, head.fullBytes));
    } finally {
      await b.close();
    }
  });

  it('a corrupted block is detected, fetched again and never stored', async () => {
    const { b, ranges, faulted } = await loadWithFault((body, start) => {
      const at = Math.floor(body.length / 3);
      const bad = Buffer.from(body);
      bad[at] ^= 0x40;
      return { body: bad, at: start + at };
    });
    try {
      assert.ok(faulted, 'no block was corrupted');
      const hit = blockAt(faulted.at + 1);
      const next = ranges[ranges.indexOf(faulted.start) + 1];
      console.log(`# flipped byte ${faulted.at}: next request starts at ${next} (the corrupted block at ${hit.offset})`);
      assert.equal(next, hit.offset);
      assertStoredMatchesFile(await storedUnits(b.page), bytes, head);
      assert.equal(await ask(b.page, PROMPT, { maxTokens: STEPS }), await native(file, head.fullBytes));
    } finally {
      await b.close();
    }
  });

  it('lowering the budget during the download stops it there', async () => {
    const b = await openBrowser();
    try {
      const { page } = b;
      await page.goto(`${nginx.url}/demo/?model=/slow/s.bstk&chunk=4096`);
      await waitState(page, (s) => s.phase === 'ready' || s.phase === 'complete');
      await setBudget(page, 0.12);
      await waitState(page, (s) => s.resizes === 1 && s.phase === 'complete');
      const want = Math.max(...Array.from(head.cumulative.entries()).filter(([, c]) => c <= 0.12e6).map(([i]) => i));
      const st = await getState(page);
      console.log(`# shrunk during the download: ${st.blocks.loaded} blocks, ${st.net.bytes} of ${bytes.length} bytes fetched`);
      assert.equal(st.blocks.loaded, want);
      // the download stopped: at most the requests in flight (4 KiB each) past the last block kept
      const end = blockEntry(head, want - 1).offset + blockEntry(head, want - 1).size;
      assert.ok(st.net.bytes <= end + 4 * 4096, `${st.net.bytes} bytes fetched, the kept blocks end at ${end}`);
      assert.equal(await ask(page, PROMPT, { maxTokens: STEPS }), await native(file, 120000));
    } finally {
      await b.close();
    }
  });

  it('the budget shrinks and grows mid-chat without a reload', async () => {
    const b = await openBrowser();
    try {
      const { page } = b;
      await page.goto(`${nginx.url}/demo/?model=/models/s.bstk`);
      await waitState(page, (s) => s.phase === 'complete');
      const navigations = [];
      page.on('framenavigated', (f) => navigations.push(f.url()));
      for (const mb of [0.1, 0.2, 0.12]) {
        await setBudget(page, mb);
        const want = Math.max(...Array.from(head.cumulative.entries()).filter(([, c]) => c <= mb * 1e6).map(([i]) => i));
        await waitState(page, (s, w) => s.blocks.loaded === w && !s.busy, want);
        assert.equal(await ask(page, PROMPT, { maxTokens: STEPS }), await native(file, Math.round(mb * 1e6)), `${mb} MB`);
      }
      // during a generation: shrink, then grow back, while tokens stream
      const n = (await getState(page)).replies.length;
      await page.fill('#max-tokens', '400');
      await page.fill('#prompt', PROMPT);
      await page.click('#send');
      await waitState(page, (s) => s.busy);
      await setBudget(page, 0.08);
      await waitState(page, (s, k) => s.resizes >= k, 4);
      await setBudget(page, 0.25);
      await waitState(page, (s, k) => s.replies.length > k && s.resizes >= 5, n);
      const st = await getState(page);
      // the shrink finished while the reply was streaming (the grow may have too)
      console.log(`# resizes: ${JSON.stringify(st.resizeLog)}`);
      assert.equal(st.resizeLog[3].duringReply, true);
      assert.ok(st.replies[n].length > 400, `reply of ${st.replies[n].length} characters`);
      assert.equal(st.blocks.loaded, Math.max(...Array.from(head.cumulative.entries()).filter(([, c]) => c <= 0.25e6).map(([i]) => i)));
      assert.deepEqual(navigations, []);
      assert.deepEqual(b.errors, []);
    } finally {
      await b.close();
    }
  });
  it('the engine in a Web Worker: same text, IndexedDB on reload, live resize', async () => {
    const b = await openBrowser();
    try {
      const { page } = b;
      await page.goto(`${nginx.url}/demo/?model=/models/s.bstk&worker=1&chunk=16384`);
      await waitState(page, (s) => s.phase === 'complete');
      let st = await getState(page);
      assert.equal(st.blocks.loaded, head.nBlocks);
      // counted in the worker: the file once (less the alignment padding between requests)
      assert.ok(st.net.bytes > 0.95 * bytes.length && st.net.bytes <= bytes.length, `${st.net.bytes} bytes`);
      assert.equal(await ask(page, PROMPT, { maxTokens: STEPS }), await native(file, head.fullBytes));
      const SAMPLED = { maxTokens: STEPS, temperature: 0.8, seed: 7 };
      const sampled = await ask(page, PROMPT, SAMPLED);
      assert.equal(sampled, await native(file, head.fullBytes, SAMPLED));
      assert.match(await page.textContent('#facts'), /in a Web Worker/);
      await page.reload();
      await waitState(page, (s) => s.phase === 'complete');
      st = await getState(page);
      assert.equal(st.blocks.fromNet, 0);
      assert.equal(st.blocks.fromCache, head.nBlocks + 1);
      assert.equal(await ask(page, PROMPT, SAMPLED), sampled);
      await setBudget(page, 0.1);
      await waitState(page, (s) => s.resizes === 1);
      assert.equal(await ask(page, PROMPT, { maxTokens: STEPS }), await native(file, 100000));
      assert.deepEqual(b.errors, []);
    } finally {
      await b.close();
    }
  });
});
