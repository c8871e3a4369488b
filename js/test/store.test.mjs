// Block stores: the memory store and the directory store of --cache.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

import { MemoryStore } from '../src/index.js';
import { FileStore } from '../src/node.js';

const dirs = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

for (const [name, make] of [['MemoryStore', () => new MemoryStore()], ['FileStore', () => {
  const d = mkdtempSync(join(tmpdir(), 'bitstack-store-'));
  dirs.push(d);
  return new FileStore(join(d, 'cache'));
}]]) {
  describe(name, () => {
    it('keeps units per file key, never mixing versions', async () => {
      const s = make();
      const a = Uint8Array.of(1, 2, 3), b = Uint8Array.of(9, 8);
      assert.equal(await s.get('file|"v1"', 0), null);
      await s.put('file|"v1"', 0, a);
      await s.put('file|"v1"', -1, b);
      await s.put('file|"v2"', 0, b);
      assert.deepEqual(await s.get('file|"v1"', 0), a);
      assert.deepEqual(await s.get('file|"v1"', -1), b);
      assert.deepEqual(await s.get('file|"v2"', 0), b);
      assert.equal(await s.get('file|"v2"', 1), null);
      a[0] = 7; // the store holds its own copy
      assert.deepEqual(await s.get('file|"v1"', 0), Uint8Array.of(1, 2, 3));
      await s.put('file|"v1"', 0, b); // replace
      assert.deepEqual(await s.get('file|"v1"', 0), b);
      await s.delete('file|"v1"');
      assert.equal(await s.get('file|"v1"', 0), null);
      assert.deepEqual(await s.get('file|"v2"', 0), b);
    });
  });
}

describe('FileStore on disk', () => {
  it('writes complete files only and survives a new instance', async () => {
    const d = mkdtempSync(join(tmpdir(), 'bitstack-store-'));
    dirs.push(d);
    const s1 = new FileStore(d);
    await s1.put('k', 3, new Uint8Array(1000).fill(5));
    const sub = readdirSync(d);
    assert.equal(sub.length, 1);
    const files = readdirSync(join(d, sub[0])).sort();
    assert.deepEqual(files, ['key.txt', 'unit-3.bin']); // no temporary left behind
    writeFileSync(join(d, sub[0], 'unit-4.bin'), 'garbage'); // damage is the loader's to catch (CRC)
    const s2 = new FileStore(d);
    assert.equal((await s2.get('k', 3)).length, 1000);
    assert.equal((await s2.get('k', 4)).length, 7);
  });
});
