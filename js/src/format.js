// format.js - the .bstk head (header, metadata, tensor table, index), read
// from core/FORMAT.md alone: this is the format's second reader, the C one
// being core/src/bstk.c. It checks what FORMAT.md asks a reader to check, in
// the same order and with the same status codes, and derives what a client
// needs before downloading anything: where the resident section ends, the
// stack blocks with their offsets, sizes and CRCs, and the sizes that
// budgets are measured in.
//
// Layout: header (96 B) | metadata | tensor table | index | padding |
//         resident payloads | residual blocks in stack order.

import { crc32c } from './crc32c.js';
import { BitstackError } from './errors.js';

export const MAGIC = Uint8Array.of(0x42, 0x53, 0x54, 0x4b, 0x0d, 0x0a, 0x1a, 0x0a);
export const HEADER_SIZE = 96;
export const VERSION_MAJOR = 1;
/** Largest Hadamard block of a rotated PLANES tensor, as log2 (FORMAT.md 3). */
const ROTATE_MAX_LOG2 = 15;
/** PLANES scale code of 8-bit scales (.bstk 1.2). */
const SCALES_CODE8 = 8;
const TENSOR_SIZE = 32;
const ENTRY_SIZE = 32;
const ALIGN = 64;

export const KIND = Object.freeze({ F32: 0, F16: 1, AVD: 2, PLANES: 3 });
export const KIND_NAMES = ['F32', 'F16', 'AVD', 'PLANES'];
export const ROLE_NAMES = ['token_embd', 'output', 'output_norm', 'attn_norm', 'ffn_norm',
  'q', 'k', 'v', 'o', 'gate', 'up', 'down'];
const META = Object.freeze({ U32: 1, I32: 2, F32: 3, U64: 4, I64: 5, F64: 6, STRING: 7, ARRAY: 8 });
const META_SIZE = [0, 4, 4, 4, 8, 8, 8];

const fail = (code, message) => new BitstackError(code, message);

/** An unsigned 64-bit field as a Number; FORMAT error past 2^53. */
function u64(dv, off, what) {
  const v = dv.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw fail('BS_ERR_FORMAT', `.bstk: ${what} = ${v} is out of range`);
  return Number(v);
}

/**
 * @typedef {object} BstkHeader
 * @property {number} versionMajor
 * @property {number} versionMinor
 * @property {number} headerSize
 * @property {number} metaOffset
 * @property {number} metaSize
 * @property {number} tensorsOffset
 * @property {number} nTensors
 * @property {number} nEntries
 * @property {number} indexOffset
 * @property {number} dataOffset  end of the head: the first payload byte
 * @property {number} metaCrc
 * @property {number} tensorsCrc
 * @property {number} indexCrc
 * @property {number} nResident
 * @property {number} fileSize
 * @property {number} headerCrc
 */

/**
 * Decodes and checks the 96-byte header (magic, version, CRC, layout).
 * @param {Uint8Array} bytes at least the first 96 bytes of the file
 * @returns {BstkHeader}
 */
export function parseHeader(bytes) {
  if (bytes.length < HEADER_SIZE) {
    const magicOk = MAGIC.subarray(0, bytes.length).every((b, i) => b === bytes[i]);
    if (!magicOk) throw fail('BS_ERR_FORMAT', 'not a .bstk file (bad magic)');
    throw fail('BS_ERR_TRUNCATED', `.bstk: file ends inside the header (${bytes.length} of ${HEADER_SIZE} bytes)`);
  }
  if (!MAGIC.every((b, i) => b === bytes[i])) throw fail('BS_ERR_FORMAT', 'not a .bstk file (bad magic)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE);
  const versionMajor = dv.getUint16(8, true);
  const versionMinor = dv.getUint16(10, true);
  if (versionMajor !== VERSION_MAJOR) {
    throw fail('BS_ERR_VERSION',
      `.bstk version ${versionMajor}.${versionMinor} is not readable by this version (reads ${VERSION_MAJOR}.x)`);
  }
  const headerCrc = dv.getUint32(92, true);
  if (headerCrc !== crc32c(bytes.subarray(0, 92))) throw fail('BS_ERR_CHECKSUM', '.bstk: header checksum mismatch');
  const h = {
    versionMajor,
    versionMinor,
    headerSize: dv.getUint32(12, true),
    metaOffset: u64(dv, 16, 'meta_offset'),
    metaSize: u64(dv, 24, 'meta_size'),
    tensorsOffset: u64(dv, 32, 'tensors_offset'),
    nTensors: dv.getUint32(40, true),
    nEntries: dv.getUint32(44, true),
    indexOffset: u64(dv, 48, 'index_offset'),
    dataOffset: u64(dv, 56, 'data_offset'),
    metaCrc: dv.getUint32(64, true),
    tensorsCrc: dv.getUint32(68, true),
    indexCrc: dv.getUint32(72, true),
    nResident: dv.getUint32(76, true),
    fileSize: u64(dv, 80, 'file_size'),
    headerCrc,
  };
  // every section inside [header_size, data_offset], in order, no overlap
  const tEnd = h.tensorsOffset + h.nTensors * TENSOR_SIZE;
  const iEnd = h.indexOffset + h.nEntries * ENTRY_SIZE;
  if (h.headerSize < HEADER_SIZE || h.metaOffset < h.headerSize || h.metaSize > 2 ** 32 ||
      h.metaOffset + h.metaSize > h.tensorsOffset || tEnd > h.indexOffset || iEnd > h.dataOffset ||
      h.dataOffset % ALIGN !== 0 || h.dataOffset > 2 ** 32 || h.nResident > h.nEntries ||
      h.fileSize < h.dataOffset) {
    throw fail('BS_ERR_FORMAT', '.bstk: header section layout is inconsistent');
  }
  return h;
}

// ---- metadata (FORMAT.md 2) ------------------------------------------------------

/** Types of the keys FORMAT.md defines; [type] or [ARRAY, element type]. */
const KNOWN_KEYS = {
  'model.arch': [META.STRING], 'general.name': [META.STRING],
  'model.dim': [META.U32], 'model.hidden_dim': [META.U32], 'model.n_layers': [META.U32],
  'model.n_heads': [META.U32], 'model.n_kv_heads': [META.U32], 'model.head_dim': [META.U32],
  'model.vocab_size': [META.U32], 'model.seq_len': [META.U32], 'model.tied': [META.U32],
  'model.rope_theta': [META.F32], 'model.norm_eps': [META.F32],
  'tokenizer.kind': [META.STRING], 'tokenizer.tokens': [META.ARRAY, META.STRING],
  'tokenizer.scores': [META.ARRAY, META.F32], 'tokenizer.types': [META.ARRAY, META.I32],
  'tokenizer.merges': [META.ARRAY, META.STRING], 'tokenizer.bos': [META.I32], 'tokenizer.eos': [META.I32],
  'tokenizer.eog': [META.ARRAY, META.I32], 'tokenizer.pretok': [META.U32],
  'tokenizer.add_space_prefix': [META.U32], 'chat.template': [META.STRING],
  'compress.method': [META.STRING], 'compress.blocks': [META.U32], 'compress.rank_rule': [META.STRING],
  'compress.group': [META.U32], 'compress.scaling': [META.U32], 'compress.sort': [META.STRING],
  'compress.calib.text': [META.STRING], 'compress.calib.windows': [META.U32],
  'compress.calib.ctx': [META.U32], 'compress.calib.tokens': [META.U64], 'compress.source': [META.STRING],
  'compress.seconds': [META.F64], 'curve.blocks': [META.ARRAY, META.U64],
  'curve.bytes': [META.ARRAY, META.U64], 'curve.ppl': [META.ARRAY, META.F32],
  'curve.text': [META.STRING], 'curve.ctx': [META.U32], 'curve.windows': [META.U32],
};

const utf8 = new TextDecoder('utf-8');

/** Bounds-checked little-endian cursor over the metadata bytes. */
class Cursor {
  constructor(bytes) {
    this.bytes = bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    this.pos = 0;
  }

  need(n) {
    if (n > this.bytes.length - this.pos) {
      throw fail('BS_ERR_FORMAT', `.bstk: metadata truncated (need ${n} bytes at offset ${this.pos})`);
    }
  }

  u32() { this.need(4); const v = this.dv.getUint32(this.pos, true); this.pos += 4; return v; }

  string() {
    const n = this.u32();
    this.need(n);
    const s = utf8.decode(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }

  scalar(type) {
    this.need(META_SIZE[type]);
    const { dv, pos } = this;
    this.pos += META_SIZE[type];
    switch (type) {
      case META.U32: return dv.getUint32(pos, true);
      case META.I32: return dv.getInt32(pos, true);
      case META.F32: return dv.getFloat32(pos, true);
      case META.F64: return dv.getFloat64(pos, true);
      case META.U64: return Number(dv.getBigUint64(pos, true)); // counts and bytes: exact below 2^53
      default: return Number(dv.getBigInt64(pos, true));
    }
  }
}

/**
 * @typedef {{type: number, elemType?: number, value: any}} MetaValue
 *   value: number, string, number[] or string[]
 */

/**
 * Parses the typed key/value metadata. Unknown keys are kept (and ignored by
 * this library); a known key with another type is BS_ERR_FORMAT.
 * @param {Uint8Array} bytes
 * @returns {Map<string, MetaValue>}
 */
export function parseMetadata(bytes) {
  const c = new Cursor(bytes);
  const n = c.u32();
  const meta = new Map();
  for (let i = 0; i < n; i++) {
    const key = c.string();
    const type = c.u32();
    let entry;
    if (type >= META.U32 && type <= META.F64) {
      entry = { type, value: c.scalar(type) };
    } else if (type === META.STRING) {
      entry = { type, value: c.string() };
    } else if (type === META.ARRAY) {
      const elemType = c.u32();
      c.need(8);
      const count = Number(c.dv.getBigUint64(c.pos, true));
      c.pos += 8;
      if (elemType < META.U32 || elemType > META.STRING) {
        throw fail('BS_ERR_FORMAT', `.bstk: metadata key ${key}: array of type ${elemType}`);
      }
      // each element takes at least 4 bytes: reject absurd counts before allocating
      if (count > (bytes.length - c.pos) / 4) throw fail('BS_ERR_FORMAT', `.bstk: metadata key ${key}: truncated array`);
      const value = new Array(count);
      for (let k = 0; k < count; k++) value[k] = elemType === META.STRING ? c.string() : c.scalar(elemType);
      entry = { type, elemType, value };
    } else {
      throw fail('BS_ERR_FORMAT', `.bstk: metadata key ${key} has type ${type}`);
    }
    if (meta.has(key)) throw fail('BS_ERR_FORMAT', `.bstk: metadata key ${key} appears twice`);
    const known = KNOWN_KEYS[key];
    if (known && (known[0] !== entry.type || (known[1] && known[1] !== entry.elemType))) {
      throw fail('BS_ERR_FORMAT', `.bstk: metadata key ${key} has an unexpected type`);
    }
    meta.set(key, entry);
  }
  if (c.pos !== bytes.length) throw fail('BS_ERR_FORMAT', '.bstk: trailing bytes after the metadata');
  return meta;
}

// ---- configuration, tensors, index ---------------------------------------------------

/**
 * @typedef {object} BstkConfig
 * @property {number} dim @property {number} hiddenDim @property {number} nLayers
 * @property {number} nHeads @property {number} nKvHeads @property {number} headDim
 * @property {number} vocabSize @property {number} seqLen @property {number} ropeTheta
 * @property {number} normEps @property {boolean} tied
 */

function readConfig(meta) {
  const get = (key) => {
    const v = meta.get(key);
    if (!v) throw fail('BS_ERR_FORMAT', `.bstk: metadata lacks ${key}`);
    return v.value;
  };
  if (get('model.arch') !== 'llama') throw fail('BS_ERR_UNSUPPORTED', `.bstk: architecture ${get('model.arch')} (only llama)`);
  const c = {
    dim: get('model.dim'), hiddenDim: get('model.hidden_dim'), nLayers: get('model.n_layers'),
    nHeads: get('model.n_heads'), nKvHeads: get('model.n_kv_heads'), headDim: get('model.head_dim'),
    vocabSize: get('model.vocab_size'), seqLen: get('model.seq_len'), ropeTheta: get('model.rope_theta'),
    normEps: get('model.norm_eps'), tied: get('model.tied'),
  };
  if (c.tied > 1) throw fail('BS_ERR_FORMAT', `.bstk: model.tied = ${c.tied}`);
  c.tied = c.tied === 1;
  for (const k of ['dim', 'hiddenDim', 'nLayers', 'nHeads', 'nKvHeads', 'headDim', 'vocabSize', 'seqLen']) {
    if (!(c[k] >= 1 && c[k] <= 2 ** 24)) throw fail('BS_ERR_FORMAT', `.bstk: model config ${k} = ${c[k]} out of range`);
  }
  if (c.nHeads % c.nKvHeads !== 0 || c.headDim % 2 !== 0) throw fail('BS_ERR_FORMAT', '.bstk: inconsistent heads');
  return c;
}

/** Expected [rows, cols] of a role (FORMAT.md 3). */
function roleShape(c, role) {
  const q = c.nHeads * c.headDim, kv = c.nKvHeads * c.headDim, d = c.dim, h = c.hiddenDim;
  const shapes = [[c.vocabSize, d], [c.vocabSize, d], [1, d], [1, d], [1, d],
    [q, d], [kv, d], [kv, d], [d, q], [h, d], [h, d], [d, h]];
  return shapes[role];
}

/** Stored bytes of a PLANES tensor's scales (FORMAT.md 3, 5): `rank` holds the scale code,
 * 0 = a binary16 per group, 8 = a binary16 reference per row and an 8-bit code per group. */
function scalesSize(t) {
  const groups = Math.ceil(t.cols / t.group);
  return t.rank === SCALES_CODE8 ? 2 * t.rows + t.rows * groups : 2 * t.rows * groups;
}

/** Bytes of a PLANES level 0 before its scales (FORMAT.md 5): the channels kept apart, then
 * the rotation's sign flips (1.3), one bit per column in 4-byte words. */
function planesPrefixSize(t) {
  return (4 + 2 * t.rows) * t.outliers + (t.rotation ? 4 * Math.ceil(t.cols / 32) : 0);
}

/** Exact payload bytes of (tensor, level) per FORMAT.md 5; 0 if impossible. */
export function payloadSize(t, level) {
  const signs = t.rows * Math.ceil(t.cols / 8);
  switch (t.kind) {
    case KIND.F32: return level === 0 ? 4 * t.rows * t.cols : 0;
    case KIND.F16: return level === 0 ? 2 * t.rows * t.cols : 0;
    case KIND.AVD: return 2 * t.rank * (t.rows + t.cols) + signs;
    case KIND.PLANES:
      return (level === 0 ? scalesSize(t) + planesPrefixSize(t) : 0) + signs;
    default: return 0;
  }
}

function readTensors(bytes, h, c) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const seen = new Set();
  const tensors = [];
  for (let i = 0; i < h.nTensors; i++) {
    const o = i * TENSOR_SIZE;
    const t = {
      role: dv.getUint16(o, true), layer: dv.getUint16(o + 2, true), kind: dv.getUint8(o + 4),
      rotation: dv.getUint8(o + 5), rows: dv.getUint32(o + 8, true), cols: dv.getUint32(o + 12, true), rank: dv.getUint32(o + 16, true),
      group: dv.getUint32(o + 20, true), nLevels: dv.getUint32(o + 24, true), outliers: dv.getUint32(o + 28, true),
    };
    const global = t.role <= 2;
    const slot = `${t.role}/${t.layer}`;
    if (t.role > 11 || (global ? t.layer !== 0 : t.layer >= c.nLayers) || seen.has(slot) || (t.role === 1 && c.tied)) {
      throw fail('BS_ERR_FORMAT', `.bstk: tensor ${i}: role ${t.role} layer ${t.layer} unexpected or repeated`);
    }
    seen.add(slot);
    const [rows, cols] = roleShape(c, t.role);
    if (t.rows !== rows || t.cols !== cols) {
      throw fail('BS_ERR_FORMAT', `.bstk: tensor ${i} (role ${t.role} layer ${t.layer}) is ${t.rows}x${t.cols}, expected ${rows}x${cols}`);
    }
    const norm = t.role >= 2 && t.role <= 4;
    const stacked = t.kind === KIND.AVD || t.kind === KIND.PLANES;
    if (t.kind > KIND.PLANES || (norm && t.kind !== KIND.F32)) throw fail('BS_ERR_UNSUPPORTED', `.bstk: tensor ${i} has kind ${t.kind}`);
    if (stacked ? t.nLevels < 1 || t.nLevels > 64 : t.nLevels !== 1) throw fail('BS_ERR_FORMAT', `.bstk: tensor ${i} has ${t.nLevels} levels`);
    if (t.kind === KIND.AVD && (t.rank < 1 || t.rank > Math.min(t.rows, t.cols))) throw fail('BS_ERR_FORMAT', `.bstk: tensor ${i} has rank ${t.rank}`);
    if (t.kind === KIND.PLANES && (t.group < 1 || t.group > t.cols || t.nLevels > 12)) {
      throw fail('BS_ERR_FORMAT', `.bstk: tensor ${i} has group ${t.group} / ${t.nLevels} planes`);
    }
    if (t.kind === KIND.PLANES && t.rank !== 0 && t.rank !== SCALES_CODE8) {
      throw fail('BS_ERR_FORMAT', `.bstk: tensor ${i} has scale code ${t.rank}`);
    }
    if (t.outliers > (t.kind === KIND.PLANES ? t.cols : 0)) {
      throw fail('BS_ERR_FORMAT', `.bstk: tensor ${i} keeps ${t.outliers} input channels apart`);
    }
    if (t.rotation && (t.kind !== KIND.PLANES || t.rotation > ROTATE_MAX_LOG2 || t.cols % 2 ** t.rotation !== 0)) {
      throw fail('BS_ERR_FORMAT', `.bstk: tensor ${i} (kind ${t.kind}, ${t.cols} columns) has rotation ${t.rotation}`);
    }
    tensors.push(t);
  }
  const need = 3 + 9 * c.nLayers - (c.tied ? 1 : 0);
  if (seen.size !== need) throw fail('BS_ERR_FORMAT', '.bstk: the tensor table lacks a tensor');
  return tensors;
}

function readIndex(bytes, h, tensors) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const levels = new Uint32Array(tensors.length);
  const entries = [];
  let end = h.dataOffset;
  for (let i = 0; i < h.nEntries; i++) {
    const o = i * ENTRY_SIZE;
    const e = {
      tensor: dv.getUint32(o, true), level: dv.getUint32(o + 4, true), offset: u64(dv, o + 8, 'offset'),
      size: u64(dv, o + 16, 'size'), crc: dv.getUint32(o + 24, true),
    };
    if (e.tensor >= tensors.length) throw fail('BS_ERR_FORMAT', `.bstk: index entry ${i} names tensor ${e.tensor} of ${tensors.length}`);
    const t = tensors[e.tensor];
    const resident = i < h.nResident;
    if (e.level !== levels[e.tensor] || e.level >= t.nLevels || resident !== (e.level === 0)) {
      throw fail('BS_ERR_FORMAT', `.bstk: index entry ${i}: level ${e.level} of tensor ${e.tensor} out of order`);
    }
    if (e.offset < end || e.offset % ALIGN !== 0 || e.size !== payloadSize(t, e.level) || e.offset + e.size > h.fileSize) {
      throw fail('BS_ERR_FORMAT', `.bstk: index entry ${i}: bad offset ${e.offset} or size ${e.size}`);
    }
    levels[e.tensor]++;
    end = e.offset + e.size;
    entries.push(e);
  }
  tensors.forEach((t, i) => {
    if (levels[i] !== t.nLevels) throw fail('BS_ERR_FORMAT', `.bstk: tensor ${i} has ${levels[i]} of its ${t.nLevels} levels in the index`);
  });
  if (end !== h.fileSize) throw fail('BS_ERR_FORMAT', `.bstk: payloads end at ${end}, header says the file has ${h.fileSize} bytes`);
  return entries;
}

// ---- the head ------------------------------------------------------------------------

/**
 * Everything the head tells a client.
 * @typedef {object} BstkHead
 * @property {BstkHeader} header
 * @property {Map<string, MetaValue>} meta
 * @property {BstkConfig} config
 * @property {object[]} tensors   {role, layer, kind, rows, cols, rank, group, nLevels}
 * @property {object[]} entries   {tensor, level, offset, size, crc}, file order
 * @property {number} residentEnd  end of the last resident payload (= data_offset when none)
 * @property {number} residentBytes  payload bytes of the resident section
 * @property {number} stackedParams  weights of the compressed matrices
 * @property {number} stackedResidentBytes  resident bytes of the compressed matrices
 * @property {number} nBlocks  stack blocks (entries past the resident section)
 * @property {Float64Array} cumulative  cumulative[i]: resident + blocks [0, i) payload bytes (nBlocks + 1 values)
 * @property {number} fullBytes  resident + every block
 * @property {string|null} chatTemplate
 */

/**
 * Parses the head: bytes [0, data_offset) of the file (more is fine).
 * @param {Uint8Array} bytes
 * @returns {BstkHead}
 */
export function parseHead(bytes) {
  const header = parseHeader(bytes);
  if (bytes.length < header.dataOffset) {
    throw fail('BS_ERR_TRUNCATED', `.bstk: file ends inside the head (${bytes.length} of ${header.dataOffset} bytes)`);
  }
  const section = (off, n, crc, what) => {
    const s = bytes.subarray(off, off + n);
    if (crc32c(s) !== crc) throw fail('BS_ERR_CHECKSUM', `.bstk: ${what} checksum mismatch`);
    return s;
  };
  const metaBytes = section(header.metaOffset, header.metaSize, header.metaCrc, 'metadata');
  const tensorBytes = section(header.tensorsOffset, header.nTensors * TENSOR_SIZE, header.tensorsCrc, 'tensor table');
  const indexBytes = section(header.indexOffset, header.nEntries * ENTRY_SIZE, header.indexCrc, 'index');
  const meta = parseMetadata(metaBytes);
  const config = readConfig(meta);
  const tensors = readTensors(tensorBytes, header, config);
  const entries = readIndex(indexBytes, header, tensors);

  const isStacked = (t) => t.kind === KIND.AVD || t.kind === KIND.PLANES;
  let residentBytes = 0, stackedResidentBytes = 0;
  for (const e of entries.slice(0, header.nResident)) {
    residentBytes += e.size;
    if (isStacked(tensors[e.tensor])) stackedResidentBytes += e.size;
  }
  const nBlocks = header.nEntries - header.nResident;
  const cumulative = new Float64Array(nBlocks + 1);
  cumulative[0] = residentBytes;
  for (let i = 0; i < nBlocks; i++) cumulative[i + 1] = cumulative[i] + entries[header.nResident + i].size;
  const last = entries[header.nResident - 1];
  return {
    header,
    meta,
    config,
    tensors,
    entries,
    residentEnd: last ? last.offset + last.size : header.dataOffset,
    residentBytes,
    stackedParams: tensors.filter(isStacked).reduce((s, t) => s + t.rows * t.cols, 0),
    stackedResidentBytes,
    nBlocks,
    cumulative,
    fullBytes: cumulative[nBlocks],
    chatTemplate: meta.get('chat.template')?.value ?? null,
  };
}

/** Index entry of stack block i (0-based, stack order). */
export function blockEntry(head, i) {
  if (!(i >= 0 && i < head.nBlocks)) throw fail('BS_ERR_RANGE', `block ${i}: the stack has ${head.nBlocks}`);
  return head.entries[head.header.nResident + i];
}

/**
 * Blocks a source of `size` bytes holds (a download cut short is a valid
 * prefix when it ends on a block boundary or its 64-byte padding).
 * @param {BstkHead} head
 * @param {number} size
 */
export function availableBlocks(head, size) {
  const { entries, header } = head;
  let n = 0;
  while (n < entries.length && entries[n].offset + entries[n].size <= size) n++;
  if (n < header.nResident) {
    throw fail('BS_ERR_TRUNCATED', `.bstk: file ends inside the resident section (entry ${n} of ${header.nResident}; ${size} bytes)`);
  }
  if (n < entries.length) {
    const end = n ? entries[n - 1].offset + entries[n - 1].size : header.dataOffset;
    if (size !== end && size !== Math.ceil(end / ALIGN) * ALIGN) {
      throw fail('BS_ERR_TRUNCATED', `.bstk: file ends inside block ${n - header.nResident} (at byte ${size}; blocks end at ${end})`);
    }
  }
  return n - header.nResident;
}

/** The special-token text of an id ('' when the file has no tokenizer). */
export function tokenText(head, id) {
  const tokens = head.meta.get('tokenizer.tokens')?.value;
  return id >= 0 && tokens && id < tokens.length ? tokens[id] : '';
}
