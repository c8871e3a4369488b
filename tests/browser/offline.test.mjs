// The demo's second visit without a network, in chromium against nginx:
// - a first visit online keeps the blocks and the file's head in IndexedDB
//   and the page's files in the service worker's cache; then offline
//   (context.setOffline, nginx still up and watched) and then with nginx
//   stopped and the browser restarted, the page opens, the model loads from
//   IndexedDB and prints the same text for the same seed, with zero bytes
//   from the network;
// - the file replaced on the server between visits (another ETag and size):
//   the page loads the new version from the network, prints the new file's
//   text, never reads a block of the old one, and drops the old blocks;
// - the file replaced during a download: the loader's If-Range / ETag check
//   stops it with BS_ERR_STATE, the page says so, what was stored under the
//   old key is the old file's bytes, and the next visit loads the new file;
// - the model menu lists the server's models and switches between them.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { blockEntry, parseHead } from '../../js/src/format.js';
import { runNative } from '../../js/test/helpers.mjs';
import { ask, browserMissing, fixtures, getState, openBrowser, startNginx, waitState } from './helpers.mjs';

const skip = browserMissing();
const PROMPT = 'Once upon a time';
const STEPS = 40;

async function native(file) {
  const r = await runNative(['run', file, '--prompt', PROMPT, '--steps', String(STEPS), '--temperature', '0']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.toString().replace(/\n$/, '');
}

const headOf = (file) => {
  const bytes = readFileSync(file);
  return parseHead(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
};

/** Units the page's IndexedDB holds, per file key. */
const storedKeys = (page) => page.evaluate(async () => {
  const db = window.demo.store.db;
  const keys = await new Promise((resolve, reject) => {
    const r = db.transaction('units').objectStore('units').getAllKeys();
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  const out = {};
  for (const [k] of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
});

/** Waits until the first visit has kept everything an offline visit needs. */
const offlineReady = (page) => waitState(page, (s) => s.phase === 'complete' && s.offline.headStored && s.offline.swCached !== null);

describe('offline and changed files', { skip }, () => {
  let files;
  before(() => {
    files = fixtures();
  });

  it('a second visit works with the network gone: same text, zero network bytes', async () => {
    const head = headOf(files.planes);
    const nginx = await startNginx({ models: { s: files.planes } });
    const b = await openBrowser();
    try {
      const url = `${nginx.url}/demo/?model=/models/s.bstk`;
      await b.page.goto(url);
      await offlineReady(b.page);
      const first = await ask(b.page, PROMPT, { maxTokens: STEPS });
      assert.equal(first, await native(files.planes));

      // 1. the browser offline, the server still up: nothing may reach it
      const n0 = nginx.log().length;
      await b.context.setOffline(true);
      await b.page.reload();
      await waitState(b.page, (s) => s.phase === 'complete');
      let st = await getState(b.page);
      console.log(`# offline reload: ${st.blocks.fromCache} units from IndexedDB, ${st.net.bytes} network bytes, ` +
        `nginx saw ${nginx.log().length - n0} requests`);
      assert.equal(st.offline.network, 'offline');
      assert.equal(st.net.bytes, 0);
      assert.equal(st.blocks.fromNet, 0);
      assert.equal(st.blocks.fromCache, head.nBlocks + 1);
      assert.deepEqual(nginx.log().slice(n0), []);
      assert.match(await b.page.textContent('#status'), /offline/);
      assert.equal(await ask(b.page, PROMPT, { maxTokens: STEPS }), first);

      // 2. the server stopped, the browser restarted: the page itself comes from the service worker
      await nginx.stop();
      const page = await b.restart();
      await page.goto(url);
      await waitState(page, (s) => s.phase === 'complete');
      st = await getState(page);
      console.log(`# server stopped, browser restarted: ${st.blocks.fromCache} units from IndexedDB, ${st.net.bytes} network bytes`);
      assert.equal(st.offline.network, 'offline');
      assert.equal(st.net.bytes, 0);
      assert.equal(st.blocks.fromCache, head.nBlocks + 1);
      assert.equal(await ask(page, PROMPT, { maxTokens: STEPS }), first);
      assert.deepEqual(b.errors, []);
    } finally {
      await b.close();
      await nginx.stop();
    }
  });

  it('offline with the engine in a Web Worker: the same', async () => {
    const nginx = await startNginx({ models: { s: files.planes } });
    const b = await openBrowser();
    try {
      const url = `${nginx.url}/demo/?model=/models/s.bstk&worker=1`;
      await b.page.goto(url);
      await offlineReady(b.page);
      const first = await ask(b.page, PROMPT, { maxTokens: STEPS });
      await nginx.stop();
      const page = await b.restart();
      await b.context.setOffline(true);
      await page.goto(url);
      await waitState(page, (s) => s.phase === 'complete');
      const st = await getState(page);
      assert.equal(st.offline.network, 'offline');
      assert.equal(st.net.bytes, 0);
      assert.equal(st.blocks.fromCache, headOf(files.planes).nBlocks + 1);
      assert.equal(await ask(page, PROMPT, { maxTokens: STEPS }), first);
      assert.match(await page.textContent('#facts'), /in a Web Worker/);
    } finally {
      await b.close();
      await nginx.stop();
    }
  });

  it('offline with a model never loaded here: a clear error, no hang', async () => {
    const nginx = await startNginx({ models: { s: files.planes } });
    const b = await openBrowser();
    try {
      await b.page.goto(`${nginx.url}/demo/?model=/models/s.bstk`);
      await offlineReady(b.page);
      await b.context.setOffline(true);
      await b.page.evaluate((u) => window.demo.load(u), `${nginx.url}/models/other.bstk`);
      const st = await getState(b.page);
      assert.equal(st.phase, 'error');
      assert.match(st.error, /cannot be reached.*not kept the file/);
      assert.match(await b.page.textContent('#status'), /cannot load/);
    } finally {
      await b.close();
      await nginx.stop();
    }
  });

  it('the file replaced on the server between visits: the new version, never a block of the old', async () => {
    const nginx = await startNginx({ models: { m: files.planes } });
    const b = await openBrowser();
    try {
      const url = `${nginx.url}/demo/?model=/models/m.bstk`;
      await b.page.goto(url);
      await offlineReady(b.page);
      assert.equal(await ask(b.page, PROMPT, { maxTokens: STEPS }), await native(files.planes));
      const oldKey = (await b.page.evaluate(() => window.demo.engine.loader.storeKey));

      // another file under the same URL (another size, so another ETag)
      const link = join(nginx.dir, 'models', 'm.bstk');
      rmSync(link);
      symlinkSync(files.avd, link);
      const head = headOf(files.avd);
      await b.page.reload();
      await waitState(b.page, (s) => s.phase === 'complete' && s.offline.headStored);
      const st = await getState(b.page);
      const newKey = await b.page.evaluate(() => window.demo.engine.loader.storeKey);
      console.log(`# replaced: ${oldKey} -> ${newKey}; ${st.blocks.fromNet} units from the network, ${st.blocks.fromCache} from IndexedDB`);
      assert.notEqual(newKey, oldKey);
      assert.equal(st.fileSize, readFileSync(files.avd).length);
      assert.equal(st.blocks.fromCache, 0);
      assert.equal(st.blocks.fromNet, head.nBlocks + 1);
      assert.equal(st.offline.replaced, oldKey);
      assert.equal(await ask(b.page, PROMPT, { maxTokens: STEPS }), await native(files.avd));
      // the old version's blocks are gone; the new one's are all there
      assert.deepEqual(await storedKeys(b.page), { [newKey]: head.nBlocks + 1 });

      // and offline now, the new version is the one replayed
      await b.context.setOffline(true);
      await b.page.reload();
      await waitState(b.page, (s) => s.phase === 'complete');
      assert.equal((await getState(b.page)).net.bytes, 0);
      assert.equal(await ask(b.page, PROMPT, { maxTokens: STEPS }), await native(files.avd));
    } finally {
      await b.close();
      await nginx.stop();
    }
  });
});

describe('a file replaced during the download', { skip }, () => {
  it('the download stops with a clear error, nothing of the new file is stored under the old key; the next visit loads the new one', async () => {
    const files = fixtures();
    const nginx = await startNginx({ models: { m: files.planes }, rate: '100k' });
    const b = await openBrowser();
    try {
      const { page } = b;
      await page.goto(`${nginx.url}/demo/?model=/slow/m.bstk&chunk=4096&sw=0`);
      await waitState(page, (s) => s.phase === 'ready' || s.phase === 'complete');
      const oldKey = await page.evaluate(() => window.demo.engine.loader.storeKey);
      const link = join(nginx.dir, 'models', 'm.bstk');
      rmSync(link);
      symlinkSync(files.avd, link);
      await waitState(page, (s) => s.error !== null, undefined, 30000);
      const st = await getState(page);
      console.log(`# replaced mid-download after ${st.blocks.loaded} blocks: ${st.error}`);
      assert.match(st.error, /BS_ERR_STATE: .*changed during the download/);
      assert.match(await page.textContent('#status'), /download stopped/);
      assert.ok(st.blocks.loaded < headOf(files.planes).nBlocks);
      // what was stored under the old key is the old file's bytes only
      const planes = readFileSync(files.planes);
      const head = headOf(files.planes);
      const units = await page.evaluate(async (key) => {
        const out = {};
        for (const u of await window.demo.store.units(key)) out[u] = Array.from(await window.demo.store.get(key, u));
        return out;
      }, oldKey);
      assert.ok(Object.keys(units).length > 0);
      for (const [k, data] of Object.entries(units)) {
        const u = Number(k);
        const [start, end] = u < 0 ? [head.header.dataOffset, head.residentEnd]
          : [blockEntry(head, u).offset, blockEntry(head, u).offset + blockEntry(head, u).size];
        assert.ok(Buffer.from(data).equals(planes.subarray(start, end)), `unit ${u} is not the old file's`);
      }
      await page.reload();
      await waitState(page, (s) => s.phase === 'complete', undefined, 30000);
      assert.equal(await ask(page, PROMPT, { maxTokens: STEPS }), await native(files.avd));
    } finally {
      await b.close();
      await nginx.stop();
    }
  });
});

describe('the model menu', { skip }, () => {
  it('lists the server\'s models (/models/index.json) and switches between them', async () => {
    const files = fixtures();
    const nginx = await startNginx({ models: { planes: files.planes, avd: files.avd } });
    const b = await openBrowser();
    try {
      const { page } = b;
      await page.goto(`${nginx.url}/demo/?model=/models/planes.bstk&sw=0`);
      await waitState(page, (s) => s.phase === 'complete');
      await page.waitForSelector('#model-menu:not([hidden])');
      const options = await page.$$eval('#model-menu option', (os) => os.map((o) => o.textContent));
      const kB = (f) => `${(readFileSync(f).length / 1e3).toFixed(1)} kB`;
      assert.deepEqual(options, [`planes · ${kB(files.planes)}`, `avd · ${kB(files.avd)}`]);
      await page.selectOption('#model-menu', `${nginx.url}/models/avd.bstk`);
      await waitState(page, (s, n) => s.phase === 'complete' && s.fileSize === n, readFileSync(files.avd).length);
      assert.equal(await page.inputValue('#model-url'), `${nginx.url}/models/avd.bstk`);
      assert.equal(await ask(page, PROMPT, { maxTokens: STEPS }), await native(files.avd));
      assert.deepEqual(b.errors, []);
    } finally {
      await b.close();
      await nginx.stop();
    }
  });
});
