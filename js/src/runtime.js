// runtime.js - the WebAssembly module (wasm/bs_wasm.c) and thin wrappers
// over its exports.
//
// Two builds of the same core ship in dist/: bitstack-simd128.wasm and
// bitstack-scalar.wasm. The SIMD one is used when the engine validates a
// SIMD128 instruction, else the scalar one; both print the same tokens (the
// kernels sum in the same order). The module has no imports:
// WebAssembly.instantiate(bytes, {}), then _initialize().
//
// Linear memory grows when the core allocates; every typed-array view over
// it is taken afresh from `memory.buffer` at each use (views over the old
// buffer detach on growth), never cached across calls into the module.

import { BitstackError, statusName } from './errors.js';

const ABI = 1;
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

/** File names of the two builds in dist/. */
export const MODULE_FILES = Object.freeze({ simd128: 'bitstack-simd128.wasm', scalar: 'bitstack-scalar.wasm' });

async function moduleBytes(flavor) {
  const url = new URL(`../dist/${MODULE_FILES[flavor]}`, import.meta.url);
  if (isNode && url.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    try {
      return await readFile(url);
    } catch (err) {
      throw new BitstackError('BS_ERR_IO',
        `${MODULE_FILES[flavor]} is missing from the package (build it: npm run build)`, { cause: err });
    }
  }
  const res = await fetch(url);
  if (!res.ok) throw new BitstackError('BS_ERR_IO', `cannot fetch ${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * @typedef {object} RuntimeOptions
 * @property {'auto'|'simd128'|'scalar'} [flavor='auto'] which build to load; auto: SIMD128 when supported
 * @property {BufferSource} [wasmBytes] the module's bytes, instead of dist/ (flavor is then informative)
 */

/** One instance of the module: its exports, memory and helpers. */
export class Runtime {
  /**
   * Loads and instantiates the module.
   * @param {RuntimeOptions} [options]
   * @returns {Promise<Runtime>}
   */
  static async load(options = {}) {
    let flavor = options.flavor ?? 'auto';
    if (flavor === 'auto') flavor = simdSupported() ? 'simd128' : 'scalar';
    if (!(flavor in MODULE_FILES)) throw new BitstackError('BS_ERR_INVALID_ARG', `unknown module flavor ${flavor}`);
    if (flavor === 'simd128' && !options.wasmBytes && !simdSupported()) {
      throw new BitstackError('BS_ERR_UNSUPPORTED', 'this engine lacks WebAssembly SIMD128 (use the scalar module)');
    }
    const bytes = options.wasmBytes ?? (await moduleBytes(flavor));
    const { instance } = await WebAssembly.instantiate(bytes, {});
    return new Runtime(instance, flavor);
  }

  constructor(instance, flavor) {
    /** @type {any} */
    this.x = instance.exports;
    this.x._initialize?.();
    if (this.x.bs_wasm_abi() !== ABI) {
      throw new BitstackError('BS_ERR_VERSION', `wasm module ABI ${this.x.bs_wasm_abi()}, this library speaks ${ABI}`);
    }
    /** Which build was loaded: "simd128" or "scalar". */
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
    return new TextDecoder().decode(u8.subarray(p, end));
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
