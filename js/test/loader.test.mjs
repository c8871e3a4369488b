// The range loader against an in-process HTTP server that serves a real
// .bstk and misbehaves on demand: coalescing, a server without Range, a
// dropped connection, corrupted blocks, errors, aborts, prefix files.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { BitstackError, MemoryStore, parseHead, RangeLoader } from '../src/index.js';
import { fileHandler, fixtures, nativeMissing, startServer } from './helpers.mjs';

const skip = nativeMissing();

async function collect(loader, from, to, opts) {
  const got = [];
  for await (const u of loader.units(from, to, opts)) got.push(u);
  return got;
}

/** Checks that units [-1, n) came out in order with the file's bytes. */
function checkUnits(units, head, bytes, n) {
  assert.equal(units.length, n + 1);
  assert.equal(units[0].index, -1);
  assert.deepEqual(units[0].data, bytes.subarray(head.header.dataOffset, head.residentEnd));
  for (let i = 0; i < n; i++) {
    const e = head.entries[head.header.nResident + i];
    assert.equal(units[i + 1].index, i);
    assert.deepEqual(units[i + 1].data, bytes.subarray(e.offset, e.offset + e.size));
  }
}

describe('RangeLoader', { skip }, () => {
  let bytes, head, servers = [];
  before(() => {
    bytes = new Uint8Array(readFileSync(fixtures().avd));
    head = parseHead(bytes);
  });
  after(async () => Promise.all(servers.map((s) => s.close())));
  const serve = async (behaviour) => {
    const f = fileHandler(bytes, behaviour);
    const s = await startServer(f.handler);
    servers.push(s);
    return { url: `${s.url}/m.bstk`, log: f.log };
  };
  const fast = { backoffMs: 1, maxBackoffMs: 5 };

  it('fetches the head in one request and coalesces adjacent blocks', async () => {
    const { url, log } = await serve();
    const loader = new RangeLoader(url, { maxRequestBytes: 40000, headGuess: 4096, ...fast });
    await loader.openHead();
    const headRequests = log.length;
    assert.ok(headRequests <= 2);
    assert.equal(log[0].start, 0);
    const units = await collect(loader, -1, head.nBlocks);
    checkUnits(units, head, bytes, head.nBlocks);
    const blockReqs = log.slice(headRequests);
    for (const r of blockReqs) assert.ok(r.end - r.start <= 40000 || r === blockReqs[0]);
    // contiguous, in order, covering the file once
    for (let i = 1; i < blockReqs.length; i++) assert.ok(blockReqs[i].start >= blockReqs[i - 1].end);
    assert.ok(blockReqs.length < head.nBlocks / 4, `${blockReqs.length} requests for ${head.nBlocks} blocks`);
    assert.equal(loader.stats.retries, 0);
    assert.ok(blockReqs.every((r) => r.ifRange === '"v1"'), 'later requests carry If-Range');
  });

  it('one request per block when coalescing is off', async () => {
    const { url, log } = await serve();
    const loader = new RangeLoader(url, { maxRequestBytes: 1, headGuess: 1024, ...fast });
    await loader.openHead();
    const before = log.length;
    await collect(loader, 0, 5); // the resident section is not asked for here
    assert.equal(log.length - before, 5);
  });

  it('falls back to one streamed full GET when the server ignores Range', async () => {
    const { url, log } = await serve({ noRange: true });
    const loader = new RangeLoader(url, { headGuess: 4096, ...fast });
    const units = await collect(loader, -1, head.nBlocks);
    checkUnits(units, head, bytes, head.nBlocks);
    assert.equal(log.length, 1, 'the head and every block came from the one response');
    assert.equal(loader.stats.fullGets, 1);
  });

  it('resumes from the last verified block after a dropped connection', async () => {
    let dropped = null;
    const { url, log } = await serve({
      fault: (n, start) => {
        if (start >= head.entries[head.header.nResident].offset && dropped === null) {
          // the first block request: cut it in the middle of its 4th block
          const e = head.entries[head.header.nResident + 3];
          dropped = e.offset;
          return { dropAfter: e.offset + 100 - start };
        }
        return null;
      },
    });
    const loader = new RangeLoader(url, { headGuess: 4096, ...fast });
    await loader.openHead();
    const units = await collect(loader, 0, head.nBlocks);
    assert.equal(units.length, head.nBlocks);
    units.forEach((u, i) => {
      const e = head.entries[head.header.nResident + i];
      assert.deepEqual(u.data, bytes.subarray(e.offset, e.offset + e.size));
    });
    assert.equal(loader.stats.retries, 1);
    const cut = log.findIndex((r) => r.start >= head.entries[head.header.nResident].offset);
    assert.equal(log[cut + 1].start, dropped, 'the retry starts at the first unverified block');
  });

  it('detects a corrupted block and fetches it again', async () => {
    const victim = head.entries[head.header.nResident + 7];
    let served = false;
    const { url, log } = await serve({
      fault: (n, start, end) => {
        if (!served && start <= victim.offset && end > victim.offset + 10) {
          served = true;
          return { corrupt: victim.offset + 10 };
        }
        return null;
      },
    });
    const loader = new RangeLoader(url, { headGuess: 1024, ...fast });
    const units = await collect(loader, -1, head.nBlocks);
    checkUnits(units, head, bytes, head.nBlocks);
    assert.equal(loader.stats.retries, 1);
    assert.equal(log.at(-1).start <= victim.offset, true);
    assert.ok(log.some((r, i) => i > 1 && r.start === victim.offset), 'refetched from the corrupted block');
  });

  it('gives up with BS_ERR_CHECKSUM when a block stays corrupt', async () => {
    const victim = head.entries[head.header.nResident + 2];
    const { url } = await serve({
      fault: (n, start, end) => (start <= victim.offset && end > victim.offset ? { corrupt: victim.offset } : null),
    });
    const loader = new RangeLoader(url, { headGuess: 1024, retries: 2, ...fast });
    await assert.rejects(collect(loader, -1, head.nBlocks), (err) => err.code === 'BS_ERR_CHECKSUM' && /block 2/.test(err.message));
    assert.equal(loader.stats.retries, 2);
  });

  it('retries server errors, but not a 404', async () => {
    let fails = 2;
    const flaky = await serve({ fault: (n) => (n > 0 && fails-- > 0 ? { status: 503 } : null) });
    const loader = new RangeLoader(flaky.url, { headGuess: 1024, ...fast });
    checkUnits(await collect(loader, -1, 3), head, bytes, 3);
    assert.equal(loader.stats.retries, 2);
    const gone = await serve({ fault: () => ({ status: 404 }) });
    const l2 = new RangeLoader(gone.url, fast);
    await assert.rejects(l2.openHead(), (err) => err instanceof BitstackError && err.code === 'BS_ERR_IO' && /404/.test(err.message));
    assert.equal(l2.stats.retries, 0);
  });

  it('aborts a stalled download with an AbortError', async () => {
    const { url } = await serve({ fault: (n, start) => (start >= head.header.dataOffset ? { stall: true } : null) });
    const loader = new RangeLoader(url, { headGuess: 1024, ...fast });
    await loader.openHead();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const t0 = Date.now();
    await assert.rejects(collect(loader, -1, head.nBlocks, { signal: ac.signal }), { name: 'AbortError' });
    assert.ok(Date.now() - t0 < 3000);
    const l2 = new RangeLoader(url, fast);
    await assert.rejects(l2.openHead({ signal: AbortSignal.abort() }), { name: 'AbortError' });
  });

  it('drops and retries a request that stalls', async () => {
    let stalled = false;
    const { url } = await serve({
      fault: (n, start) => (start >= head.header.dataOffset && !stalled ? ((stalled = true), { stall: true }) : null),
    });
    const loader = new RangeLoader(url, { headGuess: 1024, idleTimeoutMs: 200, ...fast });
    checkUnits(await collect(loader, -1, 4), head, bytes, 4);
    assert.equal(loader.stats.retries, 1);
  });

  it('stops when the file changes on the server between requests', async () => {
    const { url, log } = await serve({ etag: (n) => (n === 0 ? '"v1"' : '"v2"') });
    const loader = new RangeLoader(url, { headGuess: 1024, ...fast });
    await assert.rejects(collect(loader, -1, head.nBlocks), (err) => err.code === 'BS_ERR_STATE' && /"v1" -> "v2"/.test(err.message));
    assert.equal(loader.stats.retries, 0, 'a version change is not retried');
    assert.equal(log[0].ifRange, undefined); // nothing to match yet
    assert.ok(log.length > 1 && log.slice(1).every((r) => r.ifRange === '"v1"'), JSON.stringify(log));
  });

  it('later requests carry If-Range with a strong ETag only (a weak one cannot validate a range)', async () => {
    for (const [etag, want] of [['"v1"', '"v1"'], ['W/"v1"', undefined], [null, undefined]]) {
      const { url, log } = await serve({ etag: () => etag });
      const loader = new RangeLoader(url, { headGuess: 1024, maxRequestBytes: 4096, ...fast });
      checkUnits(await collect(loader, -1, 6), head, bytes, 6);
      assert.ok(log.length > 2);
      assert.deepEqual(log.slice(1).map((r) => r.ifRange), log.slice(1).map(() => want), `ETag ${etag}`);
    }
  });

  it('knows what a prefix file holds and refuses to read past it', async () => {
    const k = head.header.nResident + 20;
    const cut = bytes.subarray(0, head.entries[k - 1].offset + head.entries[k - 1].size);
    const f = fileHandler(cut);
    const s = await startServer(f.handler);
    servers.push(s);
    const loader = new RangeLoader(`${s.url}/p.bstk`, { headGuess: 1024, ...fast });
    await loader.openHead();
    assert.equal(loader.available, 20);
    checkUnits(await collect(loader, -1, 20), head, bytes, 20);
    await assert.rejects(collect(loader, 20, 21), { code: 'BS_ERR_TRUNCATED' });
  });

  it('serves verified units from a store and skips damaged ones', async () => {
    const { url, log } = await serve();
    const store = new MemoryStore();
    const first = new RangeLoader(url, { store, ...fast });
    await collect(first, -1, head.nBlocks);
    const key = first.storeKey;
    (await store.get(key, 5))[0] ^= 1; // damage one stored block
    const before = log.length;
    const second = new RangeLoader(url, { store, ...fast }); // 64 KiB: the head in one request
    checkUnits(await collect(second, -1, head.nBlocks), head, bytes, head.nBlocks);
    assert.equal(second.storeKey, key);
    assert.equal(second.stats.fromStore, head.nBlocks); // resident + every block but the damaged one
    assert.equal(log.length - before, 2, 'the head and the damaged block');
  });

  it('reads local files', async () => {
    const loader = new RangeLoader(fixtures().avd, { maxRequestBytes: 10000 });
    checkUnits(await collect(loader, -1, head.nBlocks), head, bytes, head.nBlocks);
    await assert.rejects(new RangeLoader('/nonexistent/x.bstk').openHead(), { code: 'BS_ERR_IO' });
  });

  it('a damaged local file fails at once: no retry, no backoff (it reads the same every time)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bitstack-local-'));
    try {
      const bad = bytes.slice();
      const e = head.entries[head.header.nResident + 3];
      bad[e.offset + 1] ^= 1;
      writeFileSync(join(dir, 'bad.bstk'), bad);
      const loader = new RangeLoader(join(dir, 'bad.bstk'));
      const t0 = Date.now();
      await assert.rejects(collect(loader, -1, head.nBlocks), (err) => err.code === 'BS_ERR_CHECKSUM' && /block 3/.test(err.message));
      assert.equal(loader.stats.retries, 0);
      assert.ok(Date.now() - t0 < 150, `${Date.now() - t0} ms: the first backoff is 200 ms`);
      // asked for, retries still happen (a file being written, say)
      const patient = new RangeLoader(join(dir, 'bad.bstk'), { retries: 2, backoffMs: 1 });
      await assert.rejects(collect(patient, -1, head.nBlocks), { code: 'BS_ERR_CHECKSUM' });
      assert.equal(patient.stats.retries, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
