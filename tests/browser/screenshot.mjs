// screenshot.mjs - a picture of the demo chatting with a given model (not a
// test: for the README, run by hand). Serves the models with nginx, opens the
// page in chromium, waits for the whole budget, asks, saves a PNG, and prints
// the reply with the timings.
//
//   node tests/browser/screenshot.mjs OUT.png "PROMPT" NAME=FILE.bstk [NAME=FILE.bstk ...]
//
// The first model is the one loaded; the others appear in the model menu.
import { ask, getState, openBrowser, startNginx, waitState } from './helpers.mjs';

const [out, prompt, ...pairs] = process.argv.slice(2);
if (!out || !prompt || !pairs.length) {
  console.error('usage: node tests/browser/screenshot.mjs OUT.png "PROMPT" NAME=FILE.bstk ...');
  process.exit(1);
}
const models = Object.fromEntries(pairs.map((p) => p.split('=')));
const nginx = await startNginx({ models });
const b = await openBrowser();
try {
  const t0 = Date.now();
  await b.page.goto(`${nginx.url}/demo/?model=/models/${Object.keys(models)[0]}.bstk`);
  await waitState(b.page, (s) => s.phase === 'ready' || s.phase === 'complete', undefined, 120000);
  const ready = Date.now() - t0;
  await waitState(b.page, (s) => s.phase === 'complete', undefined, 600000);
  const complete = Date.now() - t0;
  const reply = await ask(b.page, prompt, { maxTokens: 60 });
  const st = await getState(b.page);
  console.log(`ready after ${ready} ms, every block after ${complete} ms (${st.net.bytes} bytes); ` +
    `${st.tokensPerSec.toFixed(1)} tokens/s\n${reply}`);
  await b.page.screenshot({ path: out });
} finally {
  await b.close();
  await nginx.stop();
}
