/* bench.h - the matvec harness behind the benchmarks: one token's
 * matvecs of every linear map of a model (lm_head included), as the model
 * runs them and as the baselines a user would run instead, built from the
 * same weights: dense f32 W (the sum of the attached blocks) and 8-bit and
 * 4-bit group-quantized copies of it (baseline.h).
 *
 *   bs_bench *b;
 *   bs_bench_create(session, &b);         // the copies: f32, q8, q4
 *   t0 = now(); bs_bench_pass(b, BS_BENCH_Q4); t = now() - t0;
 *   bs_bench_free(b);
 *
 * Every side runs on the session's thread pool, with its kernel table and
 * mode and the forward pass's row split, so that a pass of the model's side
 * costs what the matvecs of a decode step cost. The rest of a decode step
 * (attention, norms, embedding) is the same whatever the weights, so the
 * callers derive a baseline's decode as 1 / (its pass + (the model's decode
 * step - the model's pass)): `bitstack bench` (tools/cmd_bench.c) and the
 * wasm module's bs_wasm_bench_* (js/src/baselines.js).
 *
 * The callers time the passes: the wasm reactor module has no clock (it
 * imports nothing; JS reads performance.now() around each call).
 *
 * Memory: the f32 copy is 4 bytes per weight, q8 1.06, q4 0.56 (SmolLM2-135M:
 * 538 + 143 + 76 MB), held until bs_bench_free. Not thread-safe: the pool is
 * the session's, driven by one thread at a time, between its evals.
 */
#ifndef BS_BENCH_H
#define BS_BENCH_H

#include "session.h"

typedef enum bs_bench_side {
    BS_BENCH_MODEL, /* the model's own linear maps, as the forward pass runs them */
    BS_BENCH_F32,   /* dense f32 copies */
    BS_BENCH_Q8,    /* 8-bit, blocks of 32, binary16 scales (8.5 bits per weight) */
    BS_BENCH_Q4,    /* 4-bit, the same (4.5 bits per weight) */
    BS_BENCH_N_SIDES
} bs_bench_side;

typedef struct bs_bench bs_bench;

/* "bitstack", "f32", "q8", "q4"; NULL past the last side. */
const char *bs_bench_side_name(int side);

/* The copies of every linear map of s's model, to run on s's pool.
   BS_ERR_INVALID_ARG for NULL, BS_ERR_NOMEM. s must outlive the bench. */
bs_status bs_bench_create(bs_session *s, bs_bench **out);
void bs_bench_free(bs_bench *b); /* NULL is fine */

/* Weight bytes one pass of side reads (-1 for a bad side). */
int64_t bs_bench_bytes(const bs_bench *b, int side);
/* Weights one pass multiplies (rows x cols summed over the maps). */
int64_t bs_bench_weights(const bs_bench *b);

/* One token's matvecs of every linear map on side (x a fixed vector of
   plausible activations; the q8 / q4 sides quantize it per map, as a
   forward pass would). BS_ERR_INVALID_ARG for a bad side or NULL. */
bs_status bs_bench_pass(bs_bench *b, int side);

#endif
