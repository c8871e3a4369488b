// idb_store.js - a BlockStore in IndexedDB (browsers): verified blocks kept
// across reloads and browser restarts, so a second visit fetches only the
// head, or nothing at all once the head is cached too (offline.js).
//
// Object store "units", keyed by [fileKey, unit] (js/src/store.js: the
// file key joins URL, ETag, size and header CRC; unit -1 is the resident
// section). A record holds one unit: {fileKey, unit, data, crc, size}.
// Chromium rejects values above ~128 MB, and a unit may be larger: the
// resident section (binary16 norms, scales, outlier columns, and tables kept
// whole) passes 128 MB for models of about 0.8B parameters and more, and one
// bit plane of a large token table is tens of MB. So a unit longer than
// `maxRecordBytes` (32 MiB) is kept as pieces in object store "pieces"
// (database version 3), keyed by [fileKey, unit, part], each
// {data, crc, size} of at most maxRecordBytes, all written in one
// transaction with a "units" record {fileKey, unit, size, parts, pieceBytes}
// that lists them (no data). Every record's own CRC-32C (every piece's) is
// checked on every read, so a damaged record reads as missing (and the
// loader, which checks the index CRCs too, fetches the unit again). Records
// of version 2 (one record per unit, whatever its size) read as before.
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
const PIECES = 'pieces';
// 2: units and heads; 3: pieces of units longer than maxRecordBytes
const VERSION = 3;
const MAX_RECORD_BYTES = 32 * 2 ** 20;

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
      if (!db.objectStoreNames.contains(PIECES)) db.createObjectStore(PIECES, { keyPath: ['fileKey', 'unit', 'part'] });
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

/** A whole-unit record's bytes if its size and CRC hold, else null. */
function checked(rec) {
  const data = new Uint8Array(rec.data ?? 0);
  return data.length === rec.size && crc32c(data) === rec.crc ? data : null;
}

/**
 * The unit a piece list describes, from its piece records (ascending part),
 * or null when one is missing, of the wrong size or damaged.
 */
function joinPieces(rec, pieces) {
  const { size, parts, pieceBytes } = rec;
  if (pieces.length !== parts || !(pieceBytes > 0) || Math.ceil(size / pieceBytes) !== parts) return null;
  const out = new Uint8Array(size);
  for (let part = 0; part < parts; part++) {
    const p = pieces[part], data = p.part === part && checked(p);
    if (!data || data.length !== Math.min(pieceBytes, size - part * pieceBytes)) return null;
    out.set(data, part * pieceBytes);
  }
  return out;
}

const isQuota = (err) => err?.name === 'QuotaExceededError' || err?.inner?.name === 'QuotaExceededError';

/**
 * @typedef {object} IdbStoreOptions
 * @property {string} [name='bitstack-blocks'] database name
 * @property {boolean} [persist=true] ask navigator.storage.persist() so the browser does not evict the blocks
 * @property {IDBFactory} [indexedDB=globalThis.indexedDB] the factory (tests may pass fake-indexeddb's)
 * @property {number} [blockedMs=3000] how long to wait for other tabs to close an older version of the database
 * @property {number} [maxRecordBytes=33554432] longest value written as one record (32 MiB): a longer unit is split
 *   into pieces of at most this many bytes (Chromium rejects values above ~128 MB)
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
    store.maxRecordBytes = Math.max(1, Math.floor(options.maxRecordBytes ?? MAX_RECORD_BYTES));
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
    /** Longest value kept as one record; longer units are split into pieces. */
    this.maxRecordBytes = MAX_RECORD_BYTES;
    /** Counters: units read, found, rejected (bad CRC or size), written; records written (pieces count one each). */
    this.stats = { gets: 0, hits: 0, bad: 0, puts: 0, records: 0 };
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
    const tx = this.db.transaction([STORE, PIECES], 'readonly');
    const rec = await done(tx.objectStore(STORE).get([fileKey, unit]));
    if (!rec) return (await this.memory.get(fileKey, unit)) ?? null;
    const data = rec.parts === undefined ? checked(rec)
      : joinPieces(rec, await done(tx.objectStore(PIECES).getAll(IDBKeyRange.bound([fileKey, unit, 0], [fileKey, unit, Infinity]))));
    if (!data) {
      this.stats.bad++;
      return null; // damaged on disk: read as missing, so the loader fetches it again
    }
    this.stats.hits++;
    return data;
  }

  async put(fileKey, unit, data) {
    this.stats.puts++;
    if (this.mode === 'memory') return this.memory.put(fileKey, unit, data);
    try {
      // one transaction: a unit's pieces and the record listing them are stored together or not at all
      const tx = this.db.transaction([STORE, PIECES], 'readwrite');
      const units = tx.objectStore(STORE), pieces = tx.objectStore(PIECES);
      // a unit stored before in another shape (another piece size, or whole) leaves no piece behind
      pieces.delete(IDBKeyRange.bound([fileKey, unit, 0], [fileKey, unit, Infinity]));
      const step = this.maxRecordBytes;
      if (data.length <= step) {
        // an ArrayBuffer of exactly the unit (a view may share a larger buffer)
        units.put({ fileKey, unit, data: data.slice().buffer, size: data.length, crc: crc32c(data) });
        this.stats.records++;
      } else {
        const parts = Math.ceil(data.length / step);
        for (let part = 0; part < parts; part++) {
          const piece = data.subarray(part * step, Math.min(data.length, (part + 1) * step));
          pieces.put({ fileKey, unit, part, data: piece.slice().buffer, size: piece.length, crc: crc32c(piece) });
        }
        units.put({ fileKey, unit, size: data.length, parts, pieceBytes: step });
        this.stats.records += parts + 1;
      }
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
    const tx = this.db.transaction([STORE, PIECES], 'readwrite');
    // [fileKey, -Infinity] < [fileKey, unit, part] < [fileKey, Infinity]: one range covers both stores
    const all = IDBKeyRange.bound([fileKey, -Infinity], [fileKey, Infinity]);
    tx.objectStore(STORE).delete(all);
    tx.objectStore(PIECES).delete(all);
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
