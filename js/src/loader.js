// loader.js - the range loader, shared by Node and browsers.
//
// A .bstk is fetched as its prefix grows (core/FORMAT.md 6):
//   1. the head: one request for the first `headGuess` bytes (64 KiB), which
//      holds the header, metadata, tensor table and index of most files, and
//      often the resident section too; a second request only when the head
//      is longer;
//   2. the resident section, then the stack blocks in stack order; adjacent
//      blocks are coalesced into requests of up to `maxRequestBytes`.
// Each payload's CRC-32C is checked as soon as its last byte arrives; a
// unit (the resident section or one block) is handed out only verified.
// Failures (a dropped connection, a server error, a corrupted block) are
// retried with exponential backoff, resuming at the first unverified unit.
// A server that ignores Range (200 instead of 206) is read as one streamed
// full GET: what precedes the wanted bytes is skipped, and the same response
// goes on to serve every later unit. If the file changes on the server
// between requests (another ETag, size or Last-Modified), loading stops
// rather than mix versions. A store that fails (quota, disk) costs the
// cache, never the download: the error is kept in `storeError`.
// An AbortSignal cancels at any point with the platform's AbortError.
//
// Sources: an http(s) URL (fetch: Node 20 and browsers), a file path or
// file: URL (Node only, read with node:fs), or any object with the
// Transport interface below.

import { crc32c } from './crc32c.js';
import { BitstackError, abortReason, isAbortError, sleep, throwIfAborted } from './errors.js';
import { availableBlocks, blockEntry, parseHead, parseHeader } from './format.js';

/**
 * A byte source. read() resolves once the response has started; `body`
 * yields chunks from `start` and may stop early (the loader notices).
 * ranged is false when a server ignored the range and sends the whole file
 * (start is then 0).
 * @typedef {object} Transport
 * @property {string} name
 * @property {boolean} [local] a second read gives the same bytes (a local file): the loader does not retry it
 * @property {(start: number, end: number, opts: {signal?: AbortSignal, ifRange?: string}) =>
 *   Promise<{ranged: boolean, start: number, total: number, etag: string|null, lastModified: string|null,
 *            body: AsyncIterable<Uint8Array>}>} read
 */

/** A failure worth another try: the network, a server error, a bad block. */
function retriable(err) {
  return err instanceof BitstackError && (err.code === 'BS_ERR_IO' || err.code === 'BS_ERR_CHECKSUM') && !err.permanent;
}

function ioError(message, { permanent = false, cause } = {}) {
  const e = new BitstackError('BS_ERR_IO', message, { cause });
  e.permanent = permanent;
  return e;
}

/**
 * Chunks of a fetch Response body (works where ReadableStream is not
 * async-iterable). watch.tick() re-arms the idle timer after each chunk.
 */
async function* bodyChunks(res, signal, watch) {
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      watch.tick();
      yield value;
    }
  } catch (err) {
    throw watch.error(err);
  } finally {
    watch.stop();
    reader.cancel().catch(() => {});
  }
}

/**
 * An AbortController for one request: follows the caller's signal, and
 * fires on its own when no byte arrives for idleMs (a stalled server must
 * not hang a download: the loader retries).
 */
function requestWatch(signal, idleMs, name) {
  const inner = new AbortController();
  let timer = null, idle = false;
  const onAbort = () => inner.abort(signal.reason);
  if (signal?.aborted) inner.abort(signal.reason);
  else signal?.addEventListener('abort', onAbort, { once: true });
  const watch = {
    signal: inner.signal,
    tick() {
      clearTimeout(timer);
      timer = setTimeout(() => {
        idle = true;
        inner.abort();
      }, idleMs);
    },
    stop() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
    /** The error to report for a failure of fetch or of the body. */
    error(err) {
      watch.stop();
      if (signal?.aborted) return abortReason(signal);
      if (idle) return ioError(`${name}: no data for ${idleMs / 1000} s`);
      if (isAbortError(err)) return err;
      return ioError(`${name}: connection lost: ${err.message}`, { cause: err });
    },
  };
  watch.tick();
  return watch;
}

/** fetch + Range. */
export class HttpTransport {
  /**
   * @param {string} url
   * @param {{fetch?: typeof fetch, headers?: Record<string, string>, idleTimeoutMs?: number}} [opts]
   */
  constructor(url, opts = {}) {
    this.url = url;
    this.name = url;
    this.fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.headers = opts.headers ?? {};
    this.idleMs = opts.idleTimeoutMs ?? 30000;
  }

  async read(start, end, { signal, ifRange } = {}) {
    const headers = { ...this.headers, Range: `bytes=${start}-${end - 1}` };
    if (ifRange) headers['If-Range'] = ifRange;
    const watch = requestWatch(signal, this.idleMs, this.url);
    let res;
    try {
      res = await this.fetch(this.url, { headers, signal: watch.signal, cache: 'no-store' });
    } catch (err) {
      throw watch.error(err);
    }
    const etag = res.headers.get('etag');
    const lastModified = res.headers.get('last-modified');
    if (res.status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (!m || Number(m[1]) !== start) {
        watch.stop();
        res.body?.cancel().catch(() => {});
        throw ioError(`${this.url}: unexpected Content-Range ${res.headers.get('content-range')}`);
      }
      return { ranged: true, start, total: m[3] === '*' ? NaN : Number(m[3]), etag, lastModified, body: bodyChunks(res, signal, watch) };
    }
    if (res.status === 200) {
      const total = Number(res.headers.get('content-length') ?? NaN);
      return { ranged: false, start: 0, total, etag, lastModified, body: bodyChunks(res, signal, watch) };
    }
    watch.stop();
    res.body?.cancel().catch(() => {});
    if (res.status === 416) {
      throw new BitstackError('BS_ERR_TRUNCATED', `${this.url}: the server has fewer bytes than the file needs (HTTP 416)`);
    }
    // 5xx, 408 and 429 may pass; other client errors will not
    const permanent = res.status < 500 && res.status !== 429 && res.status !== 408;
    throw ioError(`${this.url}: HTTP ${res.status} ${res.statusText}`, { permanent });
  }
}

/** Reads a local file with node:fs (Node only). */
export class FileTransport {
  constructor(path) {
    this.path = path;
    this.name = path;
    // a damaged or truncated file reads the same way every time: retrying (with backoff) only delays the error
    this.local = true;
  }

  async read(start, end, { signal } = {}) {
    const { open, stat } = await import('node:fs/promises');
    throwIfAborted(signal);
    let st;
    try {
      st = await stat(this.path);
    } catch (err) {
      throw ioError(`cannot open ${this.path}: ${err.message}`, { permanent: true, cause: err });
    }
    if (!st.isFile()) throw ioError(`${this.path} is not a file`, { permanent: true });
    const stop = Math.min(end, st.size);
    const path = this.path;
    // the handle is opened on the first read, so a body never iterated holds none
    async function* body() {
      const fh = await open(path, 'r');
      try {
        for (let pos = start; pos < stop;) {
          throwIfAborted(signal);
          const n = Math.min(1 << 20, stop - pos);
          const { bytesRead, buffer } = await fh.read(new Uint8Array(n), 0, n, pos);
          if (bytesRead === 0) return;
          pos += bytesRead;
          yield buffer.subarray(0, bytesRead);
        }
      } finally {
        await fh.close();
      }
    }
    return { ranged: true, start, total: st.size, etag: `"${st.size}-${st.mtimeMs}"`, lastModified: null, body: body() };
  }
}

/** Picks the transport for a path, a URL string or a URL. */
export function transportFor(source, opts = {}) {
  if (source && typeof source === 'object' && typeof source.read === 'function') return source;
  const s = source instanceof URL ? source.href : String(source);
  if (/^https?:\/\//i.test(s)) return new HttpTransport(s, opts);
  if (/^file:/i.test(s)) return new FileTransport(new URL(s));
  if (typeof process === 'undefined' || !process.versions?.node) {
    throw new BitstackError('BS_ERR_INVALID_ARG', `${s}: give an http(s) URL (file paths need Node)`);
  }
  return new FileTransport(s);
}

/**
 * @typedef {object} LoaderOptions
 * @property {typeof fetch} [fetch] fetch to use (default: globalThis.fetch)
 * @property {Record<string, string>} [headers] extra request headers
 * @property {number} [idleTimeoutMs=30000] a request that receives nothing this long is dropped and retried
 * @property {number} [headGuess=65536] bytes of the first request
 * @property {number} [maxRequestBytes=8388608] coalesce adjacent blocks up to this many bytes per request
 * @property {number} [retries=5] further tries of a unit after a failure (default 0 for a local file, Transport.local)
 * @property {number} [backoffMs=200] first retry delay; doubles each time
 * @property {number} [maxBackoffMs=5000] cap of the delay
 * @property {import('./store.js').BlockStore} [store] verified blocks are kept here and looked up first
 */

/**
 * One unit of the download: the resident section (index -1) or block i.
 * @typedef {{index: number, start: number, end: number, entries: {offset: number, size: number, crc: number}[]}} Unit
 */

export class RangeLoader {
  /**
   * @param {string|URL|Transport} source
   * @param {LoaderOptions} [options]
   */
  constructor(source, options = {}) {
    this.transport = transportFor(source, options);
    this.headGuess = options.headGuess ?? 65536;
    this.maxRequestBytes = options.maxRequestBytes ?? 8 << 20;
    this.retries = options.retries ?? (this.transport.local ? 0 : 5);
    this.backoffMs = options.backoffMs ?? 200;
    this.maxBackoffMs = options.maxBackoffMs ?? 5000;
    this.store = options.store ?? null;
    /** Counters: requests made, payload bytes received, retries, units from the store. */
    this.stats = { requests: 0, bytes: 0, retries: 0, fullGets: 0, fromNetwork: 0, fromStore: 0, storeErrors: 0 };
    /** The store's first failure (e.g. a QuotaExceededError), or null: blocks are then no longer written to it. */
    this.storeError = null;
    /** @type {import('./format.js').BstkHead|null} */
    this.head = null;
    this.headBytes = null;
    this.identity = null;
    this.size = NaN; // bytes the source holds
    this.available = 0; // stack blocks the source holds
    this.prefetch = null; // {start, bytes}: bytes past the head from the first response
    this.stream = null; // a full-body response being read (server without Range)
  }

  /** Ends a full-body response kept open for later blocks (servers without Range). */
  close() {
    this.stream?.it.return?.()?.catch?.(() => {});
    this.stream = null;
  }

  /** Key of this file's version, for stores: source, ETag or size, header CRC. */
  get storeKey() {
    const id = this.identity;
    return id && `${id.source}|${id.etag ?? ''}|${id.lastModified ?? ''}|${id.size}|${id.headerCrc}`;
  }

  async #request(start, end, signal) {
    this.stats.requests++;
    const ifRange = this.identity?.etag && !this.identity.etag.startsWith('W/') ? this.identity.etag : undefined;
    const r = await this.transport.read(start, end, { signal, ifRange });
    const change = this.identity && versionChange(this.identity, r);
    if (change) {
      for await (const _ of r.body) break; // eslint-disable-line no-unused-vars
      throw new BitstackError('BS_ERR_STATE', `${this.transport.name} changed during the download (${change})`);
    }
    if (!r.ranged) this.stats.fullGets++;
    return r;
  }

  /** A store that fails (quota, disk full, a broken database) costs the cache, never the download. */
  async #storeGet(unit) {
    if (!this.store) return null;
    try {
      return await this.store.get(this.storeKey, unit);
    } catch (err) {
      this.#storeFailed(err);
      return null;
    }
  }

  async #storePut(unit, data) {
    if (!this.store || this.storeError) return;
    try {
      await this.store.put(this.storeKey, unit, data);
    } catch (err) {
      this.#storeFailed(err); // later units are not offered to it again
    }
  }

  #storeFailed(err) {
    this.stats.storeErrors++;
    this.storeError ??= err;
  }

  /**
   * Fetches and parses the head (retrying like every other request).
   * @param {{signal?: AbortSignal}} [opts]
   */
  async openHead({ signal } = {}) {
    if (this.head) return this.head;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#openHeadOnce(signal);
      } catch (err) {
        this.identity = null; // nothing was handed out: another try starts afresh, with whatever version the server has
        if (!retriable(err) || attempt >= this.retries) throw err;
        await this.#backoff(attempt, signal);
      }
    }
  }

  async #openHeadOnce(signal) {
    const r = await this.#request(0, this.headGuess, signal);
    const it = r.body[Symbol.asyncIterator]();
    const expect = r.ranged ? Math.min(this.headGuess, Number.isNaN(r.total) ? Infinity : r.total) : Infinity;
    const chunks = [];
    let got = 0, header = null, want = expect;
    // a server without Range sends the whole file: read only as far as the head
    try {
      while (got < want) {
        const { done, value } = await it.next();
        if (done) break;
        chunks.push(value);
        got += value.length;
        if (!header && got >= 96) {
          header = parseHeader(concat(chunks, got));
          if (!r.ranged) want = header.dataOffset;
        }
      }
    } catch (err) {
      await it.return?.();
      throw err;
    }
    if (r.ranged) await it.return?.(); // done with this response (frees its connection or file handle)
    if (r.ranged && got < expect) throw ioError(`${this.transport.name}: connection lost in the head (${got} bytes)`);
    let bytes = concat(chunks, got);
    if (!header) header = parseHeader(bytes); // a file shorter than a header: TRUNCATED or FORMAT
    const identity = () => ({ source: this.transport.name, etag: r.etag, lastModified: r.lastModified,
      size: Number.isNaN(r.total) ? header.fileSize : r.total, headerCrc: header.headerCrc });
    if (r.ranged) {
      if (got < header.dataOffset) {
        // the rest of the head must be the same version: from here on requests carry If-Range and are checked
        this.identity = identity();
        bytes = concat([bytes, await this.#readRange(got, header.dataOffset, signal)], header.dataOffset);
      }
    } else if (got < header.dataOffset) {
      throw ioError(`${this.transport.name}: connection lost in the head (${got} of ${header.dataOffset} bytes)`);
    }
    const head = parseHead(bytes);
    const size = Number.isNaN(r.total) ? head.header.fileSize : r.total;
    this.available = availableBlocks(head, size);
    this.size = size;
    this.head = head;
    this.headBytes = bytes.slice(0, header.dataOffset);
    const extra = bytes.subarray(header.dataOffset);
    if (!r.ranged) this.stream = { it, pos: header.dataOffset, leftover: extra.length ? extra : null };
    else if (extra.length) this.prefetch = { start: header.dataOffset, bytes: extra };
    this.identity = identity();
    this.stats.bytes += got;
    return head;
  }

  /** Exactly the bytes [start, end) with one ranged request. */
  async #readRange(start, end, signal) {
    const r = await this.#request(start, end, signal);
    if (!r.ranged) {
      r.body[Symbol.asyncIterator]().return?.();
      throw ioError(`${this.transport.name}: the server stopped honouring Range`);
    }
    const out = new Uint8Array(end - start);
    let pos = 0;
    for await (const c of r.body) {
      const n = Math.min(c.length, out.length - pos);
      out.set(c.subarray(0, n), pos);
      pos += n;
      if (pos === out.length) break;
    }
    if (pos < out.length) throw ioError(`${this.transport.name}: connection lost (${pos} of ${out.length} bytes)`);
    this.stats.bytes += out.length;
    return out;
  }

  async #backoff(attempt, signal) {
    this.stats.retries++;
    await sleep(Math.min(this.maxBackoffMs, this.backoffMs * 2 ** attempt), signal);
  }

  /** The units [from, to) of the stack, with the resident section as unit -1. */
  #units(from, to) {
    const head = this.head;
    const units = [];
    for (let i = from; i < to; i++) {
      if (i < 0) {
        const entries = head.entries.slice(0, head.header.nResident);
        units.push({ index: -1, start: head.header.dataOffset, end: head.residentEnd, entries });
      } else {
        const e = blockEntry(head, i);
        units.push({ index: i, start: e.offset, end: e.offset + e.size, entries: [e] });
      }
    }
    return units;
  }

  /**
   * Yields verified units in order: {index, data} with index -1 for the
   * resident section (data = bytes [data_offset, residentEnd)) and i for
   * stack block i (data = its payload). from = -1 starts with the resident
   * section; to = the number of blocks wanted.
   * @param {number} from
   * @param {number} to
   * @param {{signal?: AbortSignal}} [opts]
   * @returns {AsyncGenerator<{index: number, data: Uint8Array, cached: boolean}>}
   */
  async *units(from, to, { signal } = {}) {
    if (!this.head) await this.openHead({ signal });
    if (to > this.available) {
      throw new BitstackError('BS_ERR_TRUNCATED',
        `${this.transport.name} holds ${this.available} of ${this.head.nBlocks} blocks; ${to} were asked for`);
    }
    const units = this.#units(from, to);
    // store and prefetch lookups, once per unit: batches stop before a unit we already have
    const found = new Map();
    const lookup = async (k) => {
      if (!found.has(k)) found.set(k, await this.#fromStoreOrPrefetch(units[k]));
      return found.get(k);
    };
    let i = 0, attempts = 0;
    while (i < units.length) {
      throwIfAborted(signal);
      const cached = await lookup(i);
      if (cached) {
        found.delete(i);
        yield { index: units[i].index, data: cached.data, cached: cached.store };
        i++;
        continue;
      }
      let j = i + 1;
      while (j < units.length && units[j].end - units[i].start <= this.maxRequestBytes && !(await lookup(j))) j++;
      try {
        for await (const data of this.#fetchBatch(units, i, j, lookup, signal)) {
          found.delete(i);
          yield { index: units[i].index, data, cached: false };
          i++;
          attempts = 0;
        }
      } catch (err) {
        if (!retriable(err) || attempts >= this.retries) throw err;
        await this.#backoff(attempts++, signal);
      }
    }
  }

  async #fromStoreOrPrefetch(unit) {
    const stored = await this.#storeGet(unit.index);
    if (stored && stored.length === unit.end - unit.start && verify(unit, stored)) {
      this.stats.fromStore++;
      return { data: stored, store: true };
    }
    const p = this.prefetch;
    if (p && unit.start >= p.start && unit.end <= p.start + p.bytes.length) {
      const data = p.bytes.slice(unit.start - p.start, unit.end - p.start);
      if (verify(unit, data)) {
        this.stats.fromNetwork++; // it came with the head's response
        await this.#storePut(unit.index, data);
        return { data, store: false };
      }
      this.prefetch = null; // wrong bytes in the head's response: fetch the unit again
    }
    return null;
  }

  /** The bytes from `start` on that the head's response already holds (empty if none). */
  #prefetchTail(start) {
    const p = this.prefetch;
    if (!p || start < p.start || start >= p.start + p.bytes.length) return new Uint8Array(0);
    return p.bytes.subarray(start - p.start);
  }

  /** Streams units[i, j) with one request; a full body (no Range) goes on through every later unit. */
  async *#fetchBatch(units, i, j, lookup, signal) {
    const start = units[i].start;
    let source, held = new Uint8Array(0);
    if (this.stream && this.stream.pos <= start) {
      source = this.stream; // continue the full-body response
    } else {
      // the head's response may hold the beginning of this unit: ask only for the rest,
      // so that no byte of the file is fetched twice
      held = this.#prefetchTail(start);
      const r = await this.#request(start + held.length, units[j - 1].end, signal);
      const it = r.body[Symbol.asyncIterator]();
      if (!r.ranged) held = new Uint8Array(0);
      source = held.length ? { it, pos: start, leftover: held } : { it, pos: r.start, leftover: null };
      this.stream = r.ranged ? null : source; // a full body serves every later unit too
    }
    const full = source === this.stream;
    const last = full ? units.length : j;
    let complete = false;
    try {
      for (let k = i; k < last; k++) {
        const u = units[k];
        const cached = k > i && full ? await lookup(k) : null;
        const data = await readUnit(source, u, !cached);
        if (cached) {
          yield cached.data;
          continue;
        }
        this.stats.bytes += k === i ? data.length - held.length : data.length;
        if (!verify(u, data)) {
          if (k === i && held.length) this.prefetch = null; // the fault may lie in the head's bytes
          throw new BitstackError('BS_ERR_CHECKSUM',
            `${this.transport.name}: checksum mismatch in ${u.index < 0 ? 'the resident section' : `block ${u.index}`}`);
        }
        this.stats.fromNetwork++;
        await this.#storePut(u.index, data);
        yield data;
      }
      complete = true;
    } finally {
      // a ranged response is done; a full body is kept only while it is healthy
      if (!full || !complete) {
        if (full) this.stream = null;
        source.it.return?.()?.catch?.(() => {});
      }
    }
  }
}

/**
 * How a response shows that the file is not the one whose head was read, or
 * null: another strong ETag, another total size (Content-Range), or, when
 * the server gives no ETag, another Last-Modified. (Blocks are also checked
 * against the first head's CRCs, so bytes of another version are never
 * handed out even by a server that says nothing.)
 */
function versionChange(id, r) {
  if (r.etag && id.etag && r.etag !== id.etag) return `ETag ${id.etag} -> ${r.etag}`;
  if (r.ranged && Number.isFinite(r.total) && Number.isFinite(id.size) && r.total !== id.size) {
    return `size ${id.size} -> ${r.total} bytes`;
  }
  if (!r.etag && !id.etag && r.lastModified && id.lastModified && r.lastModified !== id.lastModified) {
    return `Last-Modified ${id.lastModified} -> ${r.lastModified}`;
  }
  return null;
}

function concat(chunks, n) {
  if (chunks.length === 1 && chunks[0].length === n) return chunks[0];
  const out = new Uint8Array(n);
  let pos = 0;
  for (const c of chunks) {
    const k = Math.min(c.length, n - pos);
    out.set(c.subarray(0, k), pos);
    pos += k;
    if (pos === n) break;
  }
  return out;
}

/** Reads [u.start, u.end) from a positioned chunk stream (skipping what precedes it). */
async function readUnit(source, u, keep) {
  const out = keep ? new Uint8Array(u.end - u.start) : null;
  let pos = source.pos; // file offset of the next byte of leftover/stream
  let filled = 0;
  const take = (chunk) => {
    // chunk covers [pos, pos + chunk.length)
    const lo = Math.max(u.start, pos), hi = Math.min(u.end, pos + chunk.length);
    if (hi > lo && out) out.set(chunk.subarray(lo - pos, hi - pos), lo - u.start);
    if (hi > lo) filled += hi - lo;
    const used = Math.max(0, Math.min(chunk.length, u.end - pos));
    pos += used;
    return used < chunk.length ? chunk.subarray(used) : null;
  };
  if (source.leftover) source.leftover = take(source.leftover);
  while (pos < u.end && !source.leftover) {
    const { done, value } = await source.it.next();
    if (done) break;
    source.leftover = take(value);
  }
  source.pos = pos;
  if (pos < u.end) throw ioError(`connection lost at byte ${pos} (unit ends at ${u.end})`);
  return out ?? new Uint8Array(0);
}

/** Checks every payload CRC of a unit's bytes. */
function verify(unit, data) {
  for (const e of unit.entries) {
    const off = e.offset - unit.start;
    if (crc32c(data.subarray(off, off + e.size)) !== e.crc) return false;
  }
  return true;
}
