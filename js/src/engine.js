// engine.js - a .bstk model running in the wasm core: open under a budget,
// tokenize, prefill, sample, stream tokens; grow and shrink the stack live.
//
//   const engine = await Engine.open('https://host/model.bstk', { budget: '3.5bpw' });
//   for await (const t of engine.generate('Once upon a time', { maxTokens: 60, temperature: 0 }))
//     process.stdout.write(t.text);
//   await engine.close();
//
// The model is loaded as its file is: the head, the resident section, then
// the stack blocks in stack order, each attached to the live model as soon
// as it is verified. With `progressive: true`, open() returns once the
// resident section is in and the rest attaches in the background while the
// caller already generates (quality climbs as blocks arrive); `ready`
// settles when the budget's blocks are all attached.
//
// Generation follows the native CLI step for step (tools/cli.c
// cli_generate): same sampler, same stopping rules, so the same file,
// budget and settings print the same text.

import { Baselines, checkReps } from './baselines.js';
import { blocksForBudget, budgetBytes, defaultBudgetBytes, parseBudget } from './budget.js';
import { BitstackError, throwIfAborted } from './errors.js';
import { tokenText } from './format.js';
import { RangeLoader } from './loader.js';
import { Runtime } from './runtime.js';

const isNode = typeof process !== 'undefined' && !!process.versions?.node;
const TOKENIZE_BOS = 1;
const TOKENIZE_SPECIAL = 2;
const ERR_RANGE = 8;

/**
 * @typedef {object} OpenOptions
 * @property {number|string|((head: import('./format.js').BstkHead) => number|string)} [budget] weight bytes
 *   (5000000, "12MB", "40MiB") or bits per weight ("3.5bpw"), or a function of the parsed head returning one
 *   (so a policy can see the file's sizes and config before choosing, without a second request for the head);
 *   default: in Node, a quarter of os.totalmem() less the session's KV cache (budget.js defaultBudgetBytes);
 *   elsewhere navigator.deviceMemory the same way when known, else the whole file
 * @property {'auto'|'simd128'|'scalar'|'threads'} [flavor='auto'] single-thread wasm build (auto: SIMD128 when
 *   supported); 'threads': the threaded build even for one thread (Runtime.load)
 * @property {number} [threads=1] threads of the forward pass, the calling one included (1 to 16). Above 1,
 *   the threaded wasm build when the platform shares memory between threads (Node; a cross-origin
 *   isolated page or worker), else the single-thread build (info().threadsUnavailable says why); the
 *   tokens are the same for every value. With `runtime`: at most the runtime's threads (default: those)
 * @property {Runtime} [runtime] an already loaded runtime (one per engine: models live in its memory)
 * @property {import('./store.js').BlockStore} [store] keep verified blocks (and look there first)
 * @property {boolean} [progressive=false] return after the resident section; blocks attach in the background
 * @property {number} [ctx] KV cache length in tokens (default: min(seq_len, 2048))
 * @property {AbortSignal} [signal] cancels the download (and a background one)
 * @property {(p: Progress) => void} [onProgress] called after the head and after every unit
 * @property {import('./loader.js').LoaderOptions} [loader] request size, retries, fetch, headers
 */

/**
 * @typedef {object} Progress
 * @property {'head'|'resident'|'block'} phase
 * @property {number} blocks  blocks attached
 * @property {number} targetBlocks
 * @property {number} bytes  weight bytes attached
 * @property {number} targetBytes
 * @property {boolean} cached  the unit came from the store
 */

/**
 * @typedef {object} GenerateOptions
 * @property {number} [maxTokens=256] tokens to generate at most
 * @property {number} [temperature=1] 0 = greedy
 * @property {number} [topP=0.9] nucleus sampling; 1 = off
 * @property {number} [topK=0] 0 = off
 * @property {number|bigint} [seed=42] sampler seed
 * @property {boolean} [bos=true] prepend BOS to a text prompt
 * @property {boolean} [special=false] match special-token texts in a text prompt
 * @property {AbortSignal} [signal]
 */

/**
 * @typedef {object} Token
 * @property {number} id
 * @property {Uint8Array} bytes  the token's bytes after the previous token
 * @property {string} text  those bytes decoded (a split UTF-8 character waits for its end)
 */

export class Engine {
  /**
   * Opens a .bstk from a path (Node), a file: or http(s) URL.
   * @param {string|URL|import('./loader.js').Transport} source
   * @param {OpenOptions} [options]
   * @returns {Promise<Engine>}
   */
  static async open(source, options = {}) {
    const { signal } = options;
    const runtime = options.runtime
      ?? (await Runtime.load({ flavor: options.flavor ?? 'auto', threads: options.threads ?? 1 }));
    let engine = null;
    try {
      const loader = new RangeLoader(source, { ...options.loader, store: options.store });
      const head = await loader.openHead({ signal });
      const target = await targetBlocks(head, loader, options.budget);
      engine = new Engine(runtime, loader, head, target, options);
    } catch (err) {
      if (!options.runtime) runtime.close();
      throw err;
    }
    try {
      await engine.#openResident(signal);
      // not progressive: nothing runs until every block is in, so the C side
      // lays the bit planes out for the kernels once at the end, not per block
      const bulk = !options.progressive;
      if (bulk) runtime.check(runtime.x.bs_wasm_defer_layout(engine.model, 1), 'defer layout');
      engine.ready = engine.#attachUpTo(engine.targetBlocks, signal);
      if (bulk) {
        try {
          await engine.ready;
        } finally {
          runtime.check(runtime.x.bs_wasm_defer_layout(engine.model, 0), 'layout');
        }
      } else engine.ready.catch(() => {}); // observed through `ready` by whoever cares
      engine.#createSession(options.ctx ?? 0);
    } catch (err) {
      await engine.close();
      throw err;
    }
    return engine;
  }

  constructor(runtime, loader, head, target, options) {
    this.rt = runtime;
    /** The runtime was loaded for this engine (close() closes it). */
    this.ownsRuntime = !options.runtime;
    /** Threads asked of the session (the runtime's at most). */
    this.threads = Math.min(options.threads ?? runtime.threads, runtime.threads);
    this.loader = loader;
    /** The parsed head (format.js): config, metadata, tensors, index. */
    this.head = head;
    /** Blocks the budget asked for. */
    this.targetBlocks = target;
    this.onProgress = options.onProgress ?? null;
    this.model = 0;
    this.session = 0;
    this.logitsPtr = 0;
    this.prevToken = -1;
    /** @type {Promise<void>} settles when the budget's blocks are attached */
    this.ready = Promise.resolve();
    this.closed = false;
    /** @type {Set<Baselines>} closed with the engine */
    this.benches = new Set();
  }

  // ---- loading -----------------------------------------------------------------

  async #openResident(signal) {
    const { rt, head } = this;
    const prefix = rt.alloc(head.residentEnd);
    let cached = false;
    try {
      rt.u8.set(this.loader.headBytes, prefix);
      for await (const u of this.loader.units(-1, 0, { signal })) {
        rt.u8.set(u.data, prefix + head.header.dataOffset);
        cached = u.cached;
      }
      rt.withScratch(4, (out) => {
        rt.check(rt.x.bs_wasm_open(prefix, head.residentEnd, out), 'cannot load the model');
        this.model = rt.u32[out >> 2];
      });
    } finally {
      rt.free(prefix);
    }
    this.#progress('resident', cached);
  }

  /** Streams and attaches blocks until n are attached. */
  async #attachUpTo(n, signal) {
    const from = this.stack().nLoaded;
    if (n <= from) return;
    for await (const u of this.loader.units(from, n, { signal })) {
      // closed, or a resize lowered the target while blocks were arriving: stop (ends the request)
      if (this.closed || u.index >= this.targetBlocks) return;
      this.#attach(u.index, u.data);
      this.#progress('block', u.cached);
    }
  }

  #attach(index, data) {
    const { rt } = this;
    const p = rt.put(data);
    try {
      rt.check(rt.x.bs_wasm_attach_block(this.model, index, p, data.length), `block ${index}`);
    } finally {
      rt.free(p);
    }
  }

  #progress(phase, cached) {
    if (!this.onProgress) return;
    const s = this.stack();
    this.onProgress({
      phase, cached, blocks: s.nLoaded, targetBlocks: this.targetBlocks, bytes: s.loadedBytes,
      targetBytes: this.head.cumulative[this.targetBlocks],
    });
  }

  #createSession(ctx) {
    const { rt } = this;
    rt.withScratch(4, (out) => {
      rt.check(rt.x.bs_wasm_session_create(this.model, ctx, 0, this.threads, out), 'session');
      this.session = rt.u32[out >> 2];
    });
  }

  /**
   * Grows the stack to a budget (downloading the missing blocks) or
   * shrinks it (dropping the tail), on the live model. The KV cache is kept:
   * its entries came from the previous size (reset() for a clean start).
   * Safe at any await point, a generate() in progress included: evals are
   * synchronous, so a block is never attached in the middle of one. A
   * download still running (progressive open) stops at the new target.
   * @param {number|string} budget bytes, "12MB", "3.5bpw", or {blocks: n}
   * @param {{signal?: AbortSignal}} [opts]
   */
  async resize(budget, { signal } = {}) {
    const n = typeof budget === 'object' ? budget.blocks
      : blocksForBudgetChecked(this.head, budgetBytes(this.head, parseBudget(budget)));
    const want = Math.min(n, this.loader.available);
    // set first: a download in progress (open's background one included) stops at the new target
    this.targetBlocks = want;
    await this.ready.catch(() => {});
    const { rt } = this;
    if (want < this.stack().nLoaded) rt.check(rt.x.bs_wasm_set_blocks(this.model, want), 'shrink');
    else await this.#attachUpTo(want, signal);
  }

  // ---- facts -------------------------------------------------------------------------

  /** The live stack: blocks and bytes (bs_stack_info). */
  stack() {
    const { rt } = this;
    return rt.withScratch(64, (p) => {
      rt.check(rt.x.bs_wasm_stack_info(this.model, p), 'stack info');
      const v = rt.f64.slice(p >> 3, (p >> 3) + 8);
      return {
        nBlocks: v[0], nLoaded: v[2], residentBytes: v[3], loadedBytes: v[4], fullBytes: v[5],
        stackedParams: v[6], stackedBytes: v[7],
        bpw: v[6] ? (8 * v[7]) / v[6] : 0,
      };
    });
  }

  /** Model facts: shapes, tokenizer ids, the wasm build in use. */
  info() {
    const { rt } = this;
    return rt.withScratch(128, (p) => {
      rt.check(rt.x.bs_wasm_model_info(this.model, p), 'model info');
      const v = rt.f64.slice(p >> 3, (p >> 3) + 16);
      return {
        dim: v[0], hiddenDim: v[1], nLayers: v[2], nHeads: v[3], nKvHeads: v[4], headDim: v[5],
        vocabSize: v[6], seqLen: v[7], tied: v[10] === 1, tokenizerKind: ['none', 'spm', 'bpe'][v[11]] ?? 'none',
        bosId: v[12], eosId: v[13], nParams: v[14], weightBytes: v[15],
        bosToken: tokenText(this.head, v[12]), eosToken: tokenText(this.head, v[13]),
        chatTemplate: this.head.chatTemplate, flavor: this.rt.flavor, kernels: this.rt.kernels,
        sessionBytes: this.session ? rt.x.bs_wasm_session_bytes(this.session) : 0,
        threads: this.session ? rt.x.bs_wasm_session_threads(this.session) : 0,
        threadsUnavailable: this.rt.threadsUnavailable,
      };
    });
  }

  // ---- tokens ------------------------------------------------------------------------

  /**
   * Token ids of a text.
   * @param {string|Uint8Array} text
   * @param {{bos?: boolean, special?: boolean}} [opts]
   * @returns {Int32Array}
   */
  tokenize(text, { bos = true, special = false } = {}) {
    const { rt } = this;
    const bytes = typeof text === 'string' ? rt.encoder.encode(text) : text;
    const flags = (bos ? TOKENIZE_BOS : 0) | (special ? TOKENIZE_SPECIAL : 0);
    const tp = rt.put(bytes);
    try {
      return rt.withScratch(4, (np) => {
        const st = rt.x.bs_wasm_tokenize(this.model, tp, bytes.length, flags, 0, 0, np);
        if (st !== ERR_RANGE) rt.check(st, 'tokenize');
        const n = rt.i32[np >> 2];
        return rt.withScratch(4 * n, (ids) => {
          rt.check(rt.x.bs_wasm_tokenize(this.model, tp, bytes.length, flags, ids, n, np), 'tokenize');
          return rt.i32.slice(ids >> 2, (ids >> 2) + rt.i32[np >> 2]);
        });
      });
    } finally {
      rt.free(tp);
    }
  }

  /** The bytes token id stands for after token prev (-1: at the start). */
  detokenize(prev, id) {
    const { rt } = this;
    return rt.withScratch(264, (p) => {
      rt.check(rt.x.bs_wasm_detokenize(this.model, prev, id, p + 8, 256, p), 'detokenize');
      const n = rt.u32[p >> 2];
      return rt.u8.slice(p + 8, p + 8 + n);
    });
  }

  /** Whether id ends generation (EOS or an end-of-turn token). */
  isEndOfGeneration(id) {
    return this.rt.x.bs_wasm_token_is_eog(this.model, id) !== 0;
  }

  // ---- running ---------------------------------------------------------------------------

  /** Tokens in the KV cache. */
  get position() {
    return this.rt.x.bs_wasm_session_pos(this.session);
  }

  /** Forgets the KV cache. */
  reset() {
    this.rt.x.bs_wasm_session_reset(this.session);
    this.logitsPtr = 0;
  }

  /** Keeps the first pos tokens of the KV cache. */
  rewind(pos) {
    this.rt.check(this.rt.x.bs_wasm_session_rewind(this.session, pos), 'rewind');
    this.logitsPtr = 0;
  }

  /**
   * Runs tokens at the next positions (batched); their last logits are kept
   * for sampling. Throws BS_ERR_RANGE when the context is full.
   * @param {ArrayLike<number>} ids
   */
  prefill(ids) {
    if (this.closed) throw new BitstackError('BS_ERR_STATE', 'the engine is closed');
    const { rt } = this;
    const tp = rt.put(new Uint8Array(Int32Array.from(ids).buffer));
    try {
      rt.withScratch(4, (out) => {
        rt.check(rt.x.bs_wasm_session_eval(this.session, tp, ids.length, out), 'eval');
        this.logitsPtr = rt.u32[out >> 2];
      });
    } finally {
      rt.free(tp);
    }
    this.prevToken = ids[ids.length - 1];
  }

  /** A copy of the logits of the last evaluated token. */
  logits() {
    if (!this.logitsPtr) throw new BitstackError('BS_ERR_STATE', 'no token evaluated yet');
    const n = this.head.config.vocabSize;
    return this.rt.f32.slice(this.logitsPtr >> 2, (this.logitsPtr >> 2) + n);
  }

  /**
   * Streams generated tokens after a prompt (text or token ids), which is
   * evaluated at the current position of the KV cache.
   * @param {string|ArrayLike<number>} prompt
   * @param {GenerateOptions & {stats?: object}} [options] stats, when given, receives reason ("stop": an
   *   end-of-generation token; "length": maxTokens or a full context), nPrompt, nGen, prefillS, decodeS
   * @returns {AsyncGenerator<Token>}
   */
  async *generate(prompt, options = {}) {
    const { signal, stats = {} } = options;
    const ids = typeof prompt === 'string'
      ? this.tokenize(prompt, { bos: options.bos ?? true, special: options.special ?? false }) : prompt;
    if (ids.length === 0) throw new BitstackError('BS_ERR_INVALID_ARG', 'the model has no BOS token: give a prompt');
    const sampler = new Sampler(this, options);
    const decoder = new TextDecoder();
    const maxTokens = options.maxTokens ?? 256;
    let lastYield = Date.now();
    Object.assign(stats, { reason: 'length', nPrompt: ids.length, nGen: 0, prefillS: 0, decodeS: 0 });
    let t0 = performance.now();
    try {
      throwIfAborted(signal);
      this.prefill(ids);
      stats.prefillS = (performance.now() - t0) / 1000;
      let prev = ids[ids.length - 1];
      t0 = performance.now();
      for (let i = 0; i < maxTokens; i++) {
        const next = sampler.sample();
        if (this.isEndOfGeneration(next)) {
          stats.reason = 'stop';
          break;
        }
        const bytes = this.detokenize(prev, next);
        stats.nGen++;
        stats.decodeS = (performance.now() - t0) / 1000; // the consumer's time between tokens is not ours
        const paused = performance.now();
        yield { id: next, bytes, text: decoder.decode(bytes, { stream: true }) };
        t0 += performance.now() - paused;
        prev = next;
        if (i + 1 === maxTokens) break; // no need to run the last token
        // let timers, network and aborts in between tokens
        if (Date.now() - lastYield > 15) {
          await new Promise((r) => setTimeout(r, 0));
          lastYield = Date.now();
        }
        throwIfAborted(signal);
        try {
          this.prefill([next]);
        } catch (err) {
          if (err.code === 'BS_ERR_RANGE') break; // context full: stop cleanly
          throw err;
        }
        stats.decodeS = (performance.now() - t0) / 1000;
      }
    } finally {
      sampler.free();
    }
  }

  // ---- benchmarks ------------------------------------------------------------------------

  /**
   * Dense f32, 8-bit and 4-bit copies of the model's linear maps, to time
   * against its own maps on this engine's session (baselines.js). They take
   * about 5.6 bytes per weight of wasm memory until closed (the engine's
   * close() closes them too). Built from the blocks attached now.
   * @returns {Baselines}
   */
  baselines() {
    if (this.closed) throw new BitstackError('BS_ERR_STATE', 'the engine is closed');
    const b = new Baselines(this.rt, this.session);
    this.benches.add(b);
    return b;
  }

  /**
   * Builds the baselines, times `reps` interleaved passes of every side (the
   * best of each kept) and frees them. For decode speeds, time them between
   * the model's decode steps instead (baselines(), Baselines.decodeTokS).
   * @param {{reps?: number}} [opts] reps: passes per side (default 5)
   * @returns {{seconds: {bitstack: number, f32: number, q8: number, q4: number},
   *   weightBytes: {bitstack: number, f32: number, q8: number, q4: number}, weights: number}}
   */
  benchBaselines({ reps = 5 } = {}) {
    checkReps(reps);
    const b = this.baselines();
    try {
      return { seconds: b.time(reps), weightBytes: b.weightBytes, weights: b.weights };
    } finally {
      b.close();
    }
  }

  /** Frees the session and model; ends a background download. */
  async close() {
    if (this.closed) return;
    this.closed = true;
    this.loader.close();
    await this.ready.catch(() => {});
    for (const b of this.benches) b.close();
    if (this.session) this.rt.x.bs_wasm_session_free(this.session);
    if (this.model) this.rt.x.bs_wasm_model_free(this.model);
    this.session = this.model = 0;
    if (this.ownsRuntime) this.rt.close();
  }
}

/** The core's sampler over the engine's current logits. */
export class Sampler {
  /**
   * @param {Engine} engine
   * @param {{temperature?: number, topP?: number, topK?: number, seed?: number|bigint}} [params]
   */
  constructor(engine, { temperature = 1, topP = 0.9, topK = 0, seed = 42 } = {}) {
    this.engine = engine;
    const { rt } = engine;
    const s = BigInt.asUintN(64, BigInt(seed));
    rt.withScratch(4, (out) => {
      rt.check(rt.x.bs_wasm_sampler_create(temperature, topK, topP, Number(s & 0xffffffffn), Number(s >> 32n),
        engine.head.config.vocabSize, out), 'sampler');
      this.ptr = rt.u32[out >> 2];
    });
  }

  /** A token id from the engine's last logits. */
  sample() {
    if (!this.engine.logitsPtr) throw new BitstackError('BS_ERR_STATE', 'no token evaluated yet');
    return this.engine.rt.x.bs_wasm_sampler_sample(this.ptr, this.engine.logitsPtr);
  }

  free() {
    this.engine.rt.x.bs_wasm_sampler_free(this.ptr);
    this.ptr = 0;
  }
}

function blocksForBudgetChecked(head, bytes) {
  const n = blocksForBudget(head, bytes);
  if (n < 0) {
    throw new BitstackError('BS_ERR_RANGE',
      `budget of ${bytes} bytes is below the resident size of the model (${head.residentBytes} bytes)`);
  }
  return n;
}

/** Blocks to load: the budget's, or the platform default's; at most what the source holds. */
async function targetBlocks(head, loader, budget) {
  let bytes;
  if (typeof budget === 'function') budget = budget(head);
  if (budget !== undefined && budget !== null) {
    bytes = budgetBytes(head, parseBudget(budget));
  } else if (isNode) {
    const { totalmem } = await import('node:os');
    bytes = defaultBudgetBytes(head, totalmem());
  } else {
    const gib = globalThis.navigator?.deviceMemory;
    bytes = gib ? defaultBudgetBytes(head, gib * 2 ** 30) : head.fullBytes;
  }
  return Math.min(blocksForBudgetChecked(head, bytes), loader.available);
}
