// helpers.mjs - shared by the tests: paths, the .bstk fixtures (made by the
// native compressor: build/bitstack must exist), the wasm modules (built on
// demand), running both CLIs, and an in-process HTTP server.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const JS = dirname(dirname(fileURLToPath(import.meta.url)));
export const ROOT = dirname(JS);
export const NATIVE = join(ROOT, 'build', 'bitstack');
export const NODE_CLI = join(JS, 'bin', 'bitstack.mjs');
const MODEL = join(ROOT, 'models', 'stories260K');

/** Why the native-dependent tests cannot run, or false (node:test skips on any non-undefined value but false). */
export function nativeMissing() {
  return existsSync(NATIVE) ? false : `${NATIVE} is missing: run cmake --build build first`;
}

let wasmState = null;
/** Why the wasm-dependent tests cannot run (after trying to build), or false. */
export function wasmMissing() {
  if (wasmState !== null) return wasmState || false;
  const have = () => ['bitstack-simd128.wasm', 'bitstack-scalar.wasm', 'bitstack-threads.wasm', 'bitstack-threads.mjs',
    'node/bitstack-threads.js'].every((f) => existsSync(join(JS, 'dist', f)));
  if (!have()) spawnSync(process.execPath, [join(JS, 'scripts', 'build.mjs')], { stdio: 'ignore' });
  wasmState = have() ? '' : 'js/dist/ modules are missing and could not be built (npm --prefix js run build)';
  return wasmState || false;
}

/** Compresses stories260K into dir/NAME.bstk for each [name, extra args] (a temporary directory renamed into place). */
function compressFixtures(dir, list) {
  const want = Object.fromEntries(list.map(([name]) => [name, join(dir, `${name}.bstk`)]));
  if (Object.values(want).every((p) => existsSync(p))) return want;
  const work = `${dir}.${process.pid}.tmp`;
  mkdirSync(work, { recursive: true });
  const common = [join(MODEL, 'stories260K.bin'), null, '--tokenizer', join(MODEL, 'tok512.bin'),
    '--calib', join(MODEL, 'calib.txt'), '--sort', 'fast'];
  for (const [name, extra] of list) {
    const args = ['compress', ...common.map((a) => a ?? join(work, `${name}.bstk`)), ...extra];
    const r = spawnSync(NATIVE, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`compress ${name} failed: ${r.stderr}`);
  }
  try {
    renameSync(work, dir); // another test file may have won the race: theirs is as good
  } catch {
    rmSync(work, { recursive: true, force: true });
  }
  return want;
}

/** Where a native binary's fixtures live: a new build makes new ones. */
function fixtureDir(tag) {
  const st = statSync(NATIVE);
  return join(tmpdir(), `bitstack-js-${tag}-${st.size}-${Math.floor(st.mtimeMs)}`);
}

// the planes fixtures store 8-bit scale codes (.bstk 1.2): stories260K's narrow matrices would
// otherwise get binary16 scales, which the C tests and the browser tests' files cover
const PLANES = ['--method', 'planes', '--scale-bits', '8'];

/**
 * The .bstk fixtures, made once per native binary: a bit-plane stack (8-bit
 * scale codes) and an AVD one of stories260K. Returns {planes, avd} paths.
 */
export function fixtures() {
  return compressFixtures(fixtureDir('fixtures'), [['planes', PLANES], ['avd', ['--method', 'avd', '--blocks', '6']]]);
}

/** A small ChatML template (tests/data/chatml.jinja, the one of the HF test model). */
export const CHATML_TEMPLATE = join(ROOT, 'tests', 'data', 'chatml.jinja');

/**
 * The planes fixture with a chat template stored (compress --chat-template
 * tests/data/chatml.jinja; stories260K has none), made on first use.
 * Returns its path.
 */
export function chatFixture() {
  return compressFixtures(fixtureDir('chat'), [['chat', [...PLANES, '--chat-template', CHATML_TEMPLATE]]]).chat;
}

/** Runs a program; resolves {code, stdout (Buffer), stderr (string)}. */
export function run(cmd, args, { input, env } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...env } });
    const out = [], err = [];
    p.stdout.on('data', (d) => out.push(d));
    p.stderr.on('data', (d) => err.push(d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }));
    p.stdin.on('error', () => {}); // the child may exit without reading
    p.stdin.end(input ?? '');
  });
}

export const runNative = (args, opts) => run(NATIVE, args, opts);
export const runNode = (args, opts) => run(process.execPath, [NODE_CLI, ...args], opts);

/**
 * An HTTP server on 127.0.0.1 with a request handler; returns
 * {url, close(), server}. Closing drops open connections at once.
 */
export async function startServer(handler) {
  const server = createServer(handler);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((r) => {
      server.closeAllConnections();
      server.close(r);
    }),
  };
}

/**
 * A request handler serving a .bstk that misbehaves on demand (the loader
 * and fault tests). Returns {handler, log}; log gets {start, end, ranged,
 * ifRange} per request. behaviour (all optional):
 *   noRange: true        answer every request with 200 and the whole file
 *   file(n)              the bytes served for request n (a file replaced on the server)
 *   etag(n)              its ETag (default '"v1"'; null: none)
 *   lastModified(n)      a Last-Modified header, or none
 *   fault(n, start, end) per request, one of:
 *     {status}           that status, no body (416, 503, 404...)
 *     {noRange: true}    200 and the whole file for this request only
 *     {dropAfter: k}     k body bytes, then the connection closes
 *     {reset: k}         k body bytes, a pause, then a TCP reset (RST)
 *     {stall: true}      headers, then silence
 *     {trickle: [bytes, ms]} the body in pieces of `bytes` every `ms`
 *     {corrupt: offset}  the byte at file offset `offset` flipped
 *     {lengthDelta: d}   Content-Length off by d: d < 0 sends that much less
 *                        and ends cleanly, d > 0 sends the body then closes
 */
export function fileHandler(bytes, behaviour = {}) {
  const log = [];
  const handler = (req, res) => {
    const n = log.length;
    const file = behaviour.file ? behaviour.file(n) : bytes;
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    const early = behaviour.fault?.(n, m ? Number(m[1]) : 0, m ? Math.min(Number(m[2]) + 1, file.length) : file.length) ?? {};
    const ranged = m && !behaviour.noRange && !early.noRange;
    const start = ranged ? Number(m[1]) : 0;
    const end = ranged ? Math.min(Number(m[2]) + 1, file.length) : file.length;
    log.push({ start, end, ranged: !!ranged, ifRange: req.headers['if-range'] });
    const fault = early;
    if (fault.status) {
      res.writeHead(fault.status);
      return res.end();
    }
    const etag = behaviour.etag ? behaviour.etag(n) : '"v1"';
    const headers = { 'Content-Length': end - start + (fault.lengthDelta ?? 0) };
    if (etag) headers.ETag = etag;
    if (behaviour.lastModified) headers['Last-Modified'] = behaviour.lastModified(n);
    if (ranged) headers['Content-Range'] = `bytes ${start}-${end - 1}/${file.length}`;
    res.writeHead(ranged ? 206 : 200, headers);
    if (fault.stall) return; // headers only, then silence
    let body = file.subarray(start, end);
    if (fault.corrupt !== undefined) {
      body = body.slice();
      body[fault.corrupt - start] ^= 0x5a;
    }
    if (fault.dropAfter !== undefined) {
      res.write(body.subarray(0, fault.dropAfter), () => res.socket.destroy());
      return;
    }
    if (fault.reset !== undefined) {
      // a pause first, so the client has read what came (an RST discards unread bytes)
      res.write(body.subarray(0, fault.reset), () => setTimeout(() => res.socket.resetAndDestroy(), 50));
      return;
    }
    if (fault.lengthDelta < 0) return res.end(body.subarray(0, body.length + fault.lengthDelta));
    if (fault.lengthDelta > 0) {
      res.write(body, () => res.socket.destroy());
      return;
    }
    if (fault.trickle) {
      const [piece, ms] = fault.trickle;
      let pos = 0;
      const timer = setInterval(() => {
        if (res.destroyed || pos >= body.length) {
          clearInterval(timer);
          if (!res.destroyed) res.end();
          return;
        }
        res.write(body.subarray(pos, pos + piece));
        pos += piece;
        log[n].lastWriteAt = Date.now();
      }, ms);
      res.on('close', () => clearInterval(timer));
      return;
    }
    res.end(body);
  };
  return { handler, log };
}
