// common.js - what the Node CLI's subcommands share: opening a model with a
// progress bar and an optional --cache, reporting failures, sizes, speeds.

import { BitstackError, Engine } from '../src/index.js';
import { FileStore } from '../src/store_node.js';
import { EXIT, Exit } from './args.js';

/** Options every model-loading subcommand has. */
export const LOAD_OPTS = [
  { name: 'budget', kind: 'str', metavar: 'SIZE', help: '.bstk: weight bytes (12MB, 40MiB, ...) or bits per weight (3.5bpw)' },
  { name: 'cache', kind: 'str', metavar: 'DIR', help: 'keep downloaded blocks in DIR; later runs fetch only what is missing' },
  { name: 'wasm', kind: 'str', metavar: 'KIND', help: 'auto, simd128, scalar or threads (default auto: SIMD128 when supported; threads: the threaded build even for 1 thread)', value: 'auto' },
  { name: 'threads', kind: 'int', metavar: 'N', range: [1, 16], value: 1,
    help: 'threads of the forward pass (default 1); above 1 the threaded wasm build (SIMD128), same tokens' },
  { name: 'progress', kind: 'flag', help: 'show the download progress bar even when stderr is not a terminal', value: false },
];

/**
 * x with d decimals as C's printf("%.*f") writes it: an exact tie (138496 B
 * is 135.25 KiB) rounds to even there (135.2), where toFixed rounds up (135.3).
 * Ties are exact here: sizes over powers of two, times 10^d, are exact doubles.
 */
function fixedC(x, d) {
  const scaled = x * 10 ** d;
  const floor = Math.floor(scaled);
  if (scaled - floor !== 0.5) return x.toFixed(d);
  return ((floor % 2 === 0 ? floor : floor + 1) / 10 ** d).toFixed(d);
}

/** "12.3 MiB", as the native CLI prints sizes (tools/cli.c cli_bytes). */
export function formatBytes(n) {
  if (n >= 2 ** 30) return `${fixedC(n / 2 ** 30, 2)} GiB`;
  if (n >= 2 ** 20) return `${fixedC(n / 2 ** 20, 2)} MiB`;
  if (n >= 1024) return `${fixedC(n / 1024, 1)} KiB`;
  return `${n} B`;
}

/** Prints "bitstack: <what>: <detail> (<CODE>)" and leaves with exit 2. */
export function fail(io, what, err) {
  if (err instanceof Exit) throw err;
  const code = err instanceof BitstackError ? err.code : err?.name === 'AbortError' ? 'aborted' : 'BS_ERR_IO';
  io.stderr.write(`bitstack: ${what}: ${err?.message ?? err} (${code})\n`);
  throw new Exit(EXIT.FAIL);
}

/** A one-line progress bar on stderr (a terminal, or --progress). */
function progressBar(io, force) {
  if (!force && !io.stderr.isTTY) return null;
  let shown = -1;
  return (p) => {
    if (p.targetBytes <= 0) return;
    const frac = Math.min(1, p.bytes / p.targetBytes);
    const pct = Math.floor(frac * 1000);
    if (pct === shown && p.blocks < p.targetBlocks) return;
    shown = pct;
    const fill = Math.round(frac * 30);
    io.stderr.write(`\r${'download'.padEnd(12)} [${'#'.repeat(fill)}${'.'.repeat(30 - fill)}] ${(100 * frac).toFixed(1).padStart(5)}%`
      + ` ${formatBytes(p.bytes)} of ${formatBytes(p.targetBytes)}`);
    if (p.blocks >= p.targetBlocks && p.phase !== 'head') io.stderr.write('\n');
  };
}

/**
 * Opens MODEL (path or URL) under --budget with --cache and the progress bar.
 * A bad budget is a usage error (exit 1); anything else exits 2.
 */
export async function openModel(io, model, values, signal) {
  if (!['auto', 'simd128', 'scalar', 'threads'].includes(values.wasm)) {
    io.stderr.write(`bitstack: --wasm ${values.wasm}: expects auto, simd128, scalar or threads\n`);
    throw new Exit(EXIT.USAGE);
  }
  const onProgress = progressBar(io, values.progress);
  try {
    return await Engine.open(model, {
      budget: values.budget,
      ctx: values.ctx,
      flavor: values.wasm,
      threads: values.threads,
      store: values.cache ? new FileStore(values.cache) : undefined,
      onProgress: onProgress ?? undefined,
      signal,
    });
  } catch (err) {
    if (err instanceof BitstackError && err.code === 'BS_ERR_INVALID_ARG' && values.budget !== undefined) {
      io.stderr.write(`bitstack: --budget ${values.budget}: expects bytes (e.g. 5000000, 12MB, 40MiB) or bits per weight (3.5bpw)\n`);
      throw new Exit(EXIT.USAGE);
    }
    if (err instanceof BitstackError && err.code === 'BS_ERR_RANGE' && values.budget !== undefined) {
      io.stderr.write(`bitstack: --budget ${values.budget} is below the resident size of the model (${err.message})\n`);
      throw new Exit(EXIT.FAIL);
    }
    return fail(io, 'cannot load the model', err);
  }
}

/** The native CLI's "stack:" line, and where the blocks came from. */
export function printStack(io, engine) {
  const s = engine.stack();
  io.stderr.write(`stack: ${s.nLoaded} of ${s.nBlocks} blocks loaded; weights ${formatBytes(s.loadedBytes)} of `
    + `${formatBytes(s.fullBytes)}; ${s.bpw.toFixed(3)} bits per compressed weight\n`);
  const st = engine.loader.stats;
  io.stderr.write(`load: ${st.requests} requests, ${formatBytes(st.bytes)} fetched, ${st.fromNetwork} units from the source, `
    + `${st.fromStore} from the cache, ${st.retries} retries; wasm ${engine.rt.flavor}, `
    + `${engine.info().threads} thread${engine.info().threads === 1 ? '' : 's'}\n`);
  if (engine.rt.threadsUnavailable) io.stderr.write(`warning: one thread: ${engine.rt.threadsUnavailable}\n`);
  const e = engine.loader.storeError;
  if (e) io.stderr.write(`warning: the cache failed (${e.code ?? e.name}: ${e.message}); blocks were not kept\n`);
}

/** Writes a token's bytes, dropping ASCII control characters but whitespace (as tools/cli.c). */
export function writePiece(out, bytes) {
  if (bytes.length === 1 && bytes[0] < 0x20 && ![0x0a, 0x09, 0x0d].includes(bytes[0])) return;
  out.write(bytes);
}

/** Generation speed lines (stderr), as the native CLI. */
export function printSpeed(io, engine, st) {
  io.stderr.write(`prefill: ${st.nPrompt} tokens, ${(st.prefillS > 0 ? st.nPrompt / st.prefillS : 0).toFixed(1)} tok/s | `
    + `decode: ${st.nGen} tokens, ${(st.decodeS > 0 ? st.nGen / st.decodeS : 0).toFixed(1)} tok/s\n`);
  const info = engine.info();
  io.stderr.write(`memory: weights ${formatBytes(info.weightBytes)} + session (KV cache, scratch) `
    + `${formatBytes(info.sessionBytes)}; wasm memory ${formatBytes(engine.rt.x.memory.buffer.byteLength)}\n`);
}
