// Browser faults (issue 6), the demo in chromium against nginx:
// - the origin's storage quota exhausted (the real quota, made tiny through
//   CDP Storage.overrideQuotaForOrigin): the store keeps going in memory,
//   the page says so, the model completes and prints the native text;
// - IndexedDB blocked by another tab that keeps an older version open and
//   ignores "versionchange": no hang, the page works in memory and says why;
//   and the courtesy the other way: a newer tab upgrading the database is
//   not blocked by the demo, which lets go and goes on in memory;
// - two tabs downloading one model at once: both complete, no error, the
//   stored records are the file's bytes, a third visit fetches no block;
// - a server without Range (nginx max_ranges 0: 200 and the whole file):
//   the loader reads the one full response, the page says so, same text,
//   and the blocks and head are kept for later and offline visits.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { blockEntry, parseHead } from '../../js/src/format.js';
import { runNative } from '../../js/test/helpers.mjs';
import { ask, browserMissing, fixtures, getState, openBrowser, startNginx, waitState } from './helpers.mjs';

const skip = browserMissing();
const PROMPT = 'Once upon a time';
const STEPS = 40;

/** Every stored unit checked against the file; returns how many there are. */
const checkStored = (page, bytes, head) => page.evaluate(async () => {
  const { engine, store } = window.demo;
  const key = engine.loader.storeKey;
  const out = {};
  for (const u of await store.units(key)) out[u] = Array.from(await store.get(key, u));
  return out;
}).then((units) => {
  for (const [k, data] of Object.entries(units)) {
    const u = Number(k);
    const [start, end] = u < 0 ? [head.header.dataOffset, head.residentEnd]
      : [blockEntry(head, u).offset, blockEntry(head, u).offset + blockEntry(head, u).size];
    assert.ok(Buffer.from(data).equals(bytes.subarray(start, end)), `unit ${u} differs from the file`);
  }
  return Object.keys(units).length;
});

/** Opens the raw database in a page as an older release would: version 1, no versionchange handler. */
const holdOldVersion = (page) => page.evaluate(() => new Promise((resolve, reject) => {
  const req = indexedDB.open('bitstack-blocks', 1);
  req.onupgradeneeded = () => req.result.createObjectStore('units', { keyPath: ['fileKey', 'unit'] });
  req.onsuccess = () => {
    window.heldDb = req.result; // kept open, and never closed on versionchange
    resolve(req.result.version);
  };
  req.onerror = () => reject(req.error);
}));

describe('browser faults', { skip }, () => {
  let nginx, file, bytes, head, expected;
  before(async () => {
    file = fixtures().planes;
    bytes = readFileSync(file);
    head = parseHead(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
    nginx = await startNginx({ models: { s: file }, rate: '100k', noRange: true });
    const r = await runNative(['run', file, '--prompt', PROMPT, '--steps', String(STEPS), '--temperature', '0']);
    assert.equal(r.code, 0, r.stderr);
    expected = r.stdout.toString().replace(/\n$/, '');
  });
  after(async () => nginx?.stop());

  it('quota exceeded: the store goes on in memory and the page says so', async () => {
    const b = await openBrowser();
    try {
      const { page } = b;
      await page.goto(`${nginx.url}/demo/?model=/models/s.bstk&autoload=0&sw=0&chunk=16384`);
      const cdp = await b.context.newCDPSession(page);
      // two thirds of the file: some blocks fit, the rest meet QuotaExceededError in IndexedDB itself
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: nginx.url, quotaSize: Math.floor((bytes.length * 2) / 3) });
      await page.evaluate((u) => window.demo.load(u), `${nginx.url}/models/s.bstk`);
      await waitState(page, (s) => s.phase === 'complete');
      const st = await getState(page);
      const kept = await page.evaluate(() => window.demo.store.stats);
      console.log(`# quota ${Math.floor((bytes.length * 2) / 3)} bytes: store ${st.store.mode}, ${kept.puts} puts; "${st.store.warning}"`);
      assert.equal(st.store.mode, 'memory');
      assert.match(st.store.warning, /QuotaExceededError.*in memory/);
      assert.equal(await page.isVisible('#notice'), true);
      assert.match(await page.textContent('#notice'), /quota is exhausted/);
      assert.equal(st.blocks.loaded, head.nBlocks);
      assert.equal(await ask(page, PROMPT, { maxTokens: STEPS }), expected);
      // the next visit (the quota still tiny): what fitted comes from IndexedDB, the rest from the network, same text
      await page.goto(`${nginx.url}/demo/?model=/models/s.bstk&sw=0&chunk=16384`);
      await waitState(page, (s) => s.phase === 'complete');
      const again = await getState(page);
      console.log(`# next visit: ${again.blocks.fromCache} units from IndexedDB, ${again.blocks.fromNet} from the network`);
      assert.ok(again.blocks.fromCache > 0 && again.blocks.fromNet > 0);
      assert.equal(await ask(page, PROMPT, { maxTokens: STEPS }), expected);
      assert.deepEqual(b.errors, []);
    } finally {
      await b.close();
    }
  });

  it('IndexedDB blocked by another tab: no hang, memory, a clear message', async () => {
    const b = await openBrowser();
    try {
      const old = b.page;
      await old.goto(`${nginx.url}/demo/?autoload=0&sw=0`);
      assert.equal(await holdOldVersion(old), 1);
      const page = await b.context.newPage();
      const t0 = Date.now();
      await page.goto(`${nginx.url}/demo/?model=/models/s.bstk&sw=0`);
      await waitState(page, (s) => s.phase === 'complete');
      const st = await getState(page);
      console.log(`# blocked: ready after ${Date.now() - t0} ms, store ${st.store.mode}: "${st.store.warning}"`);
      assert.equal(st.store.mode, 'memory');
      assert.match(await page.textContent('#notice'), /blocked: another tab keeps an older version/);
      assert.equal(await ask(page, PROMPT, { maxTokens: STEPS }), expected);
      // the old tab goes away: the next visit upgrades the database and keeps blocks again
      await old.close();
      await page.reload();
      await waitState(page, (s) => s.phase === 'complete');
      assert.equal((await getState(page)).store.mode, 'indexeddb');
      assert.equal(await page.isVisible('#notice'), false);
    } finally {
      await b.close();
    }
  });

  it('a newer tab upgrading the database is not blocked by the demo', async () => {
    const b = await openBrowser();
    try {
      const { page } = b;
      await page.goto(`${nginx.url}/demo/?model=/models/s.bstk&sw=0`);
      await waitState(page, (s) => s.phase === 'complete' && s.offline.headStored);
      const newer = await b.context.newPage();
      await newer.goto(`${nginx.url}/demo/?autoload=0&sw=0`);
      const upgrade = await newer.evaluate(() => new Promise((resolve, reject) => {
        let blocked = false;
        const req = indexedDB.open('bitstack-blocks', 99);
        req.onblocked = () => (blocked = true);
        req.onsuccess = () => resolve({ version: req.result.version, blocked });
        req.onerror = () => reject(req.error);
        setTimeout(() => resolve({ version: null, blocked }), 5000);
      }));
      assert.deepEqual(upgrade, { version: 99, blocked: false });
      await page.bringToFront();
      await waitState(page, (s) => s.store.mode === 'memory');
      assert.match(await page.textContent('#notice'), /another tab opened a newer version/);
      // the demo goes on: the model is in wasm memory, new blocks are kept in memory
      assert.equal(await ask(page, PROMPT, { maxTokens: STEPS }), expected);
    } finally {
      await b.close();
    }
  });

  it('two tabs download one model at once: no corruption, no storing error', async () => {
    const b = await openBrowser();
    try {
      const url = `${nginx.url}/demo/?model=/slow/s.bstk&chunk=4096&sw=0`;
      const second = await b.context.newPage();
      second.on('pageerror', (e) => b.errors.push(String(e)));
      await Promise.all([b.page.goto(url), second.goto(url)]);
      // both are downloading at the same time: neither is complete when both are ready
      await Promise.all([b.page, second].map((p) => waitState(p, (s) => s.phase === 'ready' || s.phase === 'complete')));
      const mid = await Promise.all([b.page, second].map(getState));
      console.log(`# both ready: ${mid.map((s) => `${s.blocks.loaded} blocks`).join(', ')} of ${head.nBlocks}`);
      assert.ok(mid.every((s) => s.blocks.loaded < head.nBlocks), 'the downloads did not overlap');
      await Promise.all([b.page, second].map((p) => waitState(p, (s) => s.phase === 'complete', undefined, 30000)));
      for (const p of [b.page, second]) {
        const st = await getState(p);
        assert.equal(st.error, null);
        assert.equal(st.store.mode, 'indexeddb');
        assert.equal(await ask(p, PROMPT, { maxTokens: STEPS }), expected);
      }
      assert.equal(await checkStored(b.page, bytes, head), head.nBlocks + 1);
      // a third visit: every unit from IndexedDB
      const third = await b.context.newPage();
      await third.goto(url);
      await waitState(third, (s) => s.phase === 'complete');
      const st = await getState(third);
      assert.equal(st.blocks.fromNet, 0);
      assert.equal(st.blocks.fromCache, head.nBlocks + 1);
      assert.deepEqual(b.errors, []);
    } finally {
      await b.close();
    }
  });

  it('a server without Range: one full response serves the file, said on the page', async () => {
    const b = await openBrowser();
    try {
      const { page } = b;
      const n0 = nginx.log().length;
      await page.goto(`${nginx.url}/demo/?model=/norange/s.bstk`);
      await waitState(page, (s) => s.phase === 'complete' && s.offline.headStored && s.offline.swCached !== null);
      const requests = nginx.log().slice(n0).filter((l) => l.includes('.bstk'));
      console.log(`# no Range: ${requests.join('; ')}`);
      assert.ok(requests.length >= 1 && requests.every((l) => / 200 /.test(l)), requests.join('; '));
      assert.match(await page.textContent('#facts'), /no Range support/);
      assert.equal(await ask(page, PROMPT, { maxTokens: STEPS }), expected);
      assert.equal(await checkStored(page, bytes, head), head.nBlocks + 1);
      // later visits: blocks from IndexedDB; offline, the kept head too
      await page.reload();
      await waitState(page, (s) => s.phase === 'complete');
      assert.equal((await getState(page)).blocks.fromNet, 0);
      await b.context.setOffline(true);
      await page.reload();
      await waitState(page, (s) => s.phase === 'complete');
      const st = await getState(page);
      assert.equal(st.offline.network, 'offline');
      assert.equal(st.net.bytes, 0);
      assert.equal(await ask(page, PROMPT, { maxTokens: STEPS }), expected);
      assert.deepEqual(b.errors, []);
    } finally {
      await b.close();
    }
  });
});
