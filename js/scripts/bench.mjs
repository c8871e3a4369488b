// bench.mjs - decode tokens/s of the wasm SIMD128 module, the wasm scalar
// module, the threaded wasm build and the native CLI on the same file and
// budget, as ratios from one run (absolute figures drift between runs and
// machines; ratios measured side by side do not).
//
//   node js/scripts/bench.mjs FILE.bstk [--budget SIZE] [--steps N] [--reps R]
//                             [--sides native,simd128,scalar,threads] [--threads N] [--prompt TEXT]
//   node js/scripts/bench.mjs FILE.bstk --baselines [--budget SIZE] [--sides ...] [--threads N]
//
// --sides picks the sides to run (wasm scalar is slow on large models);
// native must be one of them (the ratios are against it). threads: the
// Node CLI with --threads N (default 2: the threaded build), also shown
// against the single-thread SIMD128 module when both run.
//
// Each side runs `run FILE --budget SIZE --steps N --temperature 0` R times,
// interleaved, and keeps its best decode figure (the "decode: ... tok/s"
// line both CLIs print). The texts must agree, or the comparison is void.
//
// --baselines: each side runs `bench FILE --budget SIZE --json` once instead
// (both CLIs: BitStack's decode and, from the same weights in the same
// process, dense f32 / q8 / q4 baselines' decode, timed between its decode
// rounds), and the ratios BitStack / f32 and q4 / BitStack of each side are
// printed, each from one run of one process.
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
// per side: the program, the arguments before the subcommand, those after it
const nodeCli = [process.execPath, [join(js, 'bin', 'bitstack.mjs')]];
const all = {
  native: [native, [], []],
  'wasm simd128': [...nodeCli, ['--wasm', 'simd128']],
  'wasm scalar': [...nodeCli, ['--wasm', 'scalar']],
  'wasm threads': [...nodeCli, ['--threads', threads]],
};
const sides = Object.fromEntries(Object.entries(all).filter(([name]) => wanted.includes(name.replace('wasm ', ''))));
if (args.includes('--baselines')) {
  benchBaselines(sides);
  process.exit(0);
}
if (!sides.native) {
  console.error('bench.mjs: --sides must include native');
  process.exit(1);
}
const best = {}, texts = {};
for (let r = 0; r < reps; r++) {
  for (const [name, [cmd, pre, post]] of Object.entries(sides)) {
    const p = spawnSync(cmd, [...pre, ...common, ...post], { encoding: 'utf8' });
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

/** One `bench --json` per side: BitStack and its baselines' decode, with the ratios. */
function benchBaselines(chosen) {
  console.log(`file ${file}, budget ${budget}; decode tok/s, the baselines from the same weights in the same run`);
  console.log(`${'side'.padEnd(13)} ${'bitstack'.padStart(9)} ${'f32'.padStart(8)} ${'q8'.padStart(8)} ${'q4'.padStart(8)}`
    + '  bitstack/f32  q4/bitstack');
  for (const [name, [cmd, pre, post]] of Object.entries(chosen)) {
    const p = spawnSync(cmd, [...pre, 'bench', file, '--budget', budget, '--json', ...post], { encoding: 'utf8' });
    if (p.status !== 0) throw new Error(`${name}: ${p.stderr}`);
    const r = JSON.parse(p.stdout), b = r.baseline_decode_tok_s;
    const f = (v) => v.toFixed(1).padStart(8);
    console.log(`${name.padEnd(13)} ${f(r.decode_tok_s).padStart(9)} ${f(b.f32)} ${f(b.q8)} ${f(b.q4)}  `
      + `${(r.decode_tok_s / b.f32).toFixed(2).padStart(11)}x  ${(b.q4 / r.decode_tok_s).toFixed(2).padStart(10)}x`);
    console.log(`  ${JSON.stringify(r)}`);
  }
}
