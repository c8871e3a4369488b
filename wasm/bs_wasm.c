/* bs_wasm.c - the narrow C API the JavaScript runtime calls (js/src/runtime.js).
 *
 * The reactor module (clang, wasm32-wasi) exports exactly these functions,
 * malloc, free and its memory: no other symbol, and no imports at all, so
 * that WebAssembly.instantiate(bytes, {}) works in Node and browsers alike.
 * The threaded module (Emscripten -pthread, wasm/threads.cmake) exports the
 * same functions through its JS glue; only there does a session run on
 * more than one thread.
 * Everything crosses the boundary as i32 (pointers, counts, statuses), f32
 * or f64: 64-bit integers travel as f64 (exact below 2^53) or as two u32
 * halves, so no engine needs BigInt integration.
 *
 * Models come from bytes JS fetched: bs_wasm_open takes the file's head and
 * resident section (bytes [0, end of the last resident payload)), and
 * blocks are pushed one by one, in stack order, with bs_wasm_attach_block.
 * Every payload is CRC-checked by the core before it is kept; the caller's
 * buffers are copied, so JS frees them right after the call.
 *
 * Statuses are bs_status values; bs_wasm_last_error() gives the detail.
 * Out-parameters are pointers into linear memory that JS allocated. */
#include "bench.h"
#include "bitstack.h"
#include "bstk.h"
#include "kernels.h"
#include "model.h"
#include "session.h"

#include <stdlib.h>
#include <string.h>

#define EXPORT(name) __attribute__((export_name(#name), visibility("default")))

/* Bumped whenever a signature below changes; js/src/runtime.js checks it. */
#define BS_WASM_ABI 3

EXPORT(bs_wasm_abi) int32_t bs_wasm_abi(void) { return BS_WASM_ABI; }

/* "simd128" or "scalar": the kernel table sessions will use. */
EXPORT(bs_wasm_kernels) const char *bs_wasm_kernels(void) { return bs_kernels_best()->name; }

EXPORT(bs_wasm_last_error) const char *bs_wasm_last_error(void) { return bs_last_error(); }

EXPORT(bs_wasm_status_name) const char *bs_wasm_status_name(int32_t st) { return bs_status_name((bs_status)st); }

/* ---- model ----------------------------------------------------------------- */

/* Opens a .bstk from its first `size` bytes, which must end exactly at the
   end of the resident section (or of any later block: the blocks are then
   ignored, attach them explicitly). The bytes are copied. */
EXPORT(bs_wasm_open)
int32_t bs_wasm_open(const void *data, uint32_t size, bs_model **out) {
    if (!out || (!data && size)) return bs_fail(BS_ERR_INVALID_ARG, "bs_wasm_open: NULL argument");
    *out = NULL;
    bs_clear_error();
    bs_model *m = bs_calloc(1, sizeof *m);
    if (!m) return BS_ERR_NOMEM;
    bs_reader r;
    bs_reader_from_memory(&r, data, size, ".bstk");
    bs_status st = size >= 4 && memcmp(data, "BSTK", 4) == 0 ? bs_import_bstk(&r, m, -1)
                                                              : bs_fail(BS_ERR_FORMAT, "not a .bstk file (bad magic)");
    if (st != BS_OK) {
        bs_model_free(m);
        return st;
    }
    *out = m;
    return BS_OK;
}

EXPORT(bs_wasm_model_free) void bs_wasm_model_free(bs_model *m) { bs_model_free(m); }

/* out[16]: dim, hidden_dim, n_layers, n_heads, n_kv_heads, head_dim,
   vocab_size, seq_len, rope_theta, norm_eps, tied, tokenizer_kind, bos_id,
   eos_id, n_params, weight_bytes. */
EXPORT(bs_wasm_model_info)
int32_t bs_wasm_model_info(const bs_model *m, double *out) {
    bs_model_info i;
    bs_status st = bs_model_get_info(m, &i);
    if (st != BS_OK || !out) return st != BS_OK ? st : BS_ERR_INVALID_ARG;
    const double v[16] = {i.dim,          i.hidden_dim, i.n_layers,        i.n_heads,        i.n_kv_heads,   i.head_dim,
                          i.vocab_size,   i.seq_len,    i.rope_theta,      i.norm_eps,       i.tied_embeddings,
                          i.tokenizer_kind, i.bos_id,   i.eos_id,          (double)i.n_params, (double)i.weight_bytes};
    memcpy(out, v, sizeof v);
    return BS_OK;
}

/* The Jinja chat template stored in the file, or NULL (0). */
EXPORT(bs_wasm_chat_template) const char *bs_wasm_chat_template(const bs_model *m) {
    return m ? m->chat_template : NULL;
}

/* out[8]: n_blocks, n_available, n_loaded, resident_bytes, loaded_bytes,
   full_bytes, stacked_params, stacked_bytes (bs_stack_info). n_available
   counts blocks the core could read itself: 0 here, JS pushes them. */
EXPORT(bs_wasm_stack_info)
int32_t bs_wasm_stack_info(const bs_model *m, double *out) {
    bs_stack_info s;
    bs_status st = bs_model_stack_info(m, &s);
    if (st != BS_OK || !out) return st != BS_OK ? st : BS_ERR_INVALID_ARG;
    const double v[8] = {s.n_blocks,          s.n_available,         s.n_loaded,
                         (double)s.resident_bytes, (double)s.loaded_bytes, (double)s.full_bytes,
                         (double)s.stacked_params, (double)s.stacked_bytes};
    memcpy(out, v, sizeof v);
    return BS_OK;
}

EXPORT(bs_wasm_blocks_for_budget) int32_t bs_wasm_blocks_for_budget(const bs_model *m, double budget) {
    return bs_model_blocks_for_budget(m, budget >= 9.2e18 ? INT64_MAX : (int64_t)budget);
}

EXPORT(bs_wasm_block_bytes) double bs_wasm_block_bytes(const bs_model *m, int32_t block) {
    return (double)bs_model_block_bytes(m, block);
}

/* Attaches block `block` (must be the next one) from size bytes at data. */
EXPORT(bs_wasm_attach_block)
int32_t bs_wasm_attach_block(bs_model *m, int32_t block, const void *data, uint32_t size) {
    return bs_model_attach_block(m, block, data, size);
}

/* 1: blocks attached next keep plain planes; 0: every matrix they touched
   into the kernels' layout at once (bs_model_defer_layout). */
EXPORT(bs_wasm_defer_layout) int32_t bs_wasm_defer_layout(bs_model *m, int32_t on) {
    return bs_model_defer_layout(m, on);
}

/* Shrinks the stack to n blocks (growing needs attach_block here). */
EXPORT(bs_wasm_set_blocks) int32_t bs_wasm_set_blocks(bs_model *m, int32_t n) { return bs_model_set_blocks(m, n); }

/* ---- session ------------------------------------------------------------------ */

/* n_threads: threads of the forward pass (the caller included); the
   reactor module has no threads and always runs 1, whatever is asked. */
EXPORT(bs_wasm_session_create)
int32_t bs_wasm_session_create(const bs_model *m, int32_t ctx, int32_t max_batch, int32_t n_threads,
                               bs_session **out) {
    bs_session_options o = {.ctx = ctx, .max_batch = max_batch, .n_threads = n_threads};
    return bs_session_create(m, &o, out);
}

/* Threads the session really runs on (1 in the reactor module). */
EXPORT(bs_wasm_session_threads) int32_t bs_wasm_session_threads(const bs_session *s) {
    return s ? s->n_threads : 0;
}

EXPORT(bs_wasm_session_free) void bs_wasm_session_free(bs_session *s) { bs_session_free(s); }
EXPORT(bs_wasm_session_reset) void bs_wasm_session_reset(bs_session *s) { bs_session_reset(s); }
EXPORT(bs_wasm_session_rewind) int32_t bs_wasm_session_rewind(bs_session *s, int32_t pos) {
    return bs_session_rewind(s, pos);
}
EXPORT(bs_wasm_session_pos) int32_t bs_wasm_session_pos(const bs_session *s) { return bs_session_pos(s); }
EXPORT(bs_wasm_session_bytes) double bs_wasm_session_bytes(const bs_session *s) {
    return (double)bs_session_bytes(s);
}

/* Runs n tokens; *logits gets the vocab_size logits of the last one (owned
   by the session, valid until its next eval). */
EXPORT(bs_wasm_session_eval)
int32_t bs_wasm_session_eval(bs_session *s, const int32_t *tokens, int32_t n, const float **logits) {
    return bs_session_eval(s, tokens, n, logits);
}

/* ---- bench: the baselines' matvec harness (bench.h) ----------------------------- */

/* Dense f32, 8-bit and 4-bit copies of every linear map of s's model, to
   run on s's threads (the model's own maps are a fourth side). */
EXPORT(bs_wasm_bench_create) int32_t bs_wasm_bench_create(bs_session *s, bs_bench **out) {
    return bs_bench_create(s, out);
}

EXPORT(bs_wasm_bench_free) void bs_wasm_bench_free(bs_bench *b) { bs_bench_free(b); }

/* One token's matvecs of every linear map on side (0 the model's, 1 f32,
   2 q8, 3 q4). The caller times it: the reactor module has no clock. */
EXPORT(bs_wasm_bench_pass) int32_t bs_wasm_bench_pass(bs_bench *b, int32_t side) { return bs_bench_pass(b, side); }

/* out[5]: weight bytes one pass of each side reads (sides 0..3), then the
   weights one pass multiplies. */
EXPORT(bs_wasm_bench_info) int32_t bs_wasm_bench_info(const bs_bench *b, double *out) {
    if (!b || !out) return bs_fail(BS_ERR_INVALID_ARG, "bs_wasm_bench_info: NULL argument");
    for (int i = 0; i < BS_BENCH_N_SIDES; i++) out[i] = (double)bs_bench_bytes(b, i);
    out[BS_BENCH_N_SIDES] = (double)bs_bench_weights(b);
    return BS_OK;
}

/* ---- sampler ------------------------------------------------------------------ */

EXPORT(bs_wasm_sampler_create)
int32_t bs_wasm_sampler_create(float temperature, int32_t top_k, float top_p, uint32_t seed_lo, uint32_t seed_hi,
                               int32_t vocab, bs_sampler **out) {
    bs_sampler_params p = {temperature, top_k, top_p, (uint64_t)seed_hi << 32 | seed_lo};
    return bs_sampler_create(&p, vocab, out);
}

EXPORT(bs_wasm_sampler_free) void bs_wasm_sampler_free(bs_sampler *s) { bs_sampler_free(s); }
EXPORT(bs_wasm_sampler_sample) int32_t bs_wasm_sampler_sample(bs_sampler *s, const float *logits) {
    return bs_sampler_sample(s, logits);
}

/* ---- tokenizer ------------------------------------------------------------------ */

/* bs_tokenize: cap 0 measures (*n_out), BS_ERR_RANGE when cap is short. */
EXPORT(bs_wasm_tokenize)
int32_t bs_wasm_tokenize(const bs_model *m, const char *text, uint32_t len, uint32_t flags, int32_t *ids,
                         int32_t cap, int32_t *n_out) {
    return bs_tokenize(m, text, len, flags, ids, cap, n_out);
}

/* Bytes of token id after prev into buf (256 always suffice); *len. */
EXPORT(bs_wasm_detokenize)
int32_t bs_wasm_detokenize(const bs_model *m, int32_t prev, int32_t id, char *buf, uint32_t cap, uint32_t *len) {
    size_t n = 0;
    bs_status st = bs_detokenize(m, prev, id, buf, cap, &n);
    if (len) *len = (uint32_t)n;
    return st;
}

EXPORT(bs_wasm_token_is_eog) int32_t bs_wasm_token_is_eog(const bs_model *m, int32_t id) {
    return bs_token_is_eog(m, id);
}

/* Id of an exact special-token text (NUL-terminated), or -1. */
EXPORT(bs_wasm_token_find) int32_t bs_wasm_token_find(const bs_model *m, const char *text) {
    return bs_token_find(m, text);
}
