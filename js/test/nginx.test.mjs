// ACCEPTANCE over HTTP: the same text from an http://127.0.0.1 URL served
// by nginx (Range requests, as CDNs serve them) as from the native CLI on
// the file; with --cache DIR a second run downloads no block again (counted
// in nginx's access log). The test starts nginx on a free port with a
// generated configuration in a temporary directory, and stops it.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { fixtures, nativeMissing, runNative, runNode, wasmMissing } from './helpers.mjs';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => spawnSync(p, ['-v']).status === 0);
const skip = nativeMissing() || wasmMissing() || (!NGINX && 'nginx is not installed (apt-get install nginx)');

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

async function startNginx(files) {
  const dir = mkdtempSync(join(tmpdir(), 'bitstack-nginx-'));
  const www = join(dir, 'www');
  mkdirSync(www);
  for (const [name, path] of Object.entries(files)) {
    copyFileSync(path, join(www, `${name}.bstk`));
    chmodSync(join(www, `${name}.bstk`), 0o644);
  }
  // started as root, nginx serves as an unprivileged worker: let it read
  chmodSync(dir, 0o755);
  chmodSync(www, 0o755);
  const port = await freePort();
  const conf = `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  log_format ranges '$request_method $uri "$http_range" $status $body_bytes_sent';
  access_log ${dir}/access.log ranges;
  client_body_temp_path ${dir}/tmp-body;
  proxy_temp_path ${dir}/tmp-proxy;
  fastcgi_temp_path ${dir}/tmp-fastcgi;
  uwsgi_temp_path ${dir}/tmp-uwsgi;
  scgi_temp_path ${dir}/tmp-scgi;
  types { application/octet-stream bstk; }
  server {
    listen 127.0.0.1:${port};
    root ${www};
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const proc = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${url}/`);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const log = () => readFileSync(join(dir, 'access.log'), 'utf8').split('\n').filter(Boolean);
  const stop = async () => {
    proc.kill('SIGQUIT');
    await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
    rmSync(dir, { recursive: true, force: true });
  };
  return { url, log, dir, stop };
}

describe('nginx: runs from an http URL', { skip }, () => {
  let nginx, files;
  before(async () => {
    files = fixtures();
    nginx = await startNginx(files);
  });
  after(async () => nginx?.stop());

  it('serves Range requests (206)', async () => {
    const res = await fetch(`${nginx.url}/planes.bstk`, { headers: { Range: 'bytes=0-95' } });
    assert.equal(res.status, 206);
    assert.equal((await res.arrayBuffer()).byteLength, 96);
  });

  for (const kind of ['planes', 'avd']) {
    it(`${kind}: the URL run prints the native run's text`, async () => {
      for (const [budget, wasm] of [['3bpw', 'simd128'], ['5bpw', 'simd128'], ['4bpw', 'scalar']]) {
        const args = ['--budget', budget, '--steps', '60', '--temperature', '0'];
        const nat = await runNative(['run', files[kind], ...args]);
        const js = await runNode(['run', `${nginx.url}/${kind}.bstk`, ...args, '--wasm', wasm]);
        assert.equal(js.code, 0, js.stderr);
        assert.equal(js.stdout.toString(), nat.stdout.toString(), `${kind} ${budget} ${wasm}`);
      }
    });
  }

  it('with --cache, a second run downloads no block again', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'bitstack-cache-'));
    try {
      const args = ['run', `${nginx.url}/avd.bstk`, '--budget', '6bpw', '--steps', '30', '--temperature', '0', '--cache', cache];
      const n0 = nginx.log().length;
      const first = await runNode(args);
      assert.equal(first.code, 0, first.stderr);
      const firstLog = nginx.log().slice(n0);
      assert.ok(firstLog.length >= 2, firstLog.join('\n'));
      assert.match(first.stderr, / 0 from the cache/);
      const n1 = nginx.log().length;
      const second = await runNode(args);
      assert.equal(second.code, 0, second.stderr);
      const secondLog = nginx.log().slice(n1);
      // one request: the head (to learn the file's version), nothing past it
      assert.equal(secondLog.length, 1, secondLog.join('\n'));
      assert.match(secondLog[0], /"bytes=0-65535" 206/);
      assert.match(second.stderr, / 0 units from the source/);
      assert.equal(second.stdout.toString(), first.stdout.toString());
      // a bigger budget fetches only the blocks it lacks
      const n2 = nginx.log().length;
      const bigger = await runNode(args.map((a) => (a === '6bpw' ? '8bpw' : a)));
      assert.equal(bigger.code, 0, bigger.stderr);
      const starts = nginx.log().slice(n2 + 1).map((l) => Number(/"bytes=(\d+)-/.exec(l)[1]));
      const firstEnd = Math.max(...firstLog.map((l) => Number(/"bytes=\d+-(\d+)"/.exec(l)?.[1] ?? 0)));
      assert.ok(starts.length >= 1 && starts.every((s) => s > firstEnd), `${starts} after ${firstEnd}`);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it('inspect reads the head alone (one request)', async () => {
    const n0 = nginx.log().length;
    const js = await runNode(['inspect', `${nginx.url}/planes.bstk`, '--json']);
    assert.equal(js.code, 0, js.stderr);
    assert.equal(JSON.parse(js.stdout.toString()).n_blocks, JSON.parse((await runNative(['inspect', files.planes, '--json'])).stdout).n_blocks);
    assert.equal(nginx.log().length - n0, 1);
  });

  it('a missing file exits 2 with HTTP 404', async () => {
    const js = await runNode(['run', `${nginx.url}/missing.bstk`]);
    assert.equal(js.code, 2);
    assert.match(js.stderr, /404/);
  });
});
