// worker_engine.js - WorkerEngine: the Engine in a Web Worker, behind the
// Engine's interface, so a page swaps one for the other:
//
//   const engine = await WorkerEngine.open(url, { budgetPolicy: {}, onProgress });
//   for await (const t of engine.generate('Once upon a time', { maxTokens: 60 })) out.textContent += t.text;
//   await engine.resize('200KB');
//
// What differs, and why: calls that the in-thread engine answers
// synchronously from wasm memory (stack(), info(), position) are answered
// from the latest snapshot the worker sent (after every block, resize and
// reply); reset(), tokenize() and close() return promises (await works on
// both). The budget is not a function (functions do not cross to a worker)
// but a budgetPolicy for browserBudget (web/budget.js), evaluated in the
// worker. Blocks are stored in IndexedDB by the worker. Chat requests go
// through chatStream() (the worker runs Chat, with @huggingface/jinja
// imported by the URL the page's import map gives: the worker has none).

import { BitstackError } from '../js/src/errors.js';

/** Rebuilds an error the worker sent: BitstackError with its code, or AbortError. */
function rebuild(e) {
  if (e.name === 'AbortError') return new DOMException(e.message, 'AbortError');
  if (e.code) return new BitstackError(e.code, e.message);
  return new Error(e.message);
}

/**
 * @typedef {object} WorkerOpenOptions
 * @property {import('./budget.js').BrowserBudgetOptions} [budgetPolicy={}] how the worker picks the budget
 * @property {boolean} [progressive=true] return after the resident section; blocks attach in the background
 * @property {'auto'|'simd128'|'scalar'} [flavor='auto']
 * @property {number} [threads=1] threads of the forward pass in the worker (the threaded wasm build when the
 *   worker is cross-origin isolated, else one thread: Engine's OpenOptions.threads)
 * @property {number} [ctx] KV cache length in tokens
 * @property {{maxRequestBytes?: number, backoffMs?: number, retries?: number, idleTimeoutMs?: number}} [loader] loader
 *   options (no fetch: the worker has its own)
 * @property {{maxRecordBytes?: number, blockedMs?: number}} [storeOptions] options of the worker's IdbStore
 * @property {(p: import('../js/src/engine.js').Progress) => void} [onProgress]
 * @property {URL|string} [workerUrl] the worker script (default: worker.js next to this file)
 * @property {URL|string} [jinjaUrl] where the worker imports @huggingface/jinja from, for chat templates (default:
 *   what the page's import map resolves the package name to; a module worker has no import map of its own)
 */

/** The page's URL for @huggingface/jinja (its import map's), or null when the name does not resolve here. */
function pageJinjaUrl() {
  try {
    return import.meta.resolve('@huggingface/jinja');
  } catch {
    return null; // no import map entry: the worker says so if a chat needs it
  }
}

export class WorkerEngine {
  /**
   * @param {string} source an http(s) URL (absolute: the worker resolves against its own URL)
   * @param {WorkerOpenOptions} [options]
   */
  static async open(source, options = {}) {
    const worker = new Worker(options.workerUrl ?? new URL('./worker.js', import.meta.url), { type: 'module' });
    const e = new WorkerEngine(worker, options.onProgress ?? null);
    const { onProgress, workerUrl, jinjaUrl, ...rest } = options; // eslint-disable-line no-unused-vars
    const jinja = jinjaUrl ? String(jinjaUrl) : pageJinjaUrl();
    try {
      const { head, snapshot, resources } = await e.#call({ op: 'open', source: String(source), options: rest, jinjaUrl: jinja });
      e.head = head;
      e.resources = resources;
      e.#take(snapshot);
    } catch (err) {
      worker.terminate();
      throw err;
    }
    return e;
  }

  constructor(worker, onProgress) {
    this.worker = worker;
    this.onProgress = onProgress;
    this.head = null;
    /** URLs the worker fetched while opening (its modules, the wasm). */
    this.resources = [];
    this.snap = null;
    this.closed = false;
    this.nextId = 1;
    /** @type {Map<number, {resolve: Function, reject: Function, onEvent?: Function}>} */
    this.pending = new Map();
    let readyResolve, readyReject;
    /** Settles when the budget's blocks are attached (as Engine.ready). */
    this.ready = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.ready.catch(() => {});
    worker.onmessage = ({ data: m }) => {
      if (m.snapshot) this.#take(m.snapshot);
      if (m.type === 'progress') this.onProgress?.(m.progress);
      else if (m.type === 'ready') readyResolve();
      else if (m.type === 'ready-error') readyReject(rebuild(m.error));
      else {
        const p = this.pending.get(m.id);
        if (!p) return;
        if (m.type === 'result') {
          this.pending.delete(m.id);
          p.resolve(m.value);
        } else if (m.type === 'error') {
          this.pending.delete(m.id);
          p.reject(rebuild(m.error));
        } else p.onEvent?.(m);
      }
    };
    worker.onerror = (ev) => {
      const err = new BitstackError('BS_ERR_STATE', `worker: ${ev.message}`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
  }

  #take(snap) {
    if (!snap) return;
    this.snap = snap;
    if (snap.store) this.store = snap.store;
  }

  #call(msg, { onEvent, signal } = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason ?? new DOMException('aborted', 'AbortError'));
      this.pending.set(id, { resolve, reject, onEvent });
      signal?.addEventListener('abort', () => this.worker.postMessage({ op: 'abort', target: id }), { once: true });
      this.worker.postMessage({ ...msg, id });
    }).then((v) => {
      if (v && typeof v === 'object' && 'stack' in v) this.#take(v);
      return v;
    });
  }

  /** Loader facts: size, available, storeKey, stats (a snapshot). */
  get loader() { return this.snap.loader; }
  get targetBlocks() { return this.snap.targetBlocks; }
  get position() { return this.snap.position; }
  /** Offline facts (web/offline.js): {network: 'online'|'offline', headStored, replaced}. */
  get offline() { return this.snap.offline; }

  /** Bytes the worker received over the network, requests made. */
  get net() { return this.snap.net; }
  /** The budget the worker chose ({bytes, source, deviceGiB, sessionBytes}). */
  get budget() { return this.snap.budget; }
  /** Bytes of the worker's wasm memory. */
  get memoryBytes() { return this.snap.memoryBytes; }
  stack() { return this.snap.stack; }
  info() { return this.snap.info; }

  /** As Engine.resize. */
  async resize(budget) {
    await this.#call({ op: 'resize', budget });
  }

  async reset() {
    await this.#call({ op: 'reset' });
  }

  /** @returns {Promise<Int32Array>} */
  tokenize(text, opts = {}) {
    return this.#call({ op: 'tokenize', text, opts });
  }

  /**
   * As Engine.generate: tokens stream from the worker.
   * @param {string|number[]} prompt
   * @param {import('../js/src/engine.js').GenerateOptions} [options]
   */
  async *generate(prompt, options = {}) {
    const { signal, stats, ...rest } = options; // eslint-disable-line no-unused-vars
    yield* this.#stream({ op: 'generate', prompt: typeof prompt === 'string' ? prompt : Array.from(prompt), options: rest },
      signal, (m) => m.token);
  }

  /** chat.completions.create with stream: true, run in the worker: yields the chunks. */
  async *chatStream(request, { signal } = {}) {
    yield* this.#stream({ op: 'chat', request }, signal, (m) => m.chunk);
  }

  async *#stream(msg, signal, pick) {
    const queue = [];
    let wake = null, end = false, failure = null;
    const push = () => {
      wake?.();
      wake = null;
    };
    this.#call(msg, { signal, onEvent: (m) => { queue.push(pick(m)); push(); } })
      .then(() => { end = true; push(); }, (err) => { failure = err; end = true; push(); });
    for (;;) {
      if (queue.length) {
        yield queue.shift();
        continue;
      }
      if (end) break;
      await new Promise((r) => (wake = r));
    }
    if (failure) throw failure;
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    await this.#call({ op: 'close' }).catch(() => {});
    this.worker.terminate();
  }
}
