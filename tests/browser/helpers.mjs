// helpers.mjs - shared by the browser tests: Debian's chromium through
// playwright-core (it never downloads a browser), nginx via demo/serve.mjs,
// and the .bstk fixture made by the native compressor.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { NGINX, ROOT, startNginx } from '../../demo/serve.mjs';
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
