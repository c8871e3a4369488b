// The .bstk head parser (format.js) and budgets (budget.js) against files
// the native compressor writes and what the native CLI says about them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

import {
  availableBlocks, BitstackError, blocksForBudget, budgetBytes, crc32c, parseBudget, parseHead, parseHeader,
} from '../src/index.js';
import { fixtures, nativeMissing, runNative } from './helpers.mjs';

const skip = nativeMissing();
const files = skip ? {} : fixtures();

function rejects(fn, code, pattern) {
  assert.throws(fn, (err) => err instanceof BitstackError && err.code === code && (!pattern || pattern.test(err.message)));
}

describe('crc32c', () => {
  it('has the check value of FORMAT.md', () => {
    assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(0)), 0);
  });
  it('continues over pieces as over the whole', () => {
    const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 131) & 0xff);
    for (const cut of [0, 1, 7, 8, 9, 500, 999]) {
      assert.equal(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut))), crc32c(data));
    }
  });
});

describe('head parser vs the native inspect --json', { skip }, () => {
  for (const kind of ['planes', 'avd']) {
    it(`reads the ${kind} file as the C reader does`, async () => {
      const bytes = new Uint8Array(readFileSync(files[kind]));
      const head = parseHead(bytes);
      const r = await runNative(['inspect', files[kind], '--json']);
      assert.equal(r.code, 0, r.stderr);
      const want = JSON.parse(r.stdout.toString());
      const h = head.header;
      assert.equal(`${h.versionMajor}.${h.versionMinor}`, want.version);
      assert.equal(h.fileSize, want.file_size);
      assert.equal(h.fileSize, bytes.length);
      assert.equal(h.nTensors, want.n_tensors);
      assert.equal(h.nEntries, want.n_entries);
      assert.equal(h.nResident, want.n_resident);
      assert.equal(head.residentBytes, want.resident_bytes);
      assert.equal(head.fullBytes, want.full_bytes);
      assert.equal(head.nBlocks, want.n_blocks);
      assert.equal(head.stackedParams, want.stacked_params);
      assert.deepEqual([...head.meta.keys()], Object.keys(want.metadata));
      for (const [key, v] of head.meta) {
        const w = want.metadata[key];
        if (w?.array_length !== undefined) assert.equal(v.value.length, w.array_length, key);
        else if (typeof v.value === 'string') assert.equal(v.value, w, key);
        else if (Array.isArray(v.value)) v.value.forEach((x, i) => assert.ok(Math.abs(x - w[i]) <= 1e-5 * Math.max(1, Math.abs(x)), key));
        else assert.ok(Math.abs(v.value - w) <= 1e-5 * Math.max(1, Math.abs(w)), `${key}: ${v.value} vs ${w}`); // %.6g
      }
      assert.equal(head.meta.get('compress.method').value, kind);
      assert.equal(availableBlocks(head, bytes.length), head.nBlocks);
      // the level table: the cumulative bytes of each level as the native tool sums them
      for (const lv of want.levels) {
        const entries = head.entries.filter((e) => e.level === lv.level);
        assert.equal(entries.length, lv.entries);
        assert.equal(entries.reduce((s, e) => s + e.size, 0), lv.bytes);
      }
    });
  }

  it('maps budgets to the blocks the native CLI loads', async () => {
    const head = parseHead(new Uint8Array(readFileSync(files.planes)));
    for (const spec of ['150KB', '200KiB', '3bpw', '5.5bpw', '1GB', '60000', '2.5e5']) {
      const r = await runNative(['run', files.planes, '--budget', spec, '--steps', '1', '--temperature', '0']);
      assert.equal(r.code, 0, r.stderr);
      const native = Number(/stack: (\d+) of/.exec(r.stderr)[1]);
      assert.equal(blocksForBudget(head, budgetBytes(head, parseBudget(spec))), native, spec);
    }
    assert.equal(blocksForBudget(head, head.residentBytes - 1), -1);
    assert.equal(blocksForBudget(head, head.residentBytes), 0);
    assert.equal(blocksForBudget(head, head.fullBytes), head.nBlocks);
  });

  it('rejects damaged heads with the C status codes', () => {
    const good = new Uint8Array(readFileSync(files.planes));
    const edit = (off, byte) => {
      const b = good.slice();
      b[off] = byte;
      return b;
    };
    rejects(() => parseHead(edit(0, 0x41)), 'BS_ERR_FORMAT', /bad magic/);
    rejects(() => parseHead(edit(8, 7)), 'BS_ERR_VERSION', /version 7/);
    rejects(() => parseHead(edit(20, good[20] ^ 1)), 'BS_ERR_CHECKSUM', /header/);
    rejects(() => parseHead(edit(100, good[100] ^ 1)), 'BS_ERR_CHECKSUM', /metadata/);
    const h = parseHeader(good);
    rejects(() => parseHead(edit(h.indexOffset + 3, good[h.indexOffset + 3] ^ 1)), 'BS_ERR_CHECKSUM', /index/);
    rejects(() => parseHead(good.subarray(0, 50)), 'BS_ERR_TRUNCATED');
    rejects(() => parseHead(good.subarray(0, h.dataOffset - 1)), 'BS_ERR_TRUNCATED', /inside the head/);
    rejects(() => parseHead(new TextEncoder().encode('hello world')), 'BS_ERR_FORMAT');
  });

  it('tells how many blocks a prefix holds, and rejects cuts inside a block', () => {
    const bytes = new Uint8Array(readFileSync(files.avd));
    const head = parseHead(bytes);
    const { entries, header } = head;
    const k = header.nResident + 10;
    const end = entries[k - 1].offset + entries[k - 1].size;
    assert.equal(availableBlocks(head, end), 10);
    assert.equal(availableBlocks(head, Math.ceil(end / 64) * 64), 10);
    rejects(() => availableBlocks(head, end + 1 === Math.ceil(end / 64) * 64 ? end + 2 : end + 1), 'BS_ERR_TRUNCATED', /inside block 10/);
    rejects(() => availableBlocks(head, head.residentEnd - 1), 'BS_ERR_TRUNCATED', /resident/);
  });

  it('never crashes on flipped bytes: a BitstackError or a valid head', () => {
    const good = new Uint8Array(readFileSync(files.planes));
    const h = parseHeader(good);
    let seed = 7;
    const rand = (n) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    for (let i = 0; i < 300; i++) {
      const b = good.slice(0, h.dataOffset);
      for (let k = 0; k < 1 + rand(4); k++) b[rand(b.length)] ^= 1 << rand(8);
      try {
        parseHead(b);
      } catch (err) {
        assert.ok(err instanceof BitstackError, String(err));
      }
    }
  });
});

describe('budget strings', () => {
  it('parses as the native CLI does', () => {
    assert.deepEqual(parseBudget('12MB'), { bytes: 12e6 });
    assert.deepEqual(parseBudget('40MiB'), { bytes: 40 * 2 ** 20 });
    assert.deepEqual(parseBudget('5000000'), { bytes: 5e6 });
    assert.deepEqual(parseBudget('1.5KiB'), { bytes: 1536 });
    assert.deepEqual(parseBudget('3.5bpw'), { bpw: 3.5 });
    assert.deepEqual(parseBudget(1234.9), { bytes: 1234 });
    for (const bad of ['lots', '-5MB', '0', '12 MB', '12mb', '', 'MB', '1e16']) {
      rejects(() => parseBudget(bad), 'BS_ERR_INVALID_ARG');
    }
  });
});
