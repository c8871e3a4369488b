// store.js - where verified blocks are kept between runs.
//
// The interface is small so that each platform brings its own: this file
// has the in-memory store (tests, one process); store_node.js keeps blocks
// in a directory (the CLI's --cache); a browser IndexedDB store lives in
// web/. Keys are (file key, unit): the file key (RangeLoader.storeKey) joins
// the source, its ETag / Last-Modified, size and header CRC, so two
// versions of a file never share entries; unit -1 is the resident section,
// i >= 0 stack block i. A unit may be hundreds of MB (the resident section
// of a 1B+ model): a store with a limit per value splits it itself (the
// IndexedDB store keeps pieces of at most 32 MiB) and hands back the whole.
// Stores may lose or damage data: the loader checks every CRC of what get()
// returns and fetches again on a mismatch.

/**
 * @typedef {object} BlockStore
 * @property {(fileKey: string, unit: number) => Promise<Uint8Array|null>} get
 * @property {(fileKey: string, unit: number, data: Uint8Array) => Promise<void>} put
 * @property {(fileKey: string) => Promise<void>} delete  forgets every unit of a file
 */

/** Blocks in a Map, for tests and single runs. @implements {BlockStore} */
export class MemoryStore {
  constructor() {
    /** @type {Map<string, Map<number, Uint8Array>>} */
    this.files = new Map();
  }

  async get(fileKey, unit) {
    return this.files.get(fileKey)?.get(unit) ?? null;
  }

  async put(fileKey, unit, data) {
    if (!this.files.has(fileKey)) this.files.set(fileKey, new Map());
    this.files.get(fileKey).set(unit, data.slice());
  }

  async delete(fileKey) {
    this.files.delete(fileKey);
  }
}
