// Fault injection for the loader and its store, against a localhost server
// (node:http) that misbehaves on demand (helpers.mjs fileHandler): a TCP reset
// mid-block, a very slow server, 200 instead of 206, 416, wrong
// Content-Length, the file replaced on the server between requests, corrupted
// bytes, and a store that runs out of quota. Every case either completes with
// exactly the file's bytes or fails with a BitstackError naming the problem;
// none hangs (each test has a time limit) and none hands out a foreign byte.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { availableBlocks, BitstackError, crc32c, MemoryStore, parseHead, RangeLoader } from '../src/index.js';
import { FileStore } from '../src/node.js';
import { fileHandler, fixtures, nativeMissing, runNode, startServer, wasmMissing } from './helpers.mjs';

const skip = nativeMissing();
const LIMIT = { timeout: 30000 }; // a hang fails the test instead of the run

async function collect(loader, from, to, opts) {
  const got = [];
  for await (const u of loader.units(from, to, opts)) got.push(u);
  return got;
}

/** The bytes unit u (-1: resident section, i: block i) must carry. */
function unitBytes(head, bytes, index) {
  if (index < 0) return bytes.subarray(head.header.dataOffset, head.residentEnd);
  const e = head.entries[head.header.nResident + index];
  return bytes.subarray(e.offset, e.offset + e.size);
}

function checkUnits(units, head, bytes, n) {
  assert.equal(units.length, n + 1);
  units.forEach((u, k) => {
    assert.equal(u.index, k - 1);
    assert.deepEqual(u.data, unitBytes(head, bytes, k - 1));
  });
}

describe('loader faults', { skip }, () => {
  let bytes, head, other, servers = [];
  before(() => {
    bytes = new Uint8Array(readFileSync(fixtures().avd));
    head = parseHead(bytes);
    other = new Uint8Array(readFileSync(fixtures().planes)); // "the new version" of the file
  });
  after(async () => Promise.all(servers.map((s) => s.close())));
  const serve = async (behaviour) => {
    const f = fileHandler(bytes, behaviour);
    const s = await startServer(f.handler);
    servers.push(s);
    return { url: `${s.url}/m.bstk`, log: f.log };
  };
  const fast = { backoffMs: 1, maxBackoffMs: 5, headGuess: 4096 };
  const block = (i) => head.entries[head.header.nResident + i];
  /** The request [start, end) carries (part of) block i. */
  const covers = (start, end, i) => start <= block(i).offset + 100 && end > block(i).offset + 100;

  it('a TCP reset in the middle of a block: resumes at that block', LIMIT, async () => {
    let done = false;
    const { url, log } = await serve({
      fault: (n, start, end) => (covers(start, end, 5) && !done ? ((done = true), { reset: block(5).offset + 77 - start }) : null),
    });
    const loader = new RangeLoader(url, fast);
    checkUnits(await collect(loader, -1, head.nBlocks), head, bytes, head.nBlocks);
    assert.equal(loader.stats.retries, 1);
    const cut = log.findIndex((r) => covers(r.start, r.end, 5));
    assert.equal(log[cut + 1].start, block(5).offset, 'the retry starts at the block the reset cut');
  });

  it('a reset on every try: BS_ERR_IO after the retries', LIMIT, async () => {
    const { url } = await serve({ fault: (n, start, end) => (covers(start, end, 1) ? { reset: 10 } : null) });
    const loader = new RangeLoader(url, { ...fast, retries: 3 });
    await assert.rejects(collect(loader, -1, 4), (e) => e instanceof BitstackError && e.code === 'BS_ERR_IO');
    assert.equal(loader.stats.retries, 3);
  });

  it('a very slow server: units arrive one by one while it is still sending, nothing times out', LIMIT, async () => {
    const { url, log } = await serve({ fault: (n, start, end) => (covers(start, end, 0) ? { trickle: [2048, 2] } : null) });
    const loader = new RangeLoader(url, { ...fast, idleTimeoutMs: 2000 });
    const seen = [];
    for await (const u of loader.units(-1, head.nBlocks)) seen.push({ index: u.index, data: u.data, at: Date.now() });
    checkUnits(seen, head, bytes, head.nBlocks);
    const req = log.find((r) => covers(r.start, r.end, 0));
    assert.ok(seen[1].at < req.lastWriteAt, 'block 0 was handed out before the response ended');
    assert.equal(loader.stats.retries, 0);
  });

  it('a server slower than the idle timeout: each try dropped, BS_ERR_IO naming the silence', LIMIT, async () => {
    const { url } = await serve({ fault: (n, start, end) => (covers(start, end, 0) ? { trickle: [1, 400] } : null) });
    const loader = new RangeLoader(url, { ...fast, idleTimeoutMs: 150, retries: 2 });
    const t0 = Date.now();
    await assert.rejects(collect(loader, 0, 2), (e) => e.code === 'BS_ERR_IO' && /no data for 0.15 s/.test(e.message));
    assert.ok(Date.now() - t0 < 5000);
  });

  it('200 instead of 206 once the head is in: the blocks come from the full body', LIMIT, async () => {
    const { url, log } = await serve({ fault: (n, start) => (start >= head.header.dataOffset ? { noRange: true } : null) });
    const loader = new RangeLoader(url, fast);
    checkUnits(await collect(loader, -1, head.nBlocks), head, bytes, head.nBlocks);
    assert.equal(loader.stats.fullGets, 1);
    assert.equal(log.filter((r) => !r.ranged).length, 1, 'one full GET served every block');
  });

  it('416 for a block: BS_ERR_TRUNCATED at once, no retry', LIMIT, async () => {
    const { url } = await serve({ fault: (n, start, end) => (covers(start, end, 1) ? { status: 416 } : null) });
    const loader = new RangeLoader(url, fast);
    await assert.rejects(collect(loader, -1, 3), (e) => e.code === 'BS_ERR_TRUNCATED' && /416/.test(e.message));
    assert.equal(loader.stats.retries, 0);
  });

  it('a Content-Length shorter than the range: the unit it cuts is fetched again', LIMIT, async () => {
    let done = false;
    const { url } = await serve({
      fault: (n, start, end) => (covers(start, end, 2) && !done ? ((done = true), { lengthDelta: -100 }) : null),
    });
    const loader = new RangeLoader(url, { ...fast, maxRequestBytes: 20000 });
    checkUnits(await collect(loader, -1, head.nBlocks), head, bytes, head.nBlocks);
    assert.equal(loader.stats.retries, 1);
  });

  it('a Content-Length longer than the body (the connection then closes): every byte wanted came, nothing wrong kept', LIMIT, async () => {
    const { url } = await serve({ fault: (n, start) => (start >= head.header.dataOffset ? { lengthDelta: 100 } : null) });
    const loader = new RangeLoader(url, { ...fast, maxRequestBytes: 20000 });
    checkUnits(await collect(loader, -1, head.nBlocks), head, bytes, head.nBlocks);
  });

  it('a wrong Content-Length every time: BS_ERR_IO after the retries', LIMIT, async () => {
    const { url } = await serve({ fault: (n, start) => (start >= head.header.dataOffset ? { lengthDelta: -1 } : null) });
    const loader = new RangeLoader(url, { ...fast, retries: 2 });
    await assert.rejects(collect(loader, -1, 3), { code: 'BS_ERR_IO' });
  });

  it('corrupted head bytes once: fetched again; always: BS_ERR_CHECKSUM', LIMIT, async () => {
    let once = true;
    const a = await serve({ fault: (n) => (n === 0 && once ? ((once = false), { corrupt: 200 }) : null) });
    const l1 = new RangeLoader(a.url, fast);
    checkUnits(await collect(l1, -1, 3), head, bytes, 3);
    assert.equal(l1.stats.retries, 1);
    const b = await serve({ fault: (n, start) => (start === 0 ? { corrupt: 200 } : null) });
    const l2 = new RangeLoader(b.url, { ...fast, retries: 2 });
    await assert.rejects(l2.openHead(), { code: 'BS_ERR_CHECKSUM' });
  });

  describe('the file replaced on the server between requests', () => {
    // request 0 is the head; from request 2 on the server has the new file
    const swapAt = 2;
    const file = (n) => (n < swapAt ? bytes : other);

    it('no ETag, the size changes (Content-Range): BS_ERR_STATE, no block of the new file', LIMIT, async () => {
      const { url } = await serve({ file, etag: () => null });
      const loader = new RangeLoader(url, { ...fast, maxRequestBytes: 1 });
      const got = [];
      await assert.rejects(async () => {
        for await (const u of loader.units(-1, head.nBlocks)) got.push(u);
      }, (e) => e.code === 'BS_ERR_STATE' && /size \d+ -> \d+/.test(e.message));
      got.forEach((u) => assert.deepEqual(u.data, unitBytes(head, bytes, u.index)));
    });

    it('no ETag, Last-Modified changes: BS_ERR_STATE', LIMIT, async () => {
      const { url } = await serve({
        etag: () => null,
        lastModified: (n) => (n < swapAt ? 'Mon, 23 Nov 2026 10:00:00 GMT' : 'Mon, 23 Nov 2026 11:00:00 GMT'),
      });
      const loader = new RangeLoader(url, { ...fast, maxRequestBytes: 1 });
      await assert.rejects(collect(loader, -1, head.nBlocks), (e) => e.code === 'BS_ERR_STATE' && /Last-Modified/.test(e.message));
    });

    it('same size, no validators at all: the new bytes fail the first head\'s CRCs, none is handed out', LIMIT, async () => {
      const same = bytes.slice();
      for (let i = head.header.dataOffset; i < same.length; i += 97) same[i] ^= 0x33; // another version, same size
      const { url } = await serve({ file: (n) => (n < swapAt ? bytes : same), etag: () => null });
      const loader = new RangeLoader(url, { ...fast, maxRequestBytes: 1, retries: 2 });
      const got = [];
      await assert.rejects(async () => {
        for await (const u of loader.units(-1, head.nBlocks)) got.push(u);
      }, { code: 'BS_ERR_CHECKSUM' });
      got.forEach((u) => assert.deepEqual(u.data, unitBytes(head, bytes, u.index)));
    });

    it('the cache keys versions apart: after a replacement no old block is served', LIMIT, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'bitstack-faults-'));
      try {
        let current = bytes, tag = '"v1"';
        const { url } = await serve({ file: () => current, etag: () => tag });
        const store = new FileStore(dir);
        const first = new RangeLoader(url, { ...fast, store });
        await collect(first, -1, head.nBlocks);
        current = other;
        tag = '"v2"';
        const second = new RangeLoader(url, { ...fast, store });
        const otherHead = parseHead(other);
        checkUnits(await collect(second, -1, otherHead.nBlocks), otherHead, other, otherHead.nBlocks);
        assert.notEqual(second.storeKey, first.storeKey);
        assert.equal(second.stats.fromStore, 0, 'nothing of the old version was used');
        const third = new RangeLoader(url, { ...fast, store });
        checkUnits(await collect(third, -1, otherHead.nBlocks), otherHead, other, otherHead.nBlocks);
        assert.equal(third.stats.fromStore, otherHead.nBlocks + 1, 'the new version is cached in its own right');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('a store that fails', () => {
    class QuotaStore extends MemoryStore {
      constructor(room) {
        super();
        this.room = room;
        this.puts = 0;
      }
      async put(key, unit, data) {
        this.puts++;
        if (this.room-- <= 0) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        return super.put(key, unit, data);
      }
    }

    it('quota exceeded: the download completes, the error is kept, no further writes', LIMIT, async () => {
      const { url } = await serve();
      const store = new QuotaStore(3);
      const loader = new RangeLoader(url, { ...fast, store });
      checkUnits(await collect(loader, -1, head.nBlocks), head, bytes, head.nBlocks);
      assert.equal(loader.storeError?.name, 'QuotaExceededError');
      assert.equal(loader.stats.storeErrors, 1);
      assert.equal(store.puts, 4, 'three units kept, the fourth refused, then no more tries');
      const again = new RangeLoader(url, { ...fast, store }); // what was kept is still good
      checkUnits(await collect(again, -1, head.nBlocks), head, bytes, head.nBlocks);
      assert.equal(again.stats.fromStore, 3);
    });

    it('a store whose reads throw counts as empty', LIMIT, async () => {
      const { url } = await serve();
      const store = new MemoryStore();
      store.get = async () => {
        throw new Error('database is broken');
      };
      const loader = new RangeLoader(url, { ...fast, store });
      checkUnits(await collect(loader, -1, head.nBlocks), head, bytes, head.nBlocks);
      assert.match(loader.storeError.message, /broken/);
    });

    it('node CLI with a cache it cannot write: same text as without, exit 0, a warning', { ...LIMIT, skip: wasmMissing() }, async () => {
      const { url } = await serve();
      const args = ['run', url, '--steps', '20', '--temperature', '0'];
      const plain = await runNode(args);
      assert.equal(plain.code, 0, plain.stderr);
      const broken = await runNode([...args, '--cache', '/dev/null/cache']); // mkdir fails: ENOTDIR
      assert.equal(broken.code, 0, broken.stderr);
      assert.equal(broken.stdout.toString(), plain.stdout.toString());
      assert.match(broken.stderr, /warning: the cache failed \(ENOTDIR/);
    });
  });
});

/** Recomputes the section and header CRCs of a .bstk head, so mutations reach the parsers behind them. */
function fixChecksums(b) {
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u64 = (o) => Number(d.getBigUint64(o, true));
  const sections = [[u64(48), d.getUint32(44, true) * 32, 72], [u64(16), u64(24), 64], [u64(32), d.getUint32(40, true) * 32, 68]];
  for (const [off, n, at] of sections) if (off + n <= b.length) d.setUint32(at, crc32c(b.subarray(off, off + n)), true);
  d.setUint32(92, crc32c(b.subarray(0, 92)), true);
}

describe('the JavaScript .bstk parser on damaged heads', { skip }, () => {
  it('3000 mutated heads per file (CRCs recomputed in 7 of 8): each parses or throws a BitstackError', LIMIT, () => {
    let seed = 20261123;
    const rnd = (n) => { // mulberry32: the same mutations on every run
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    for (const path of [fixtures().avd, fixtures().planes]) {
      const file = new Uint8Array(readFileSync(path));
      const headLength = parseHead(file).header.dataOffset;
      const codes = {};
      for (let i = 0; i < 3000; i++) {
        const b = file.slice(0, headLength);
        for (let k = 1 + rnd(4); k > 0; k--) {
          const off = rnd(3) === 0 ? rnd(96) : rnd(headLength);
          b[off] = [b[off] ^ (1 << rnd(8)), rnd(256), [0, 0xff, 0x7f, 0x80][rnd(4)]][rnd(3)];
        }
        if (rnd(8)) fixChecksums(b);
        let code = 'ok';
        try {
          availableBlocks(parseHead(b), file.length);
        } catch (err) {
          assert.ok(err instanceof BitstackError, `mutation ${i}: ${err.name}: ${err.message}`);
          code = err.code;
        }
        codes[code] = (codes[code] ?? 0) + 1;
      }
      // the mutations reach past the checksums: most failures are layout errors
      assert.ok(codes.BS_ERR_FORMAT > codes.BS_ERR_CHECKSUM, JSON.stringify(codes));
    }
  });
});

describe('the Node CLI on damaged files', { skip: skip || wasmMissing() }, () => {
  it('inspect and run exit 0, 1 or 2 on truncated and mutated .bstk files, without a stack trace', { timeout: 120000 }, async () => {
    const file = new Uint8Array(readFileSync(fixtures().planes));
    const head = parseHead(file);
    const dir = mkdtempSync(join(tmpdir(), 'bitstack-cli-faults-'));
    try {
      const cuts = [0, 50, 96, head.header.dataOffset - 1, head.header.dataOffset + 10, head.residentEnd + 3];
      const cases = cuts.map((n) => file.slice(0, n));
      for (const off of [100, 300, head.header.dataOffset - 40, head.header.dataOffset + 5, head.residentEnd + 100]) {
        const b = file.slice();
        b[off] ^= 0x10;
        fixChecksums(b); // a layout change the parser must catch, not a checksum
        cases.push(b);
      }
      const exits = {};
      for (const [i, bytes] of cases.entries()) {
        const path = join(dir, `case${i}.bstk`);
        writeFileSync(path, bytes);
        for (const args of [['inspect', path], ['run', path, '--steps', '2']]) {
          const r = await runNode(args);
          assert.ok([0, 1, 2].includes(r.code), `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
          assert.doesNotMatch(r.stderr, /\n\s+at /, `${args.join(' ')}: a stack trace\n${r.stderr}`);
          exits[r.code] = (exits[r.code] ?? 0) + 1;
        }
      }
      assert.ok(exits[2] > 0, JSON.stringify(exits));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
