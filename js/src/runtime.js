// runtime.js - the WebAssembly module (wasm/bs_wasm.c) and thin wrappers
// over its exports.
//
// Three builds of the same core ship in dist/: bitstack-simd128.wasm and
// bitstack-scalar.wasm, single-thread reactor modules with no imports
// (WebAssembly.instantiate(bytes, {}), then _initialize()), and the
// threaded one (Emscripten -pthread, wasm/threads.cmake): its glue
// (bitstack-threads.mjs for browsers, node/bitstack-threads.js for Node),
// its pthread worker script and bitstack-threads.wasm, SIMD128 kernels,
// the forward pass split over output rows on a pthread pool.
//
// The threaded build is loaded only when the caller asks for more than one
// thread and the platform can share memory between threads: a
// SharedArrayBuffer, which browsers give cross-origin isolated pages only
// (COOP/COEP headers: crossOriginIsolated), and WebAssembly SIMD128. Else
// the single-thread module (SIMD128 when the engine validates a SIMD128
// instruction, else scalar) is the fallback, and `threadsUnavailable` says
// why. All three print the same tokens for every thread count (the
// kernels sum in the same order, rows are split, never sums).
//
// Linear memory grows when the core allocates; every typed-array view over
// it is taken afresh from `memory.buffer` at each use (views over the old
// buffer detach on growth; a shared one keeps its old length), never
// cached across calls into the module.

import { BitstackError, statusName } from './errors.js';

const ABI = 3;
const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/** A module of one function using v128: validates only where SIMD128 works. */
const SIMD_PROBE = Uint8Array.of(
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type: () -> v128
  0x03, 0x02, 0x01, 0x00, // one function of type 0
  0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c, // code: v128.const 0...
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b);

/** True when this engine supports WebAssembly SIMD128. */
export function simdSupported() {
  try {
    return WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/** File names of the two single-thread builds in dist/. */
export const MODULE_FILES = Object.freeze({ simd128: 'bitstack-simd128.wasm', scalar: 'bitstack-scalar.wasm' });

/** Files of the threaded build in dist/: browser glue, Node glue, their shared .wasm. */
export const THREADS_FILES = Object.freeze({
  web: 'bitstack-threads.mjs', node: 'node/bitstack-threads.js', wasm: 'bitstack-threads.wasm' });

/** The most threads a runtime starts (the core's pool accepts 256; past a few, rows get too short). */
export const MAX_THREADS = 16;

/**
 * Why this platform cannot run the threaded build, or '' when it can:
 * memory shared between threads needs SharedArrayBuffer (browsers: a
 * cross-origin isolated page or worker) and the build needs SIMD128.
 * @returns {string}
 */
export function threadsUnavailable() {
  if (typeof SharedArrayBuffer === 'undefined' || (!isNode && globalThis.crossOriginIsolated !== true)) {
    return 'no SharedArrayBuffer here (a page needs Cross-Origin-Opener-Policy: same-origin and '
      + 'Cross-Origin-Embedder-Policy: require-corp to be cross-origin isolated)';
  }
  if (!simdSupported()) return 'this engine lacks WebAssembly SIMD128';
  return '';
}

async function moduleBytes(flavor) {
  const url = new URL(`../dist/${MODULE_FILES[flavor]}`, import.meta.url);
  if (isNode && url.protocol === 'file:') return distFile(url, MODULE_FILES[flavor]);
  const res = await fetch(url);
  if (!res.ok) throw new BitstackError('BS_ERR_IO', `cannot fetch ${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** Reads a file of dist/ in Node (a missing build is a BS_ERR_IO that says how to make it). */
async function distFile(url, name) {
  const { readFile } = await import('node:fs/promises');
  try {
    return await readFile(url);
  } catch (err) {
    throw new BitstackError('BS_ERR_IO', `${name} is missing from the package (build it: npm run build)`, { cause: err });
  }
}

/**
 * Instantiates the threaded build with `workers` pthread workers started
 * (and loaded) before it resolves: the glue's pool, which the sessions'
 * thread pools draw from (wasm/threads.cmake says why up front).
 * Returns the exports under the reactor's names.
 */
async function loadThreaded(workers) {
  const wasmUrl = new URL(`../dist/${THREADS_FILES.wasm}`, import.meta.url);
  // at least one: the 3.1.6 glue resolves once every pool worker has loaded, so never on an empty pool
  const settings = { bsWorkers: Math.max(1, workers) };
  let factory;
  if (isNode && wasmUrl.protocol === 'file:') {
    const glue = new URL(`../dist/${THREADS_FILES.node}`, import.meta.url);
    settings.wasmBinary = await distFile(wasmUrl, THREADS_FILES.wasm);
    const [{ createRequire }, { fileURLToPath }] = await Promise.all([import('node:module'), import('node:url')]);
    await distFile(glue, THREADS_FILES.node); // a clear error when the build is missing
    factory = createRequire(import.meta.url)(fileURLToPath(glue));
  } else {
    factory = (await import(new URL(`../dist/${THREADS_FILES.web}`, import.meta.url).href)).default;
  }
  const M = await factory(settings);
  if (isNode) {
    // idle workers must not keep a Node process alive (a CLI exits when its work is done)
    for (const w of [...M.PThread.unusedWorkers, ...M.PThread.runningWorkers]) w.unref?.();
  }
  const x = { memory: M.wasmMemory, malloc: M._malloc, free: M._free };
  for (const key of Object.keys(M)) {
    // the glue replaces each wrapper by the export itself on first call: look it up every time
    if (key.startsWith('_bs_wasm_')) Object.defineProperty(x, key.slice(1), { get: () => M[key], enumerable: true });
  }
  return { exports: x, module: M };
}

/**
 * @typedef {object} RuntimeOptions
 * @property {'auto'|'simd128'|'scalar'|'threads'} [flavor='auto'] which single-thread build to load; auto:
 *   SIMD128 when supported (the threaded build, when used, is SIMD128); 'threads': the threaded build even for
 *   one thread (BS_ERR_UNSUPPORTED where it cannot run)
 * @property {number} [threads=1] threads of the forward pass, the calling one included (at most MAX_THREADS).
 *   Above 1 the threaded build is loaded with threads - 1 workers when the platform allows it
 *   (threadsUnavailable() is ''), else the single-thread build, with `threadsUnavailable` saying why
 * @property {BufferSource} [wasmBytes] a single-thread module's bytes, instead of dist/ (flavor is then
 *   informative; threads is then ignored)
 */

/** One instance of the module: its exports, memory and helpers. */
export class Runtime {
  /**
   * Loads and instantiates the module.
   * @param {RuntimeOptions} [options]
   * @returns {Promise<Runtime>}
   */
  static async load(options = {}) {
    const threads = options.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
      throw new BitstackError('BS_ERR_INVALID_ARG', `threads ${threads}: expects an integer in [1, ${MAX_THREADS}]`);
    }
    let flavor = options.flavor ?? 'auto';
    if (flavor === 'threads') { // the threaded build whatever the count (benchmarks: its own one-thread figure)
      const why = threadsUnavailable();
      if (why) throw new BitstackError('BS_ERR_UNSUPPORTED', `the threaded build cannot run here: ${why}`);
      const { exports, module } = await loadThreaded(threads - 1);
      return new Runtime({ exports }, 'threads', { threads, module });
    }
    if (flavor === 'auto') flavor = simdSupported() ? 'simd128' : 'scalar';
    if (!(flavor in MODULE_FILES)) throw new BitstackError('BS_ERR_INVALID_ARG', `unknown module flavor ${flavor}`);
    let why = '';
    if (threads > 1 && !options.wasmBytes) {
      why = threadsUnavailable();
      if (!why) {
        const { exports, module } = await loadThreaded(threads - 1);
        return new Runtime({ exports }, 'threads', { threads, module });
      }
    }
    if (flavor === 'simd128' && !options.wasmBytes && !simdSupported()) {
      throw new BitstackError('BS_ERR_UNSUPPORTED', 'this engine lacks WebAssembly SIMD128 (use the scalar module)');
    }
    const bytes = options.wasmBytes ?? (await moduleBytes(flavor));
    const { instance } = await WebAssembly.instantiate(bytes, {});
    return new Runtime(instance, flavor, { threadsUnavailable: why });
  }

  /**
   * @param {{exports: object}} instance a WebAssembly instance, or the threaded glue's exports in its shape
   * @param {'simd128'|'scalar'|'threads'} flavor
   * @param {{threads?: number, module?: any, threadsUnavailable?: string}} [more]
   */
  constructor(instance, flavor, { threads = 1, module = null, threadsUnavailable: why = '' } = {}) {
    /** @type {any} */
    this.x = instance.exports;
    this.x._initialize?.();
    /** The most threads a session of this runtime runs (1 but for the threaded build). */
    this.threads = threads;
    /** Why more threads were asked for and the single-thread build loaded ('' otherwise). */
    this.threadsUnavailable = why;
    /** The threaded build's Emscripten module (its workers), or null. */
    this.module = module;
    if (this.x.bs_wasm_abi() !== ABI) {
      throw new BitstackError('BS_ERR_VERSION', `wasm module ABI ${this.x.bs_wasm_abi()}, this library speaks ${ABI}`);
    }
    /** Which build was loaded: "simd128", "scalar" or "threads" (SIMD128 kernels, pthreads). */
    this.flavor = flavor;
    /** The kernel table the core chose (from the module itself). */
    this.kernels = this.cstring(this.x.bs_wasm_kernels());
    this.encoder = new TextEncoder();
  }

  /** The memory as bytes (a fresh view: valid until the next call into wasm). */
  get u8() { return new Uint8Array(this.x.memory.buffer); }
  get i32() { return new Int32Array(this.x.memory.buffer); }
  get u32() { return new Uint32Array(this.x.memory.buffer); }
  get f32() { return new Float32Array(this.x.memory.buffer); }
  get f64() { return new Float64Array(this.x.memory.buffer); }

  /** malloc that throws BS_ERR_NOMEM instead of returning 0. */
  alloc(n) {
    const p = this.x.malloc(Math.max(1, n));
    if (!p) throw new BitstackError('BS_ERR_NOMEM', `wasm: out of memory allocating ${n} bytes`);
    return p;
  }

  free(p) {
    if (p) this.x.free(p);
  }

  /** Copies bytes into a fresh allocation; returns its address. */
  put(bytes) {
    const p = this.alloc(bytes.length);
    this.u8.set(bytes, p);
    return p;
  }

  /** The NUL-terminated UTF-8 string at p ('' for NULL). */
  cstring(p) {
    if (!p) return '';
    const u8 = this.u8;
    let end = p;
    while (u8[end] !== 0) end++;
    return new TextDecoder().decode(u8.slice(p, end)); // a copy: TextDecoder refuses shared memory
  }

  /**
   * Stops the threaded build's workers (after the sessions are freed);
   * nothing for the single-thread builds. The runtime is unusable after.
   */
  close() {
    this.module?.PThread.terminateAllThreads();
    this.module = null;
  }

  /** Throws a BitstackError for a failed status, with the core's detail. */
  check(status, what) {
    if (status === 0) return;
    const detail = this.cstring(this.x.bs_wasm_last_error());
    throw new BitstackError(statusName(status), detail ? `${what}: ${detail}` : `${what} failed`);
  }

  /**
   * Runs fn(scratch) with `bytes` of scratch memory, freed afterwards.
   * @template T
   * @param {number} bytes
   * @param {(p: number) => T} fn
   * @returns {T}
   */
  withScratch(bytes, fn) {
    const p = this.alloc(bytes);
    try {
      return fn(p);
    } finally {
      this.free(p);
    }
  }
}
