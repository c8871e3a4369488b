// helpers.mjs - shared by the browser tests: Debian's chromium through
// playwright-core (it never downloads a browser), nginx via demo/serve.mjs,
// and the .bstk fixture made by the native compressor.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { NGINX, ROOT, startNginx } from '../../demo/serve.mjs';
import { blockEntry } from '../../js/src/format.js';
import { fixtures, nativeMissing, wasmMissing } from '../../js/test/helpers.mjs';

export { ROOT, startNginx, fixtures };
export const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let playwright = null;
try {
  playwright = await import('playwright-core');
} catch {
  playwright = null;
}

/**
 * Why the browser tests cannot run, or false. Under scripts/test.sh
 * (BITSTACK_REQUIRE_BROWSER=1) nothing may be missing: the tests then fail
 * instead of skipping.
 */
export function browserMissing() {
  const why = nativeMissing() || wasmMissing() || (!NGINX && 'nginx is not installed')
    || (!existsSync(CHROMIUM) && `${CHROMIUM} is missing (apt-get install chromium)`)
    || (!playwright && 'playwright-core is missing (npm --prefix tests/browser install)');
  if (why && process.env.BITSTACK_REQUIRE_BROWSER === '1') throw new Error(`browser tests required: ${why}`);
  return why;
}

/**
 * A Chromium profile in a fresh directory (IndexedDB survives reloads and
 * restarts within it). Returns {context, page, restart(), close()}.
 */
export async function openBrowser() {
  const dir = mkdtempSync(join(tmpdir(), 'bitstack-chromium-'));
  const launch = () => playwright.chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, args: FLAGS, headless: true,
    viewport: { width: 1280, height: 860 } });
  const b = { dir, context: await launch() };
  b.page = b.context.pages()[0] ?? (await b.context.newPage());
  b.errors = [];
  const watch = (page) => page.on('pageerror', (e) => b.errors.push(String(e)));
  watch(b.page);
  b.restart = async () => {
    await b.context.close();
    b.context = await launch();
    b.page = b.context.pages()[0] ?? (await b.context.newPage());
    watch(b.page);
    return b.page;
  };
  b.close = async () => {
    await b.context.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  return b;
}

/** Waits until fn(state) holds in the page (state = window.demo.state). */
export async function waitState(page, fn, arg, timeout = 20000) {
  await page.waitForFunction(([src, a]) => {
    const s = window.demo?.state;
    if (s?.phase === 'error') throw new Error(s.error);
    // eslint-disable-next-line no-new-func
    return s && new Function('s', 'a', `return (${src})(s, a)`)(s, a);
  }, [fn.toString(), arg], { timeout, polling: 20 });
}

export const getState = (page) => page.evaluate(() => JSON.parse(JSON.stringify(window.demo.state)));

/** Types a message, sends it, waits for the reply; returns its text. */
export async function ask(page, text, { maxTokens = 40, seed = 42, temperature = 0 } = {}) {
  const n = (await getState(page)).replies.length;
  await page.fill('#max-tokens', String(maxTokens));
  await page.fill('#seed', String(seed));
  await page.fill('#temperature', String(temperature));
  await page.fill('#prompt', text);
  await page.click('#send');
  await waitState(page, (s, k) => s.replies.length > k && !s.busy, n);
  return (await getState(page)).replies[n];
}

/** Every unit the page's IndexedDB holds for its model (window.demo.store), as plain arrays. */
export function storedUnits(page, fileKey) {
  return page.evaluate(async (key) => {
    const { engine, store } = window.demo;
    key ??= engine.loader.storeKey;
    const out = {};
    for (const u of await store.units(key)) out[u] = Array.from(await store.get(key, u));
    return out;
  }, fileKey ?? null);
}

/**
 * Checks stored units against the file: every record is the file's bytes
 * for that unit (-1: the resident section). Returns how many there are.
 */
export function assertStoredMatchesFile(units, bytes, head, { atLeast = 2 } = {}) {
  const n = Object.keys(units).length;
  assert.ok(n >= atLeast, `only ${n} units stored`);
  for (const [k, data] of Object.entries(units)) {
    const u = Number(k);
    const e = u < 0 ? null : blockEntry(head, u);
    const [start, end] = u < 0 ? [head.header.dataOffset, head.residentEnd] : [e.offset, e.offset + e.size];
    assert.equal(data.length, end - start, `unit ${u} length`);
    assert.ok(Buffer.from(data).equals(bytes.subarray(start, end)), `unit ${u} differs from the file`);
  }
  return n;
}

/**
 * An HTTP proxy on 127.0.0.1 in front of nginx (the page and the model
 * from one origin, COOP/COEP passed through) that misbehaves on requests
 * for `path` on demand, over real sockets: fault(n, start, end) is asked per
 * ranged request of that path (n counts them) and returns null or one of
 *   {status}         that status and no body (416 adds Content-Range: bytes * /SIZE)
 *   {reset: k}       k body bytes, then a TCP reset (RST)
 *   {stall: k}       k body bytes, then silence, the socket kept open
 *   {lengthDelta: d} Content-Length off by d: d < 0 sends that much less and
 *                    ends cleanly; d > 0 sends the body, then closes
 * Returns {url, log, close()}; log gets {n, start, end, at, fault, ifRange, etag} per request of
 * `path` (ifRange: the request's If-Range header; etag: nginx's answer's ETag).
 */
export async function startFaultProxy(target, path, fault) {
  const log = [];
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    let f = null, entry = null;
    if (new URL(req.url, target).pathname === path && m) {
      entry = { n: log.length, start: Number(m[1]), end: Number(m[2]) + 1, at: Date.now(), fault: null,
        ifRange: req.headers['if-range'] ?? null, etag: null };
      log.push(entry);
      f = fault(entry.n, entry.start, entry.end) ?? null;
      entry.fault = f;
    }
    const up = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      if (entry) entry.etag = r.headers.etag ?? null;
      if (!f) {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
        return;
      }
      const chunks = [];
      r.on('data', (c) => chunks.push(c));
      r.on('end', () => misbehave(res, r, Buffer.concat(chunks), f));
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    log,
    close: () => new Promise((r) => {
      server.closeAllConnections();
      server.close(r);
    }),
  };
}

/** Sends upstream response r (body in full) the way fault f says. */
function misbehave(res, r, body, f) {
  const headers = { ...r.headers };
  if (f.status) {
    const total = /\/(\d+)$/.exec(headers['content-range'] ?? '')?.[1] ?? '*';
    const keep = Object.fromEntries(Object.entries(headers).filter(([k]) => k.startsWith('cross-origin') || k === 'etag'));
    res.writeHead(f.status, { ...keep, 'content-range': `bytes */${total}`, 'content-length': 0 });
    return res.end();
  }
  if (f.lengthDelta) headers['content-length'] = body.length + f.lengthDelta;
  res.writeHead(r.statusCode, headers);
  if (f.reset !== undefined) {
    // a pause first, so the client has read what came (an RST discards unread bytes)
    res.write(body.subarray(0, f.reset), () => setTimeout(() => res.socket?.resetAndDestroy(), 50));
  } else if (f.stall !== undefined) {
    res.write(body.subarray(0, f.stall)); // then nothing: the client's idle timer must notice
  } else if (f.lengthDelta < 0) {
    res.end(body.subarray(0, body.length + f.lengthDelta));
  } else if (f.lengthDelta > 0) {
    res.write(body, () => res.socket?.destroy());
  } else {
    res.end(body);
  }
}
