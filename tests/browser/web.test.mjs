// web/ in Node, without a browser: IdbStore over fake-indexeddb (round
// trip, a damaged record reads as missing, a quota error falls back to
// memory and says so, delete, heads, a blocked upgrade, versionchange),
// OfflineTransport over a fake fetch (the head kept and replayed offline,
// HTTP errors not mistaken for offline) and browserBudget's formula.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';

import { sessionBytes } from '../../js/src/budget.js';
import { crc32c } from '../../js/src/crc32c.js';
import { Engine } from '../../js/src/engine.js';
import { parseHead } from '../../js/src/format.js';
import { RangeLoader } from '../../js/src/loader.js';
import { browserBudget, IdbStore, OfflineTransport } from '../../web/index.js';
import { nativeMissing, wasmMissing } from '../../js/test/helpers.mjs';
import { fixtures } from './helpers.mjs';

globalThis.IDBKeyRange ??= IDBKeyRange; // a browser global the store uses for ranges

const KEY = 'http://h/m.bstk|"e"||100|7';
const bytes = (n, seed) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);

describe('IdbStore', () => {
  it('keeps units per file key and reads them back', async () => {
    const factory = new IDBFactory();
    const s = await IdbStore.open({ indexedDB: factory });
    assert.equal(s.mode, 'indexeddb');
    await s.put(KEY, -1, bytes(1000, 1));
    await s.put(KEY, 0, bytes(10, 2));
    await s.put('other', 0, bytes(5, 3));
    assert.deepEqual(await s.get(KEY, -1), bytes(1000, 1));
    assert.equal(await s.get(KEY, 1), null);
    assert.deepEqual(await s.units(KEY), [-1, 0]);
    s.close();
    // a new page: the same database
    const again = await IdbStore.open({ indexedDB: factory });
    assert.deepEqual(await again.get(KEY, 0), bytes(10, 2));
    await again.delete(KEY);
    assert.deepEqual(await again.units(KEY), []);
    assert.deepEqual(await again.get('other', 0), bytes(5, 3));
  });

  it('a damaged record reads as missing', async () => {
    const s = await IdbStore.open({ indexedDB: new IDBFactory() });
    await s.put(KEY, 3, bytes(64, 4));
    // flip a byte behind the store's back
    const tx = s.db.transaction('units', 'readwrite');
    const os = tx.objectStore('units');
    await new Promise((resolve, reject) => {
      const r = os.get([KEY, 3]);
      r.onsuccess = () => {
        const rec = r.result;
        new Uint8Array(rec.data)[10] ^= 1;
        os.put(rec).onsuccess = resolve;
      };
      r.onerror = () => reject(r.error);
    });
    assert.equal(await s.get(KEY, 3), null);
    assert.equal(s.stats.bad, 1);
  });

  it('on QuotaExceededError it keeps going in memory and says so', async () => {
    const s = await IdbStore.open({ indexedDB: new IDBFactory() });
    await s.put(KEY, 0, bytes(8, 5));
    const real = s.db.transaction.bind(s.db);
    s.db.transaction = (names, mode) => {
      if (mode === 'readwrite') throw new DOMException('quota', 'QuotaExceededError');
      return real(names, mode);
    };
    await s.put(KEY, 1, bytes(8, 6));
    assert.equal(s.mode, 'memory');
    assert.match(s.warning, /QuotaExceededError.*in memory/);
    assert.deepEqual(await s.get(KEY, 1), bytes(8, 6));
    assert.equal(await s.get(KEY, 0), null); // memory from now on: what IndexedDB held is not read
  });

  it('without IndexedDB it works in memory', async () => {
    const s = await IdbStore.open({ indexedDB: null });
    assert.equal(s.mode, 'memory');
    assert.match(s.warning, /not available/);
    await s.put(KEY, 0, bytes(3, 7));
    assert.deepEqual(await s.get(KEY, 0), bytes(3, 7));
  });

  it('other errors are not swallowed', async () => {
    const s = await IdbStore.open({ indexedDB: new IDBFactory() });
    s.db.transaction = () => {
      throw new DOMException('closing', 'InvalidStateError');
    };
    await assert.rejects(s.put(KEY, 0, bytes(3, 8)), { name: 'InvalidStateError' });
    assert.equal(s.mode, 'indexeddb');
  });
});

/** Every record of an object store (raw, as IndexedDB holds it). */
const records = (db, name) => new Promise((resolve, reject) => {
  const r = db.transaction(name).objectStore(name).getAll();
  r.onsuccess = () => resolve(r.result);
  r.onerror = () => reject(r.error);
});

describe('IdbStore records under maxRecordBytes', () => {
  it('a unit longer than the limit is kept as pieces, each within it, and read back whole', async () => {
    const s = await IdbStore.open({ indexedDB: new IDBFactory(), maxRecordBytes: 4096 });
    const big = bytes(10000, 9);
    await s.put(KEY, -1, big);
    await s.put(KEY, 0, bytes(4096, 1)); // exactly the limit: one record
    const pieces = await records(s.db, 'pieces');
    assert.deepEqual(pieces.map((p) => [p.unit, p.part, p.data.byteLength]), [[-1, 0, 4096], [-1, 1, 4096], [-1, 2, 1808]]);
    const units = await records(s.db, 'units');
    assert.deepEqual(units.map((u) => [u.unit, u.data?.byteLength ?? null, u.parts ?? null]), [[-1, null, 3], [0, 4096, null]]);
    assert.deepEqual(await s.get(KEY, -1), big);
    assert.deepEqual(await s.get(KEY, 0), bytes(4096, 1));
    assert.deepEqual(await s.units(KEY), [-1, 0]);
    assert.equal(s.stats.records, 5);
    // stored again whole (a larger limit): the old pieces go
    s.maxRecordBytes = 1 << 20;
    await s.put(KEY, -1, big);
    assert.deepEqual(await records(s.db, 'pieces'), []);
    assert.deepEqual(await s.get(KEY, -1), big);
    s.maxRecordBytes = 4096;
    await s.put(KEY, -1, big);
    await s.delete(KEY);
    assert.deepEqual(await records(s.db, 'pieces'), []);
    assert.deepEqual(await records(s.db, 'units'), []);
  });

  it('a damaged, missing or resized piece reads as missing', async () => {
    const s = await IdbStore.open({ indexedDB: new IDBFactory(), maxRecordBytes: 1000 });
    const big = bytes(3500, 3);
    const edit = (fn) => new Promise((resolve, reject) => {
      const tx = s.db.transaction('pieces', 'readwrite');
      const os = tx.objectStore('pieces');
      const r = os.get([KEY, -1, 2]);
      r.onsuccess = () => fn(os, r.result);
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
    });
    await s.put(KEY, -1, big);
    await edit((os, rec) => {
      new Uint8Array(rec.data)[7] ^= 1;
      os.put(rec);
    });
    assert.equal(await s.get(KEY, -1), null);
    await s.put(KEY, -1, big);
    assert.deepEqual(await s.get(KEY, -1), big);
    await edit((os) => os.delete([KEY, -1, 2]));
    assert.equal(await s.get(KEY, -1), null);
    await s.put(KEY, -1, big);
    await edit((os, rec) => os.put({ ...rec, data: rec.data.slice(0, 999), size: 999, crc: crc32c(new Uint8Array(rec.data.slice(0, 999))) }));
    assert.equal(await s.get(KEY, -1), null);
    assert.equal(s.stats.bad, 3);
  });

  it('a version-2 database (one record per unit, whatever its size) is upgraded and still read', async () => {
    const factory = new IDBFactory();
    const unit = bytes(5000, 4);
    await new Promise((resolve, reject) => {
      const r = factory.open('bitstack-blocks', 2);
      r.onupgradeneeded = () => {
        r.result.createObjectStore('units', { keyPath: ['fileKey', 'unit'] });
        r.result.createObjectStore('heads', { keyPath: 'url' });
      };
      r.onsuccess = () => {
        const tx = r.result.transaction('units', 'readwrite');
        tx.objectStore('units').put({ fileKey: KEY, unit: -1, data: unit.slice().buffer, size: unit.length, crc: crc32c(unit) });
        tx.oncomplete = () => {
          r.result.close();
          resolve();
        };
        tx.onerror = () => reject(tx.error);
      };
      r.onerror = () => reject(r.error);
    });
    const s = await IdbStore.open({ indexedDB: factory, maxRecordBytes: 1024 });
    assert.equal(s.mode, 'indexeddb');
    assert.equal(s.db.version, 3);
    assert.deepEqual(await s.get(KEY, -1), unit);
  });

  it('the loader keeps a resident section in pieces and reads it back on the next run', { skip: nativeMissing() }, async () => {
    const file = new Uint8Array(readFileSync(fixtures().planes));
    const factory = new IDBFactory();
    const net = fakeNetwork(file, '"v1"');
    const s = await IdbStore.open({ indexedDB: factory, maxRecordBytes: 16384 });
    const first = new RangeLoader('http://h/m.bstk', { store: s, fetch: net.fetch });
    for await (const _ of first.units(-1, 4)); // eslint-disable-line no-unused-vars
    const resident = first.head.residentEnd - first.head.header.dataOffset;
    const pieces = (await records(s.db, 'pieces')).filter((p) => p.unit === -1);
    assert.ok(resident > 2 * 16384, `resident section of ${resident} bytes`);
    assert.equal(pieces.length, Math.ceil(resident / 16384));
    assert.ok(pieces.every((p) => p.data.byteLength <= 16384));
    s.close();
    const again = await IdbStore.open({ indexedDB: factory, maxRecordBytes: 16384 });
    const second = new RangeLoader('http://h/m.bstk', { store: again, fetch: net.fetch });
    const got = [];
    for await (const u of second.units(-1, 4)) got.push([u.index, u.cached]);
    assert.deepEqual(got, [[-1, true], [0, true], [1, true], [2, true], [3, true]]);
    assert.equal(second.stats.requests, 1); // the head only
  });
});

describe('IdbStore heads and other tabs', () => {
  it('keeps one head per URL and checks it', async () => {
    const s = await IdbStore.open({ indexedDB: new IDBFactory() });
    const h = { url: 'http://h/m.bstk', etag: '"e"', lastModified: null, total: 100, bytes: bytes(40, 1), fileKey: KEY };
    await s.putHead(h);
    assert.deepEqual(await s.getHead(h.url), h);
    await s.putHead({ ...h, etag: '"f"', bytes: bytes(50, 2) });
    assert.equal((await s.getHead(h.url)).etag, '"f"');
    assert.equal(await s.getHead('http://h/other.bstk'), null);
  });

  it('an older version held open elsewhere: open() gives up after blockedMs and works in memory', async () => {
    const factory = new IDBFactory();
    const old = await new Promise((resolve) => {
      const r = factory.open('bitstack-blocks', 1);
      r.onupgradeneeded = () => r.result.createObjectStore('units', { keyPath: ['fileKey', 'unit'] });
      r.onsuccess = () => resolve(r.result); // never closed on versionchange
    });
    const t0 = Date.now();
    const s = await IdbStore.open({ indexedDB: factory, blockedMs: 200 });
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(s.mode, 'memory');
    assert.match(s.warning, /blocked: another tab keeps an older version/);
    await s.put(KEY, 0, bytes(3, 1));
    assert.deepEqual(await s.get(KEY, 0), bytes(3, 1));
    old.close();
  });

  it('lets a newer version in (versionchange) and goes on in memory', async () => {
    const factory = new IDBFactory();
    const s = await IdbStore.open({ indexedDB: factory });
    let warned = 0;
    s.onwarning = () => warned++;
    const version = await new Promise((resolve, reject) => {
      const r = factory.open('bitstack-blocks', 9);
      r.onblocked = () => reject(new Error('blocked'));
      r.onsuccess = () => resolve(r.result.version);
    });
    assert.equal(version, 9);
    assert.equal(s.mode, 'memory');
    assert.equal(warned, 1);
    assert.match(s.warning, /newer version/);
  });
});

/** A fetch over a file's bytes (Range honoured) that can be switched off like a network. */
function fakeNetwork(file, etag) {
  const net = { up: true, requests: 0 };
  net.fetch = async (url, init) => {
    net.requests++;
    if (!net.up) throw new TypeError('Failed to fetch');
    if (url.endsWith('/missing.bstk')) return new Response('no', { status: 404 });
    const [, a, b] = /bytes=(\d+)-(\d+)/.exec(init.headers.Range);
    const end = Math.min(Number(b) + 1, file.length);
    return new Response(file.slice(Number(a), end), { status: 206,
      headers: { 'content-range': `bytes ${a}-${end - 1}/${file.length}`, etag } });
  };
  return net;
}

describe('OfflineTransport', { skip: nativeMissing() }, () => {
  const file = nativeMissing() ? null : new Uint8Array(readFileSync(fixtures().planes));
  const URL_ = 'http://h/m.bstk';

  it('keeps the head online and replays it offline: same file key, blocks from the store, no request', async () => {
    const store = await IdbStore.open({ indexedDB: new IDBFactory() });
    const net = fakeNetwork(file, '"v1"');
    const t = new OfflineTransport(URL_, { store, fetch: net.fetch });
    const online = new RangeLoader(t, { store });
    for await (const _ of online.units(-1, 3)); // eslint-disable-line no-unused-vars
    assert.deepEqual(await t.commit(online.storeKey), { replaced: null });
    net.up = false;
    const n = net.requests;
    const t2 = new OfflineTransport(URL_, { store, fetch: net.fetch });
    const offline = new RangeLoader(t2, { store });
    const got = [];
    for await (const u of offline.units(-1, 3)) got.push(u.cached);
    assert.equal(t2.offline, true);
    assert.equal(offline.storeKey, online.storeKey);
    assert.deepEqual(got, [true, true, true, true]);
    assert.equal(net.requests, n + 1); // the one failed attempt that found the network down
    // a block never stored: a clear, permanent error
    await assert.rejects(async () => { for await (const _ of offline.units(3, 4)); }, /offline, and bytes .* never stored/); // eslint-disable-line no-unused-vars
  });

  it('offline, a budget past what was stored: a permanent error naming the bytes, and the blocks attached keep working',
    { skip: wasmMissing() }, async () => {
      const store = await IdbStore.open({ indexedDB: new IDBFactory() });
      const head = parseHead(file);
      const t = new OfflineTransport(URL_, { store, fetch: fakeNetwork(file, '"v1"').fetch });
      const online = await Engine.open(t, { store, budget: head.cumulative[5] });
      await t.commit(online.loader.storeKey);
      const text = async (engine) => {
        let out = '';
        for await (const t of engine.generate('Once upon a time', { maxTokens: 24, temperature: 0 })) out += t.text;
        return out;
      };
      const five = await text(online);
      await online.close();
      const net = fakeNetwork(file, '"v1"');
      net.up = false;
      const t0 = Date.now();
      const offline = await Engine.open(new OfflineTransport(URL_, { store, fetch: net.fetch }),
        { store, budget: head.fullBytes, progressive: true, loader: { backoffMs: 1000 } });
      try {
        await assert.rejects(offline.ready, (e) => e.code === 'BS_ERR_IO' && /offline, and bytes \d+-\d+ were never stored/.test(e.message));
        assert.ok(Date.now() - t0 < 900, 'no retry (the first backoff is 1 s)');
        assert.equal(offline.stack().nLoaded, 5);
        assert.equal(await text(offline), five);
      } finally {
        await offline.close();
      }
    });

  it('a new version online replaces the kept head and drops the old blocks', async () => {
    const store = await IdbStore.open({ indexedDB: new IDBFactory() });
    const first = new RangeLoader(new OfflineTransport(URL_, { store, fetch: fakeNetwork(file, '"v1"').fetch }), { store });
    for await (const _ of first.units(-1, 2)); // eslint-disable-line no-unused-vars
    await first.transport.commit(first.storeKey);
    const second = new RangeLoader(new OfflineTransport(URL_, { store, fetch: fakeNetwork(file, '"v2"').fetch }), { store });
    const cached = [];
    for await (const u of second.units(-1, 2)) cached.push(u.cached);
    assert.deepEqual(cached, [false, false, false]);
    assert.deepEqual(await second.transport.commit(second.storeKey), { replaced: first.storeKey });
    assert.deepEqual(await store.units(first.storeKey), []);
    assert.equal((await store.getHead(URL_)).etag, '"v2"');
  });

  it('an HTTP error is not taken for offline; offline with nothing kept says so', async () => {
    const store = await IdbStore.open({ indexedDB: new IDBFactory() });
    const net = fakeNetwork(file, '"v1"');
    await assert.rejects(new RangeLoader(new OfflineTransport('http://h/missing.bstk', { store, fetch: net.fetch }), { retries: 0 }).openHead(),
      /HTTP 404/);
    net.up = false;
    await assert.rejects(new RangeLoader(new OfflineTransport(URL_, { store, fetch: net.fetch }), { retries: 0 }).openHead(),
      /cannot be reached .*not kept the file/);
  });
});

describe('browserBudget', () => {
  const config = { nLayers: 5, nKvHeads: 4, headDim: 8, dim: 64, hiddenDim: 172, vocabSize: 512, seqLen: 512 };
  const head = { config, residentBytes: 40000, fullBytes: 2e9, stackedResidentBytes: 30000, stackedParams: 1e6 };
  const kv = sessionBytes(config, 512);

  it('a quarter of deviceMemory less the KV cache and scratch', () => {
    const b = browserBudget(head, { deviceMemory: 4 });
    assert.deepEqual(b, { bytes: 2 ** 30 - kv, source: 'deviceMemory', deviceGiB: 4, sessionBytes: kv });
  });

  it('assumes 4 GiB when the browser does not say, and clamps to the file', () => {
    assert.equal(browserBudget(head, { deviceMemory: undefined }).source, 'fallback');
    assert.equal(browserBudget(head, { deviceMemory: undefined }).bytes, 2 ** 30 - kv);
    assert.equal(browserBudget(head, { deviceMemory: 32 }).bytes, 2e9);
    assert.equal(browserBudget(head, { deviceMemory: 0.001 }).bytes, 40000);
  });

  it('an explicit budget wins', () => {
    assert.deepEqual(browserBudget(head, { deviceMemory: 8, override: '12MB' }),
      { bytes: 12e6, source: 'override', deviceGiB: 8, sessionBytes: kv });
    assert.equal(browserBudget(head, { override: '4bpw' }).bytes, 10000 + 500000);
  });
});
