// web/ in Node, without a browser: IdbStore over fake-indexeddb (round
// trip, a damaged record reads as missing, a quota error falls back to
// memory and says so, delete) and browserBudget's formula.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';

import { sessionBytes } from '../../js/src/budget.js';
import { browserBudget, IdbStore } from '../../web/index.js';

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
