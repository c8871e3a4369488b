// store_node.js - a BlockStore in a directory (Node): the CLI's --cache.
//
// Layout: DIR/<sha256 of the file key>/unit-<n>.bin (n = -1 for the
// resident section) and key.txt holding the file key in clear. Writes go to
// a temporary name first and are renamed into place, so a crash never
// leaves a half-written block under its final name (and the loader verifies
// CRCs anyway).

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** @implements {import('./store.js').BlockStore} */
export class FileStore {
  /** @param {string} dir created when missing */
  constructor(dir) {
    this.dir = dir;
  }

  #fileDir(fileKey) {
    return join(this.dir, createHash('sha256').update(fileKey).digest('hex').slice(0, 32));
  }

  async get(fileKey, unit) {
    try {
      return new Uint8Array(await readFile(join(this.#fileDir(fileKey), `unit-${unit}.bin`)));
    } catch (err) {
      if (err.code === 'ENOENT') return null;
      throw err;
    }
  }

  async put(fileKey, unit, data) {
    const dir = this.#fileDir(fileKey);
    await mkdir(dir, { recursive: true });
    const keyFile = join(dir, 'key.txt');
    await writeFile(keyFile, `${fileKey}\n`, { flag: 'w' });
    const tmp = join(dir, `.unit-${unit}.${randomBytes(6).toString('hex')}.tmp`);
    await writeFile(tmp, data);
    await rename(tmp, join(dir, `unit-${unit}.bin`));
  }

  async delete(fileKey) {
    await rm(this.#fileDir(fileKey), { recursive: true, force: true });
  }
}
