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
  const have = () => ['simd128', 'scalar'].every((f) => existsSync(join(JS, 'dist', `bitstack-${f}.wasm`)));
  if (!have()) spawnSync(process.execPath, [join(JS, 'scripts', 'build.mjs')], { stdio: 'ignore' });
  wasmState = have() ? '' : 'js/dist/*.wasm are missing and could not be built (npm --prefix js run build)';
  return wasmState || false;
}

/**
 * The .bstk fixtures, made once per native binary: a bit-plane stack and an
 * AVD one of stories260K. Returns {planes, avd} paths.
 */
export function fixtures() {
  const st = statSync(NATIVE);
  const dir = join(tmpdir(), `bitstack-js-fixtures-${st.size}-${Math.floor(st.mtimeMs)}`);
  const want = { planes: join(dir, 'planes.bstk'), avd: join(dir, 'avd.bstk') };
  if (existsSync(want.planes) && existsSync(want.avd)) return want;
  const work = `${dir}.${process.pid}.tmp`;
  mkdirSync(work, { recursive: true });
  const common = [join(MODEL, 'stories260K.bin'), null, '--tokenizer', join(MODEL, 'tok512.bin'),
    '--calib', join(MODEL, 'calib.txt'), '--sort', 'fast'];
  for (const [name, extra] of [['planes', ['--method', 'planes']], ['avd', ['--method', 'avd', '--blocks', '6']]]) {
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
