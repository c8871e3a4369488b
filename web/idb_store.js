// idb_store.js - a BlockStore in IndexedDB (browsers): verified blocks kept
// across reloads and browser restarts, so a second visit fetches only the
// head, or nothing at all once the head is cached too (offline.js).
//
// Object store "units", keyed by [fileKey, unit] (js/src/store.js: the
// file key joins URL, ETag, size and header CRC; unit -1 is the resident
// section). A record holds one unit: {fileKey, unit, data, crc, size}.
// Units are the file's stack blocks, a few KiB to a few MiB each, far under
// the ~128 MB Chromium accepts for one value. The record's own CRC-32C is
// checked on every read, so a damaged record reads as missing (and the
// loader, which checks the index CRC too, fetches the block again).
// Object store "heads" (database version 2), keyed by URL: the first bytes
// of the file's latest version as the server sent them, with its ETag,
// Last-Modified, size and file key (see offline.js), for offline visits.
//
// When the origin is out of quota (QuotaExceededError), or IndexedDB is
// unavailable (private modes), the store keeps going in memory for the rest
// of the page's life and says so in `mode` and `warning`. Other tabs:
// - a tab that upgrades the database (a newer page) sends "versionchange":
//   this store closes its connection at once, so it never blocks the other
//   tab, and keeps going in memory (saying so);
// - if another tab holds an older version open and does not let go (an old
//   page without that courtesy), open() is "blocked": after `blockedMs` it
//   stops waiting and works in memory, saying which problem it met, rather
//   than hang the page.
//
// Browser APIs only, no DOM.

import { crc32c } from '../js/src/crc32c.js';
import { MemoryStore } from '../js/src/store.js';

const STORE = 'units';
const HEADS = 'heads';
const VERSION = 2;

/** Promise of an IDBRequest's result. */
function done(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** Promise of a transaction's end (writes are durable only then). */
function committed(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new DOMException('transaction aborted', 'AbortError'));
  });
}

/**
 * Opens the database at VERSION, creating what is missing. Rejects with
 * err.blocked set when other connections keep it from upgrading for blockedMs.
 */
function openDatabase(factory, name, blockedMs) {
  return new Promise((resolve, reject) => {
    const req = factory.open(name, VERSION);
    let timer = null, gaveUp = false;
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE, { keyPath: ['fileKey', 'unit'] });
      if (!db.objectStoreNames.contains(HEADS)) db.createObjectStore(HEADS, { keyPath: 'url' });
    };
    req.onblocked = () => {
      timer ??= setTimeout(() => {
        gaveUp = true;
        const err = new Error('IndexedDB is blocked: another tab keeps an older version of the block database open ' +
          '(close the other bitstack tabs and reload)');
        err.blocked = true;
        reject(err);
      }, blockedMs);
    };
    req.onsuccess = () => {
      clearTimeout(timer);
      // the other tab let go after we gave up: do not keep a connection nobody uses
      if (gaveUp) req.result.close();
      else resolve(req.result);
    };
    req.onerror = () => {
      clearTimeout(timer);
      reject(req.error);
    };
  });
}

const isQuota = (err) => err?.name === 'QuotaExceededError' || err?.inner?.name === 'QuotaExceededError';

/**
 * @typedef {object} IdbStoreOptions
 * @property {string} [name='bitstack-blocks'] database name
 * @property {boolean} [persist=true] ask navigator.storage.persist() so the browser does not evict the blocks
 * @property {IDBFactory} [indexedDB=globalThis.indexedDB] the factory (tests may pass fake-indexeddb's)
 * @property {number} [blockedMs=3000] how long to wait for other tabs to close an older version of the database
 */

/** @implements {import('../js/src/store.js').BlockStore} */
export class IdbStore {
  /**
   * Opens (or creates) the database. Never throws for a missing or broken
   * IndexedDB: the store then works in memory (mode "memory").
   * @param {IdbStoreOptions} [options]
   * @returns {Promise<IdbStore>}
   */
  static async open(options = {}) {
    const name = options.name ?? 'bitstack-blocks';
    const factory = options.indexedDB ?? globalThis.indexedDB;
    const store = new IdbStore();
    if ((options.persist ?? true) && globalThis.navigator?.storage?.persist) {
      try {
        store.persisted = await navigator.storage.persist();
      } catch {
        store.persisted = false;
      }
    }
    if (!factory) {
      store.#fallBack('IndexedDB is not available');
      return store;
    }
    try {
      store.db = await openDatabase(factory, name, options.blockedMs ?? 3000);
      store.db.onversionchange = () => {
        // a newer page upgrades the database: let it, and keep going in memory
        store.db.close();
        store.db = null;
        store.#fallBack('another tab opened a newer version of the block database');
      };
    } catch (err) {
      store.#fallBack(err.blocked ? err.message : `IndexedDB cannot be opened (${err?.message ?? err})`);
    }
    return store;
  }

  constructor() {
    /** @type {IDBDatabase|null} */
    this.db = null;
    /** "indexeddb", or "memory" after a quota error or without IndexedDB. */
    this.mode = 'indexeddb';
    /** Why the store works in memory, or null. */
    this.warning = null;
    /** What navigator.storage.persist() answered (null: not asked). */
    this.persisted = null;
    this.memory = new MemoryStore();
    /** Called (no arguments) when the store falls back to memory after opening. */
    this.onwarning = null;
    /** Counters: records read, found, rejected (bad CRC), written. */
    this.stats = { gets: 0, hits: 0, bad: 0, puts: 0 };
  }

  #fallBack(reason) {
    if (this.mode === 'memory') return; // the first reason stays
    this.mode = 'memory';
    this.warning = `${reason}: blocks are kept in memory for this page only`;
    this.onwarning?.();
  }

  async get(fileKey, unit) {
    this.stats.gets++;
    if (this.mode === 'memory') {
      const m = await this.memory.get(fileKey, unit);
      if (m) this.stats.hits++;
      return m;
    }
    const tx = this.db.transaction(STORE, 'readonly');
    const rec = await done(tx.objectStore(STORE).get([fileKey, unit]));
    if (!rec) return (await this.memory.get(fileKey, unit)) ?? null;
    const data = new Uint8Array(rec.data);
    if (data.length !== rec.size || crc32c(data) !== rec.crc) {
      this.stats.bad++;
      return null; // damaged on disk: read as missing, so the loader fetches it again
    }
    this.stats.hits++;
    return data;
  }

  async put(fileKey, unit, data) {
    this.stats.puts++;
    if (this.mode === 'memory') return this.memory.put(fileKey, unit, data);
    // an ArrayBuffer of exactly the unit (a view may share a larger buffer)
    const copy = data.slice().buffer;
    try {
      const tx = this.db.transaction(STORE, 'readwrite');
      tx.objectStore(STORE).put({ fileKey, unit, data: copy, size: data.length, crc: crc32c(data) });
      await committed(tx);
    } catch (err) {
      if (!isQuota(err)) throw err;
      this.#fallBack('the storage quota is exhausted (QuotaExceededError)');
      await this.memory.put(fileKey, unit, data);
    }
  }

  async delete(fileKey) {
    await this.memory.delete(fileKey);
    if (this.mode === 'memory' || !this.db) return;
    const tx = this.db.transaction(STORE, 'readwrite');
    tx.objectStore(STORE).delete(IDBKeyRange.bound([fileKey, -Infinity], [fileKey, Infinity]));
    await committed(tx);
  }

  /** Units kept for a file (their indices, ascending). */
  async units(fileKey) {
    if (this.mode === 'memory' || !this.db) return [...(this.memory.files.get(fileKey)?.keys() ?? [])].sort((a, b) => a - b);
    const tx = this.db.transaction(STORE, 'readonly');
    const keys = await done(tx.objectStore(STORE).getAllKeys(IDBKeyRange.bound([fileKey, -Infinity], [fileKey, Infinity])));
    return keys.map((k) => k[1]);
  }

  /**
   * The head record kept for a URL (offline.js), or null.
   * @param {string} url
   * @returns {Promise<{url: string, etag: string|null, lastModified: string|null, total: number, bytes: Uint8Array, fileKey: string}|null>}
   */
  async getHead(url) {
    const mem = this.memory.heads?.get(url);
    if (this.mode === 'memory' || !this.db) return mem ?? null;
    const tx = this.db.transaction(HEADS, 'readonly');
    const rec = await done(tx.objectStore(HEADS).get(url));
    if (!rec) return mem ?? null;
    const bytes = new Uint8Array(rec.data);
    if (bytes.length !== rec.size || crc32c(bytes) !== rec.crc) return null; // damaged: as if never seen
    return { url: rec.url, etag: rec.etag, lastModified: rec.lastModified, total: rec.total, bytes, fileKey: rec.fileKey };
  }

  /**
   * Keeps the head of a URL's current version, replacing the previous one.
   * @param {{url: string, etag: string|null, lastModified: string|null, total: number, bytes: Uint8Array, fileKey: string}} head
   */
  async putHead(head) {
    if (this.mode !== 'memory' && this.db) {
      const rec = { ...head, data: head.bytes.slice().buffer, size: head.bytes.length, crc: crc32c(head.bytes) };
      delete rec.bytes;
      try {
        const tx = this.db.transaction(HEADS, 'readwrite');
        tx.objectStore(HEADS).put(rec);
        await committed(tx);
        return;
      } catch (err) {
        if (!isQuota(err)) throw err;
        this.#fallBack('the storage quota is exhausted (QuotaExceededError)');
      }
    }
    (this.memory.heads ??= new Map()).set(head.url, { ...head, bytes: head.bytes.slice() });
  }

  /** Bytes the origin uses and may use (navigator.storage.estimate()), or null. */
  async estimate() {
    try {
      return (await navigator.storage?.estimate?.()) ?? null;
    } catch {
      return null;
    }
  }

  close() {
    this.db?.close();
    this.db = null;
  }
}
