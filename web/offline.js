// offline.js - OfflineTransport: the loader's HTTP transport, plus the
// file's head kept in IndexedDB so that a second visit works with the
// network gone (the blocks are in the IdbStore already; the page, its
// modules and the wasm are in the service worker's cache, demo/sw.js).
//
// Online, every request goes to the server as before, so a file replaced
// on the server (another ETag, Last-Modified or size) is seen at once: the
// loader's file key changes, its blocks are fetched and stored under the
// new key, and commit() drops the previous version's blocks and head.
// While online, the bytes of the head's requests (from byte 0 up to the end
// of the head and at least the first request's range) are kept; commit()
// stores them with the response's ETag, Last-Modified and size, once the
// engine has opened the file.
//
// Offline (fetch itself fails: no network, or the server is down), the
// stored head is replayed with the same ETag, Last-Modified and size, so
// the loader computes the same file key and finds every block in the
// IdbStore: zero bytes from the network. A read past the stored head fails
// with a clear, permanent error (the block was never stored here). Only a
// network failure switches to the stored head; an HTTP error (404, 500)
// is reported as it is.

import { BitstackError } from '../js/src/errors.js';
import { parseHeader } from '../js/src/format.js';
import { HttpTransport } from '../js/src/loader.js';

/** Did fetch fail for want of a network (not an HTTP status, not an abort)? */
export function isNetworkDown(err) {
  const cause = err?.cause;
  return err?.code === 'BS_ERR_IO' && (cause?.name === 'TypeError' || /failed to fetch|network/i.test(cause?.message ?? ''));
}

/** @implements {import('../js/src/loader.js').Transport} */
export class OfflineTransport {
  /**
   * @param {string} url an absolute http(s) URL
   * @param {{store: import('./idb_store.js').IdbStore, fetch?: typeof fetch, idleTimeoutMs?: number}} options
   */
  constructor(url, options) {
    this.inner = new HttpTransport(url, options);
    this.name = url;
    this.store = options.store;
    /** True once the network failed and the stored head answers. */
    this.offline = false;
    this.saved = null; // the stored head being replayed
    // the head as it arrives: bytes from 0, the response's identity, how far to keep
    this.rec = { chunks: [], length: 0, want: 0, etag: null, lastModified: null, total: NaN, dataOffset: 0 };
    this.complete = new Promise((resolve) => (this.#headDone = resolve));
  }

  #headDone;

  async read(start, end, opts = {}) {
    if (!this.offline) {
      try {
        const r = await this.inner.read(start, end, opts);
        return this.#recording(r, start, end);
      } catch (err) {
        if (!isNetworkDown(err)) throw err;
        this.saved = await this.store.getHead(this.name);
        if (!this.saved) {
          throw new BitstackError('BS_ERR_IO', `${this.name}: the server cannot be reached (${err.cause?.message ?? err.message}) ` +
            'and this browser has not kept the file from an earlier visit', { cause: err });
        }
        this.offline = true;
      }
    }
    return this.#replay(start, end);
  }

  /** Passes a response through, keeping the bytes that extend the head from byte 0. */
  #recording(r, start, end) {
    const rec = this.rec;
    const complete = rec.want !== 0 && rec.length >= rec.want; // kept already, or not a .bstk (want -1)
    if (complete || (start !== 0 && start !== rec.length)) return r;
    // a first request (or its retry): start over with this response's identity
    if (start === 0) Object.assign(rec, { chunks: [], length: 0, dataOffset: 0, etag: r.etag, lastModified: r.lastModified, total: r.total, want: end });
    const body = r.body, self = this;
    async function* kept() {
      for await (const chunk of body) {
        if (rec.length < rec.want) {
          const c = chunk.subarray(0, rec.want - rec.length);
          rec.chunks.push(c.slice());
          rec.length += c.length;
          // the head may be longer than the first request: keep all of it
          if (rec.length >= 96 && !rec.dataOffset) {
            try {
              rec.dataOffset = parseHeader(joined(rec.chunks, rec.length)).dataOffset;
              rec.want = Math.min(Math.max(rec.want, rec.dataOffset), Number.isNaN(rec.total) ? Infinity : rec.total);
            } catch {
              // not a .bstk: the loader says so; keep nothing (commit() never stores it)
              Object.assign(rec, { chunks: [], length: 0, want: -1 });
            }
          }
          if (rec.want > 0 && rec.length >= rec.want) self.#headDone();
        }
        yield chunk;
      }
    }
    return { ...r, body: kept() };
  }

  /** Serves [start, end) from the stored head, as the server sent it. */
  #replay(start, end) {
    const h = this.saved;
    if (start >= h.bytes.length) {
      const e = new BitstackError('BS_ERR_IO', `${this.name}: offline, and bytes ${start}-${end - 1} were never stored in this browser ` +
        '(reconnect to load more of the model)');
      e.permanent = true;
      throw e;
    }
    const bytes = h.bytes.subarray(start, Math.min(end, h.bytes.length));
    return { ranged: true, start, total: h.total, etag: h.etag, lastModified: h.lastModified,
      body: (async function* () { yield bytes; })() };
  }

  /**
   * Stores the head for offline visits under the loader's file key, and
   * forgets the previous version of this URL (its head and its blocks).
   * Call once the engine has opened the file. Resolves when stored to
   * {replaced: the old file key or null}; with a server that ignores Range
   * the head is complete only once its bytes have streamed past, so this
   * may wait for the download.
   * @param {string} fileKey RangeLoader.storeKey
   */
  async commit(fileKey) {
    if (this.offline) return { replaced: null };
    await this.complete;
    const rec = this.rec;
    const old = await this.store.getHead(this.name);
    await this.store.putHead({ url: this.name, etag: rec.etag, lastModified: rec.lastModified, total: rec.total,
      bytes: joined(rec.chunks, rec.length), fileKey });
    if (old && old.fileKey !== fileKey) {
      await this.store.delete(old.fileKey);
      return { replaced: old.fileKey };
    }
    return { replaced: null };
  }
}

function joined(chunks, n) {
  const out = new Uint8Array(n);
  let pos = 0;
  for (const c of chunks) {
    out.set(c.subarray(0, n - pos), pos);
    pos += Math.min(c.length, n - pos);
  }
  return out;
}
