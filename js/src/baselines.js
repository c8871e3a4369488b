// baselines.js - what a decode step of the model would cost with other
// weights: dense f32, and 8-bit and 4-bit group-quantized (Q8_0 / Q4_0-like)
// copies of the same linear maps, timed against the model's own maps in the
// same module, on the session's threads (the core's harness,
// core/src/bench.h, as `bitstack bench` runs it natively).
//
//   const b = engine.baselines();                 // builds the copies (f32: 4 bytes per weight)
//   for (...) { decode a few tokens; b.time(1); } // interleaved: load falls on every side alike
//   b.decodeTokS(modelDecodeTokS);                // { f32, q8, q4 } tokens/s
//   b.close();
//
// One pass of a side is one token's matvecs of every linear map, lm_head
// included. The rest of a decode step (attention, norms, embedding) is the
// same whatever the weights, so a baseline decodes at
// 1 / (its pass + (the model's decode step - the model's pass)).
// The passes are timed here, with performance.now(): the reactor module
// imports nothing, so it has no clock.

import { BitstackError } from './errors.js';

/** Throws BS_ERR_INVALID_ARG unless reps is a positive integer. */
export function checkReps(reps) {
  if (!Number.isInteger(reps) || reps < 1) {
    throw new BitstackError('BS_ERR_INVALID_ARG', `baselines: reps ${reps}: expects a positive integer`);
  }
}

/** The sides, in the core's order (bs_bench_side). */
export const BASELINE_SIDES = Object.freeze(['bitstack', 'f32', 'q8', 'q4']);

export class Baselines {
  /**
   * Builds the copies of the engine's linear maps (Engine.baselines() is the way in).
   * @param {import('./runtime.js').Runtime} rt
   * @param {number} session the session whose pool, kernels and mode every side runs on
   */
  constructor(rt, session) {
    this.rt = rt;
    rt.withScratch(4, (out) => {
      rt.check(rt.x.bs_wasm_bench_create(session, out), 'baselines');
      this.ptr = rt.u32[out >> 2];
    });
    const v = rt.withScratch(8 * 5, (p) => {
      rt.check(rt.x.bs_wasm_bench_info(this.ptr, p), 'baselines');
      return rt.f64.slice(p >> 3, (p >> 3) + 5);
    });
    /** Weight bytes one pass of each side reads. */
    this.weightBytes = Object.fromEntries(BASELINE_SIDES.map((s, i) => [s, v[i]]));
    /** Weights one pass multiplies. */
    this.weights = v[4];
    /** Each side's best seconds per pass so far (Infinity before the first). */
    this.best = Object.fromEntries(BASELINE_SIDES.map((s) => [s, Infinity]));
  }

  /**
   * One pass of a side; returns its seconds (and keeps the best in `best`).
   * @param {'bitstack'|'f32'|'q8'|'q4'} side
   */
  pass(side) {
    const i = BASELINE_SIDES.indexOf(side);
    if (i < 0) throw new BitstackError('BS_ERR_INVALID_ARG', `baselines: unknown side ${side}`);
    if (!this.ptr) throw new BitstackError('BS_ERR_STATE', 'baselines: closed');
    const t0 = performance.now();
    this.rt.check(this.rt.x.bs_wasm_bench_pass(this.ptr, i), `baselines: ${side} pass`);
    const s = (performance.now() - t0) / 1000;
    this.best[side] = Math.min(this.best[side], s);
    return s;
  }

  /**
   * reps passes of every side, interleaved; returns the best seconds per
   * pass of each side, over these and earlier calls.
   * @param {number} [reps=1]
   */
  time(reps = 1) {
    checkReps(reps);
    for (let r = 0; r < reps; r++) for (const side of BASELINE_SIDES) this.pass(side);
    return { ...this.best };
  }

  /**
   * Decode tokens/s of each baseline, from the model's own decode tokens/s
   * measured in the same run, and the best passes so far.
   * @param {number} decodeTokS
   * @returns {{f32: number, q8: number, q4: number}}
   */
  decodeTokS(decodeTokS) {
    if (!(decodeTokS > 0) || !Number.isFinite(this.best.bitstack)) {
      throw new BitstackError('BS_ERR_STATE', 'baselines: needs a decode speed and timed passes');
    }
    const other = Math.max(0, 1 / decodeTokS - this.best.bitstack); // the step's time outside the matvecs
    return Object.fromEntries(BASELINE_SIDES.slice(1).map((s) => [s, 1 / (this.best[s] + other)]));
  }

  /** Frees the copies (idempotent). */
  close() {
    if (this.ptr) this.rt.x.bs_wasm_bench_free(this.ptr);
    this.ptr = 0;
  }
}
