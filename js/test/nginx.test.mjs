// ACCEPTANCE over HTTP: the same text from an http://127.0.0.1 URL served
// by nginx (Range requests, as CDNs serve them) as from the native CLI on
// the file; with --cache DIR a second run downloads no block again (counted
// in nginx's access log). The test starts the demo's nginx (demo/serve.mjs) on a free
// port, with the fixtures under /models/, and stops it.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { NGINX, startNginx } from '../../demo/serve.mjs';
import { fixtures, nativeMissing, runNative, runNode, wasmMissing } from './helpers.mjs';

const skip = nativeMissing() || wasmMissing() || (!NGINX && 'nginx is not installed (apt-get install nginx)');

describe('nginx: runs from an http URL', { skip }, () => {
  let nginx, files;
  before(async () => {
    files = fixtures();
    nginx = await startNginx({ models: files }); // the demo's server: files under /models/
  });
  after(async () => nginx?.stop());

  it('serves Range requests (206)', async () => {
    const res = await fetch(`${nginx.url}/models/planes.bstk`, { headers: { Range: 'bytes=0-95' } });
    assert.equal(res.status, 206);
    assert.equal((await res.arrayBuffer()).byteLength, 96);
  });

  for (const kind of ['planes', 'avd']) {
    it(`${kind}: the URL run prints the native run's text`, async () => {
      for (const [budget, wasm] of [['3bpw', 'simd128'], ['5bpw', 'simd128'], ['4bpw', 'scalar']]) {
        const args = ['--budget', budget, '--steps', '60', '--temperature', '0'];
        const nat = await runNative(['run', files[kind], ...args]);
        const js = await runNode(['run', `${nginx.url}/models/${kind}.bstk`, ...args, '--wasm', wasm]);
        assert.equal(js.code, 0, js.stderr);
        assert.equal(js.stdout.toString(), nat.stdout.toString(), `${kind} ${budget} ${wasm}`);
      }
    });
  }

  it('with --cache, a second run downloads no block again', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'bitstack-cache-'));
    try {
      const args = ['run', `${nginx.url}/models/avd.bstk`, '--budget', '6bpw', '--steps', '30', '--temperature', '0', '--cache', cache];
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
    const js = await runNode(['inspect', `${nginx.url}/models/planes.bstk`, '--json']);
    assert.equal(js.code, 0, js.stderr);
    assert.equal(JSON.parse(js.stdout.toString()).n_blocks, JSON.parse((await runNative(['inspect', files.planes, '--json'])).stdout).n_blocks);
    assert.equal(nginx.log().length - n0, 1);
  });

  it('a missing file exits 2 with HTTP 404', async () => {
    const js = await runNode(['run', `${nginx.url}/models/missing.bstk`]);
    assert.equal(js.code, 2);
    assert.match(js.stderr, /404/);
  });
});
