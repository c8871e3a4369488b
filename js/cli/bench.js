// bench.js - `bitstack bench`: prefill and decode speed of the model in
// wasm, and of baselines built from the same weights in the same module
// (dense f32, 8-bit and 4-bit group-quantized: js/src/baselines.js), as the
// native `bitstack bench` measures them (tools/cmd_bench.c): the same
// pseudo-random tokens, decode in rounds between the baselines' passes,
// each side's best kept, baseline decode = its matvecs + the model's
// non-matvec time, and the same JSON keys (less the native roofline).

import { parseArgs } from './args.js';
import { fail, LOAD_OPTS, openModel } from './common.js';

const SPEC = {
  usage: 'bitstack bench MODEL [options]',
  about: 'Measures prefill and decode tokens/s, and the same model\'s weights as dense f32, 8-bit and 4-bit\n'
    + 'group-quantized matvecs (baselines, same module and threads), in one run.',
  opts: [
    ...LOAD_OPTS,
    { name: 'prompt-tokens', kind: 'int', metavar: 'N', help: 'tokens in the prefill pass (default 128)', range: [1, 2 ** 20], value: 128 },
    { name: 'gen-tokens', kind: 'int', metavar: 'N', range: [1, 2 ** 20], value: 64,
      help: 'tokens decoded one by one, in rounds between the baselines\' passes; the best round counts (default 64)' },
    { name: 'reps', kind: 'int', metavar: 'R', help: 'baseline passes per side, the best kept (default 5)', range: [1, 1000], value: 5 },
    { name: 'no-baselines', kind: 'flag', help: 'skip the f32 / q8 / q4 baselines', value: false },
    { name: 'json', kind: 'flag', help: 'print one JSON object on stdout', value: false },
  ],
  positionals: [1, 1],
  epilog: 'example:\n  bitstack bench model.bstk --budget 3bpw --json',
};

/** n token ids below vocab from the native bench's generator (64-bit LCG, seed 12345). */
function benchTokens(n, vocab) {
  const ids = new Int32Array(n);
  let x = 12345n;
  for (let i = 0; i < n; i++) {
    x = BigInt.asUintN(64, x * 6364136223846793005n + 1442695040888963407n);
    ids[i] = Number((x >> 33n) % BigInt(vocab));
  }
  return ids;
}

/** Decodes ids[next ..] a round at a time; `best` is the best round's seconds per token. */
class Decoder {
  constructor(engine, ids, next, perRound) {
    Object.assign(this, { engine, ids, next, perRound, best: Infinity });
  }

  get done() { return this.next >= this.ids.length; }

  round() {
    const n = Math.min(this.perRound, this.ids.length - this.next);
    if (n <= 0) return;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) this.engine.prefill([this.ids[this.next + i]]);
    this.best = Math.min(this.best, (performance.now() - t0) / 1000 / n);
    this.next += n;
  }
}

export async function cmdBench(argv, io) {
  const { values, positionals } = parseArgs(SPEC, argv, io);
  const nPrompt = values['prompt-tokens'], nGen = values['gen-tokens'], reps = values.reps;
  const engine = await openModel(io, positionals[0], { ...values, ctx: nPrompt + nGen }, io.signal);
  let baselines = null;
  try {
    const ids = benchTokens(nPrompt + nGen, engine.head.config.vocabSize);
    let t0 = performance.now();
    try {
      engine.prefill(ids.subarray(0, nPrompt));
    } catch (err) {
      return fail(io, 'prefill', err);
    }
    const prefill = nPrompt / ((performance.now() - t0) / 1000);
    const withBase = !values['no-baselines'];
    const dec = new Decoder(engine, ids, nPrompt, withBase ? Math.ceil(nGen / reps) : nGen);
    try {
      if (withBase) {
        baselines = engine.baselines();
        for (let r = 0; r < reps; r++) {
          dec.round();
          baselines.time(1);
        }
      }
      while (!dec.done) dec.round();
    } catch (err) {
      return fail(io, 'bench', err);
    }
    report(io, engine, values, { prefill, decode: 1 / dec.best, baselines });
    return 0;
  } finally {
    baselines?.close();
    await engine.close();
  }
}

const round2 = (x) => Math.round(x * 100) / 100;

function report(io, engine, values, { prefill, decode, baselines }) {
  const info = engine.info();
  const out = { prefill_tok_s: round2(prefill), decode_tok_s: round2(decode), threads: info.threads,
    kernels: info.kernels, flavor: info.flavor, mode: 'fast', weight_bytes: info.weightBytes };
  if (baselines) {
    const tok = baselines.decodeTokS(decode), wb = baselines.weightBytes, best = baselines.best;
    Object.assign(out, {
      baseline_decode_tok_s: { f32: round2(tok.f32), q8: round2(tok.q8), q4: round2(tok.q4) },
      baseline_weight_bytes: { f32: wb.f32, q8: wb.q8, q4: wb.q4 },
      matvec_tok_s: Object.fromEntries(Object.entries(best).map(([s, t]) => [s, round2(1 / t)])),
    });
  }
  if (values.json) {
    io.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  io.stdout.write(`bitstack (wasm ${info.flavor}, ${info.kernels} kernels, fast mode): prefill ${prefill.toFixed(1)} tok/s `
    + `(${values['prompt-tokens']} tokens) | decode ${decode.toFixed(1)} tok/s (${values['gen-tokens']} tokens) | `
    + `${info.threads} thread${info.threads === 1 ? '' : 's'}\n`);
  if (!baselines) return;
  io.stdout.write('baselines from the same weights (decode = their matvecs + the model\'s non-matvec time):\n');
  const tok = { bitstack: decode, ...baselines.decodeTokS(decode) };
  for (const [side, t] of Object.entries(baselines.best)) {
    io.stdout.write(`  ${side.padEnd(9)} weights ${(baselines.weightBytes[side] / 1e6).toFixed(2).padStart(8)} MB  `
      + `matvecs ${(1 / t).toFixed(1).padStart(7)} tok/s  decode ${tok[side].toFixed(1).padStart(7)} tok/s  `
      + `bitstack/this ${(decode / tok[side]).toFixed(2)}x\n`);
  }
}
