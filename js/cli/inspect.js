// inspect.js - `bitstack inspect`: what a .bstk holds, from its head alone
// (one request for a URL): header, metadata, sizes per level, the stored
// perplexity curve. --json prints one object.

import { RangeLoader } from '../src/index.js';
import { parseArgs } from './args.js';
import { fail, formatBytes } from './common.js';

const SPEC = {
  usage: 'bitstack inspect MODEL [--json]',
  about: 'Shows the header, metadata, sizes per level and the stored perplexity curve of a .bstk (a path or an http(s) URL).',
  opts: [{ name: 'json', kind: 'flag', help: 'print one JSON object on stdout', value: false }],
  positionals: [1, 1],
};

function shortValue(v, shown) {
  if (Array.isArray(v.value)) {
    if (v.value.length > shown || typeof v.value[0] === 'string') return `[${v.value.length} elements]`;
    return `[${v.value.map((x) => (Number.isInteger(x) ? x : Number(x.toPrecision(6)))).join(', ')}]`;
  }
  if (typeof v.value === 'string') return v.value.length > 60 ? `${v.value.slice(0, 60)}...` : v.value;
  return Number.isInteger(v.value) ? String(v.value) : String(Number(v.value.toPrecision(6)));
}

function levels(head) {
  const nonStacked = head.residentBytes - head.stackedResidentBytes;
  const maxLevel = Math.max(...head.entries.map((e) => e.level));
  const out = [];
  let cum = head.residentBytes;
  for (let lv = 0; lv <= maxLevel; lv++) {
    const es = head.entries.filter((e) => e.level === lv);
    const bytes = es.reduce((s, e) => s + e.size, 0);
    if (lv > 0) cum += bytes;
    const c = lv ? cum : head.residentBytes;
    out.push({ level: lv, entries: es.length, bytes, cumulative_bytes: c, bpw: head.stackedParams ? (8 * (c - nonStacked)) / head.stackedParams : 0 });
  }
  return out;
}

function curve(head) {
  const [b, y, p] = ['curve.blocks', 'curve.bytes', 'curve.ppl'].map((k) => head.meta.get(k)?.value);
  if (!b || !y || !p || b.length !== y.length || b.length !== p.length) return [];
  return b.map((blocks, i) => ({ blocks, bytes: y[i], ppl: p[i] }));
}

export async function cmdInspect(argv, io) {
  const { values, positionals } = parseArgs(SPEC, argv, io);
  const loader = new RangeLoader(positionals[0]);
  let head;
  try {
    head = await loader.openHead({ signal: io.signal });
  } catch (err) {
    return fail(io, 'cannot read the file', err);
  } finally {
    loader.close();
  }
  const h = head.header;
  if (values.json) {
    const meta = Object.fromEntries([...head.meta].map(([k, v]) => [k,
      Array.isArray(v.value) && (v.value.length > 256 || typeof v.value[0] === 'string') ? { array_length: v.value.length } : v.value]));
    io.stdout.write(`${JSON.stringify({
      version: `${h.versionMajor}.${h.versionMinor}`, file_size: h.fileSize, available_bytes: loader.size,
      n_tensors: h.nTensors, n_entries: h.nEntries, n_resident: h.nResident, resident_bytes: head.residentBytes,
      full_bytes: head.fullBytes, n_blocks: head.nBlocks, n_available: loader.available, stacked_params: head.stackedParams,
      metadata: meta, levels: levels(head), curve: curve(head),
    })}\n`);
    return 0;
  }
  const w = (s) => io.stdout.write(`${s}\n`);
  w(`${positionals[0]}: .bstk ${h.versionMajor}.${h.versionMinor}, ${h.fileSize} bytes, ${h.nTensors} tensors, `
    + `${h.nEntries} index entries (${h.nResident} resident)`);
  w(`resident ${formatBytes(head.residentBytes)}; full stack ${formatBytes(head.fullBytes)} in ${head.nBlocks} blocks; `
    + `${head.stackedParams} compressed weights`);
  if (loader.available < head.nBlocks) w(`a prefix: the source holds ${loader.available} of the ${head.nBlocks} blocks`);
  w('metadata:');
  for (const [k, v] of head.meta) w(`  ${k.padEnd(28)} ${shortValue(v, 8)}`);
  w('levels (blocks of the stack by level; level 0 is resident):');
  for (const l of levels(head)) {
    w(`  level ${String(l.level).padStart(2)}: ${String(l.entries).padStart(5)} entries ${String(l.bytes).padStart(12)} bytes  `
      + `cumulative ${String(l.cumulative_bytes).padStart(12)} bytes  ${l.bpw.toFixed(3)} bits/weight`);
  }
  const c = curve(head);
  if (!c.length) w('curve: none stored');
  else {
    w('stored perplexity curve:');
    for (const p of c) w(`  ${String(p.blocks).padStart(6)} blocks ${String(p.bytes).padStart(12)} bytes  ppl ${p.ppl.toFixed(4)}`);
  }
  return 0;
}
