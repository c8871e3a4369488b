// serve.mjs - serves the chat demo with nginx on 127.0.0.1: the page, the
// library (js/src, js/dist, @huggingface/jinja) and web/ from the
// repository, and .bstk files under /models/ (Range requests answered with
// 206, as CDNs do). Every response carries COOP/COEP/CORP headers, so the
// page is cross-origin isolated (SharedArrayBuffer for threaded builds).
// /models/index.json lists the models ({name, url, bytes}) for the page's
// model menu; /demo/sw.js (the service worker) may control the whole origin.
//
//   node demo/serve.mjs [--port N] [--seconds S] [--check] NAME=FILE.bstk ...
//
// Prints the demo's URL; serves until Ctrl-C, or S seconds when given;
// --check fetches the page and a Range of the first model, then stops (for
// runs without a terminal, which nobody would stop). The
// end-to-end tests import startNginx() and use `rate` (nginx limit_rate on
// /slow/, the same files) to make a download last long enough to watch.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
export const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => spawnSync(p, ['-v']).status === 0) ?? null;

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * Starts nginx. Returns {url, port, dir, log() (access-log lines: "METHOD URI "RANGE" STATUS BYTES"), stop()}.
 * @param {{models?: Record<string, string>, port?: number, rate?: string, noRange?: boolean}} [opts]
 *   models: name -> .bstk path, served as /models/NAME.bstk; port: default a free one;
 *   rate: when given, the same files are also served under /slow/ at this nginx limit_rate per request
 *   (e.g. "100k"), so one server shows both a fast and a slow network;
 *   noRange: the same files also under /norange/, where nginx ignores Range (max_ranges 0: 200, whole file)
 */
export async function startNginx({ models = {}, port, rate, noRange = false } = {}) {
  if (!NGINX) throw new Error('nginx is not installed (apt-get install nginx)');
  const dir = mkdtempSync(join(tmpdir(), 'bitstack-demo-'));
  const www = join(dir, 'models');
  mkdirSync(www);
  const list = [];
  for (const [name, path] of Object.entries(models)) {
    symlinkSync(resolve(path), join(www, `${name}.bstk`));
    list.push({ name, url: `/models/${name}.bstk`, bytes: statSync(path).size });
  }
  writeFileSync(join(www, 'index.json'), JSON.stringify(list));
  chmodSync(dir, 0o755);
  chmodSync(www, 0o755);
  port ??= await freePort();
  // started as root, nginx would serve as nobody, who may not read the repository: stay root (local only)
  const user = process.getuid?.() === 0 ? 'user root;' : '';
  const conf = `daemon off;
${user}
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 256; }
http {
  log_format ranges '$request_method $uri "$http_range" $status $body_bytes_sent';
  access_log ${dir}/access.log ranges;
  client_body_temp_path ${dir}/tmp-body;
  proxy_temp_path ${dir}/tmp-proxy;
  fastcgi_temp_path ${dir}/tmp-fastcgi;
  uwsgi_temp_path ${dir}/tmp-uwsgi;
  scgi_temp_path ${dir}/tmp-scgi;
  types {
    text/html html; text/css css; text/javascript js mjs; application/wasm wasm;
    application/json json; image/png png; application/octet-stream bstk;
  }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${ROOT};
    add_header Cross-Origin-Opener-Policy same-origin always;
    add_header Cross-Origin-Embedder-Policy require-corp always;
    add_header Cross-Origin-Resource-Policy same-origin always;
    location = / { return 302 /demo/; }
    location /demo/ { }
    location = /demo/sw.js { add_header Service-Worker-Allowed / always;
      add_header Cross-Origin-Opener-Policy same-origin always;
      add_header Cross-Origin-Embedder-Policy require-corp always;
      add_header Cross-Origin-Resource-Policy same-origin always; }
    location /web/ { }
    location /js/src/ { }
    location /js/dist/ { }
    location /js/node_modules/@huggingface/ { }
    location /models/ { root ${dir}; }
    ${rate ? `location /slow/ { alias ${www}/; limit_rate ${rate}; }` : ''}
    ${noRange ? `location /norange/ { alias ${www}/; max_ranges 0; }` : ''}
    location / { return 404; }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const proc = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      await fetch(`${url}/demo/`);
      break;
    } catch {
      if (proc.exitCode !== null || i > 100) throw new Error(`nginx did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const log = () => readFileSync(join(dir, 'access.log'), 'utf8').split('\n').filter(Boolean);
  const stop = async () => {
    if (proc.exitCode === null) {
      proc.kill('SIGQUIT');
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { url, port, dir, log, stop };
}

async function main(argv) {
  const opt = (name) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv.splice(i, 2)[1] : undefined;
  };
  const port = Number(opt('port')) || undefined;
  const seconds = Number(opt('seconds')) || 0;
  const ci = argv.indexOf('--check');
  const check = ci >= 0 && argv.splice(ci, 1).length > 0;
  const models = Object.fromEntries(argv.map((a) => a.split('=')));
  const nginx = await startNginx({ models, port });
  const first = Object.keys(models)[0];
  console.log(`demo: ${nginx.url}/demo/${first ? `?model=/models/${first}.bstk` : ''}`);
  const stop = async (code = 0) => {
    await nginx.stop();
    process.exit(code);
  };
  if (check) {
    const page = await fetch(`${nginx.url}/demo/`);
    const range = first ? await fetch(`${nginx.url}/models/${first}.bstk`, { headers: { Range: 'bytes=0-95' } }) : null;
    const sw = await fetch(`${nginx.url}/demo/sw.js`);
    const list = await (await fetch(`${nginx.url}/models/index.json`)).json();
    const ok = page.status === 200 && page.headers.get('cross-origin-embedder-policy') === 'require-corp' &&
      page.headers.get('cross-origin-opener-policy') === 'same-origin' && (!range || range.status === 206) &&
      sw.status === 200 && sw.headers.get('service-worker-allowed') === '/' && list.length === Object.keys(models).length;
    console.log(`check: page ${page.status}, COOP ${page.headers.get('cross-origin-opener-policy')}, ` +
      `COEP ${page.headers.get('cross-origin-embedder-policy')}` +
      `${range ? `, model Range ${range.status} (${(await range.arrayBuffer()).byteLength} bytes)` : ''}, ` +
      `service worker ${sw.status}, models listed: ${list.map((m) => m.name).join(', ')}: ${ok ? 'ok' : 'FAILED'}`);
    await stop(ok ? 0 : 1);
  }
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  if (seconds) setTimeout(stop, seconds * 1000);
  else console.log('serving until Ctrl-C');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
