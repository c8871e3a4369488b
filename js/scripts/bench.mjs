// bench.mjs - decode tokens/s of the wasm SIMD128 module, the wasm scalar
// module, the threaded wasm build and the native CLI on the same file and
// budget, as ratios from one run (absolute figures drift between runs and
// machines; ratios measured side by side do not).
//
//   node js/scripts/bench.mjs FILE.bstk [--budget SIZE] [--steps N] [--reps R]
//                             [--sides native,simd128,scalar,threads] [--threads N] [--prompt TEXT]
//
// --sides picks the sides to run (wasm scalar is slow on large models);
// native must be one of them (the ratios are against it). threads: the
// Node CLI with --threads N (default 2: the threaded build), also shown
// against the single-thread SIMD128 module when both run.
//
// Each side runs `run FILE --budget SIZE --steps N --temperature 0` R times,
// interleaved, and keeps its best decode figure (the "decode: ... tok/s"
// line both CLIs print). The texts must agree, or the comparison is void.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const js = dirname(dirname(fileURLToPath(import.meta.url)));
const native = join(dirname(js), 'build', 'bitstack');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const file = args[0];
if (!file || file.startsWith('--')) {
  console.error('usage: node js/scripts/bench.mjs FILE.bstk [--budget SIZE] [--steps N] [--reps R]');
  process.exit(1);
}
const budget = opt('budget', '4bpw'), steps = opt('steps', '200'), reps = Number(opt('reps', '5'));
const prompt = opt('prompt', null), wanted = opt('sides', 'native,simd128,scalar').split(',');
const threads = opt('threads', '2');
const common = ['run', file, '--budget', budget, '--steps', steps, '--temperature', '0',
  ...(prompt ? ['--prompt', prompt] : [])];
const all = {
  native: [native, common],
  'wasm simd128': [process.execPath, [join(js, 'bin', 'bitstack.mjs'), ...common, '--wasm', 'simd128']],
  'wasm scalar': [process.execPath, [join(js, 'bin', 'bitstack.mjs'), ...common, '--wasm', 'scalar']],
  'wasm threads': [process.execPath, [join(js, 'bin', 'bitstack.mjs'), ...common, '--threads', threads]],
};
const sides = Object.fromEntries(Object.entries(all).filter(([name]) => wanted.includes(name.replace('wasm ', ''))));
if (!sides.native) {
  console.error('bench.mjs: --sides must include native');
  process.exit(1);
}
const best = {}, texts = {};
for (let r = 0; r < reps; r++) {
  for (const [name, [cmd, a]] of Object.entries(sides)) {
    const p = spawnSync(cmd, a, { encoding: 'utf8' });
    if (p.status !== 0) throw new Error(`${name}: ${p.stderr}`);
    const m = /decode: (\d+) tokens, ([\d.]+) tok\/s/.exec(p.stderr);
    best[name] = Math.max(best[name] ?? 0, Number(m[2]));
    texts[name] = p.stdout;
  }
}
const same = new Set(Object.values(texts)).size === 1;
console.log(`file ${file}, budget ${budget}, ${steps} tokens, best of ${reps}; outputs ${same ? 'identical' : 'DIFFER'}`);
for (const [name, v] of Object.entries(best)) {
  console.log(`${name.padEnd(13)} ${v.toFixed(1).padStart(8)} tok/s  ${(v / best.native).toFixed(2)}x native`);
}
if (best['wasm simd128'] && best['wasm scalar']) {
  console.log(`simd128 / scalar: ${(best['wasm simd128'] / best['wasm scalar']).toFixed(2)}x`);
}
if (best['wasm simd128'] && best['wasm threads']) {
  console.log(`threads (${threads}) / simd128 (1): ${(best['wasm threads'] / best['wasm simd128']).toFixed(2)}x`);
}
if (!same) process.exit(2);
