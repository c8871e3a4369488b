// budget.js - memory budgets: "12MB", "40MiB", 5000000, "3.5bpw" -> bytes
// -> the longest prefix of the stack that fits. The same arithmetic as the
// native CLI (tools/cli.c), so both load the same blocks for a budget.

import { BitstackError } from './errors.js';

const UNITS = [['bpw', -1], ['KiB', 1024], ['MiB', 1048576], ['GiB', 1073741824],
  ['KB', 1e3], ['MB', 1e6], ['GB', 1e9], ['B', 1], ['', 1]];

/**
 * @typedef {{bytes: number}|{bpw: number}} Budget
 */

/**
 * Parses a budget: a number of bytes, or a string of a positive decimal
 * number and one unit (B, KB, MB, GB, KiB, MiB, GiB, or bpw: bits per
 * weight of the compressed matrices), with nothing between them.
 * @param {number|string} spec
 * @returns {Budget}
 */
export function parseBudget(spec) {
  const bad = () => new BitstackError('BS_ERR_INVALID_ARG',
    `budget ${JSON.stringify(spec)}: expects bytes (e.g. 5000000, 12MB, 40MiB) or bits per weight (3.5bpw)`);
  if (typeof spec === 'number') {
    if (!(spec > 0 && spec <= 1e15)) throw bad();
    return { bytes: Math.trunc(spec) };
  }
  const m = /^\s*([+]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([A-Za-z]*)$/.exec(String(spec));
  if (!m) throw bad();
  const v = Number(m[1]);
  const unit = UNITS.find(([suffix]) => suffix === m[2]);
  if (!unit || !(v > 0 && v <= 1e15)) throw bad();
  return unit[1] < 0 ? { bpw: v } : { bytes: Math.trunc(v * unit[1]) };
}

/**
 * Weight bytes a budget stands for in this file: bytes as given; N bpw is
 * N bits per compressed weight plus the uncompressed resident tensors
 * (tables, norms) as they are.
 * @param {import('./format.js').BstkHead} head
 * @param {Budget} budget
 */
export function budgetBytes(head, budget) {
  if ('bytes' in budget) return budget.bytes;
  return (head.residentBytes - head.stackedResidentBytes) + Math.trunc((budget.bpw * head.stackedParams) / 8);
}

/**
 * Stack blocks that fit in `bytes` of weights (resident section first);
 * -1 when even the resident section does not fit.
 * @param {import('./format.js').BstkHead} head
 * @param {number} bytes
 */
export function blocksForBudget(head, bytes) {
  const c = head.cumulative;
  if (bytes < c[0]) return -1;
  let lo = 0, hi = head.nBlocks; // largest n with c[n] <= bytes
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (c[mid] <= bytes) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Bytes of the KV cache and scratch a session will hold (an estimate from
 * the configuration: the f32 caches dominate).
 * @param {import('./format.js').BstkConfig} c
 * @param {number} [ctx] tokens; default min(seq_len, 2048) as the core
 */
export function sessionBytes(c, ctx = Math.min(c.seqLen, 2048)) {
  const kv = c.nKvHeads * c.headDim;
  return 4 * (2 * c.nLayers * ctx * kv + ctx * c.headDim + 64 * (6 * c.dim + 2 * c.hiddenDim) + 8 * c.vocabSize);
}

/**
 * The default budget when none is given: a quarter of the machine's memory
 * (os.totalmem() in Node), less the session's KV cache and scratch, never
 * below the resident section and never above the whole file.
 * @param {import('./format.js').BstkHead} head
 * @param {number} totalMemory bytes
 */
export function defaultBudgetBytes(head, totalMemory) {
  const room = Math.floor(totalMemory / 4) - sessionBytes(head.config);
  return Math.min(head.fullBytes, Math.max(head.residentBytes, room));
}
