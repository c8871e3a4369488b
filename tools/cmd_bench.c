/* cmd_bench.c - `bitstack bench`: prefill and decode speed of the model,
 * and of baselines built from the same weights in the same harness, next
 * to the machine's roofline measured in the same run.
 *
 * Baselines: every linear map of the loaded model rebuilt as dense f32 W
 * (the sum of its attached blocks) and as 8-bit and 4-bit group-quantized
 * copies of that W (the core's harness, bench.h, which the wasm module
 * runs too). One "token" of a baseline is one matvec of every linear map
 * (lm_head included) on the session's thread pool and row split; the rest
 * of a decode step (attention, norms, sampling-free logits) is the same
 * whatever the weights, so it is taken from the model's own measured
 * decode: baseline decode tok/s =
 * 1 / (baseline matvecs + (model decode step - model matvecs)).
 *
 * Roofline: decode reads every weight once per token, so read bandwidth /
 * weight bytes bounds decode tok/s; the int8 multiply-add peak bounds how
 * many weights per second any int8 kernel can consume. */
#include "baseline.h"
#include "bench.h"
#include "cli.h"

#include <stdlib.h>

/* Best-of-3 read bandwidth over a buffer much larger than the caches. */
static double read_bandwidth(size_t bytes) {
    size_t n = bytes / sizeof(uint64_t);
    uint64_t *buf = malloc(n * sizeof *buf);
    if (!buf) return 0.0;
    for (size_t i = 0; i < n; i++) buf[i] = i * 2654435761u;
    double best = 0.0;
    volatile uint64_t sink = 0;
    for (int rep = 0; rep < 3; rep++) {
        uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        double t0 = cli_now();
        for (size_t i = 0; i + 4 <= n; i += 4) {
            a0 += buf[i];
            a1 += buf[i + 1];
            a2 += buf[i + 2];
            a3 += buf[i + 3];
        }
        double dt = cli_now() - t0;
        sink += a0 + a1 + a2 + a3;
        if (dt > 0 && (double)bytes / dt > best) best = (double)bytes / dt;
    }
    (void)sink;
    free(buf);
    return best;
}

/* The model's decode, a few tokens at a time, between baseline passes. */
typedef struct decoder {
    bs_session *s;
    const int32_t *ids;
    int32_t next, end, per_round;
    double best; /* seconds per token, the best round */
    bs_status st;
} decoder;

static void decode_round(decoder *d) {
    int32_t n = BS_MIN(d->per_round, d->end - d->next);
    if (n <= 0 || d->st != BS_OK) return;
    const float *logits;
    double t0 = cli_now();
    for (int32_t i = 0; i < n && d->st == BS_OK; i++) d->st = bs_session_eval(d->s, d->ids + d->next + i, 1, &logits);
    d->best = BS_MIN(d->best, (cli_now() - t0) / n);
    d->next += n;
}

/* Best seconds per pass of each side (bench.h) over reps interleaved
   passes, with a round of the model's decode (dec) before each. */
static bs_status time_sides(bs_bench *b, int reps, decoder *dec, double best[BS_BENCH_N_SIDES]) {
    for (int i = 0; i < BS_BENCH_N_SIDES; i++) best[i] = 1e30;
    for (int r = 0; r < reps; r++) {
        decode_round(dec);
        for (int side = 0; side < BS_BENCH_N_SIDES; side++) {
            double t0 = cli_now();
            BS_TRY(bs_bench_pass(b, side));
            best[side] = BS_MIN(best[side], cli_now() - t0);
        }
    }
    return BS_OK;
}

/* ---- the command ------------------------------------------------------------ */

/* A session with the prefill of n_prompt pseudo-random tokens done
   (tok/s in *prefill), ready to decode ids[n_prompt ..]. */
static int start_model(bs_model *m, int32_t n_prompt, int32_t n_gen, int threads, int exact, bs_session **s,
                       int32_t **ids_out, double *prefill) {
    bs_model_info info;
    bs_model_get_info(m, &info);
    int32_t total = n_prompt + n_gen;
    int32_t *ids = malloc((size_t)total * sizeof *ids);
    bs_session_options so = {.ctx = total, .n_threads = threads, .exact = exact};
    bs_status st = ids ? bs_session_create(m, &so, s) : BS_ERR_NOMEM;
    *ids_out = ids;
    if (st != BS_OK) return cli_fail(st, "setup");
    uint64_t x = 12345;
    for (int32_t i = 0; i < total; i++) { /* fixed pseudo-random token ids */
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = (int32_t)((x >> 33) % (uint64_t)info.vocab_size);
    }
    const float *logits;
    double t0 = cli_now();
    if ((st = bs_session_eval(*s, ids, n_prompt, &logits)) != BS_OK) return cli_fail(st, "prefill");
    *prefill = n_prompt / (cli_now() - t0);
    return EXIT_OK;
}

int cmd_bench(int argc, char **argv) {
    const char *tokenizer = NULL;
    int32_t n_prompt = 128, n_gen = 64, threads = 1, reps = 5;
    int json = 0, exact = 0, no_baselines = 0;
    const char *budget = NULL;
    const arg_opt opts[] = {
        {"budget", ARG_STR, &budget, "SIZE", ".bstk: weight bytes (12MB, 40MiB, ...) or bits per weight (3.5bpw)", 0, 0},
        {"prompt-tokens", ARG_INT, &n_prompt, "N", "tokens in the prefill pass (default 128)", 1, 1 << 20},
        {"gen-tokens", ARG_INT, &n_gen, "N", "tokens decoded one by one, in rounds between the baselines' passes; the best round counts (default 64)", 1, 1 << 20},
        {"reps", ARG_INT, &reps, "R", "baseline passes per side, the best kept (default 5)", 1, 1000},
        {"tokenizer", ARG_STR, &tokenizer, "FILE", "llama2.c tokenizer.bin (unused; accepted for symmetry)", 0, 0},
        {"threads", ARG_INT, &threads, "N", "threads for the forward pass and the baselines (default 1)", 1, 256},
        CLI_EXACT_OPT(exact),
        {"no-baselines", ARG_FLAG, &no_baselines, NULL, "skip the f32 / q8 / q4 baselines", 0, 0},
        {"json", ARG_FLAG, &json, NULL, "print one JSON object on stdout", 0, 0},
    };
    const arg_spec spec = {
        "bitstack bench MODEL [options]",
        "Measures prefill and decode tokens/s, the same model's weights as dense f32, 8-bit and 4-bit\n"
        "group-quantized matvecs (baselines, same threads), and the machine's read bandwidth and int8\n"
        "multiply-add peak, in one run.",
        opts, (int)(sizeof opts / sizeof opts[0]), 1, 1, NULL};
    char *pos[1];
    int n_pos, r = cli_args_exit(args_parse(&spec, argc, argv, pos, &n_pos));
    if (r >= 0) return r;
    bs_model *m = NULL;
    if ((r = cli_load_model(pos[0], tokenizer, budget, &m)) != EXIT_OK) return r;
    bs_model_info info;
    bs_model_get_info(m, &info);
    double prefill = 0, decode = 0, best[BS_BENCH_N_SIDES] = {0};
    int64_t bytes[BS_BENCH_N_SIDES] = {0};
    bs_session *s = NULL;
    bs_bench *bench = NULL;
    int32_t *ids = NULL;
    if ((r = start_model(m, n_prompt, n_gen, threads, exact, &s, &ids, &prefill)) != EXIT_OK) goto done;
    /* decode in rounds between the baselines' passes (a shared machine
       changes speed over seconds: each side keeps its best round) */
    decoder dec = {s, ids, n_prompt, n_prompt + n_gen, no_baselines ? n_gen : (n_gen + reps - 1) / reps, 1e30, BS_OK};
    int have_base = 0;
    if (!no_baselines) {
        bs_status st = bs_bench_create(s, &bench);
        if (st == BS_OK) st = time_sides(bench, reps, &dec, best);
        if (st != BS_OK)
            fprintf(stderr, "bitstack: bench: no baselines (%s)\n", bs_last_error());
        else
            have_base = 1;
        for (int i = 0; i < BS_BENCH_N_SIDES; i++) bytes[i] = bs_bench_bytes(bench, i);
    }
    while (dec.next < dec.end && dec.st == BS_OK) decode_round(&dec);
    if (dec.st != BS_OK) {
        r = cli_fail(dec.st, "decode");
        goto done;
    }
    decode = 1.0 / dec.best;
    /* 4x the weights, at least 256 MiB (past every cache), at most 1 GiB */
    int64_t want = 4 * info.weight_bytes;
    size_t bw_bytes = (size_t)(want < (256 << 20) ? (256 << 20) : want > (1 << 30) ? (1 << 30) : want);
    double bw = read_bandwidth(bw_bytes), peak = bs_int8_peak_gmacs();
    double bound = bw / (double)info.weight_bytes; /* every weight read once per token */
    double other = have_base ? BS_MAX(0.0, 1.0 / decode - best[BS_BENCH_MODEL]) : 0; /* not matvecs */
    double base_tok[BS_BENCH_N_SIDES];
    for (int i = 0; i < BS_BENCH_N_SIDES; i++) base_tok[i] = have_base ? 1.0 / (best[i] + other) : 0;
    int64_t n_weights = bs_bench_weights(bench);
    /* the model's matvecs alone: weight bytes / s against bandwidth, and
       weights / s against the int8 peak (one multiply-add per weight) */
    double mv_bytes_s = have_base ? bytes[BS_BENCH_MODEL] / best[BS_BENCH_MODEL] : 0;
    double mv_gmacs = have_base ? n_weights / best[BS_BENCH_MODEL] * 1e-9 : 0;
    if (json) {
        printf("{\"prefill_tok_s\": %.2f, \"decode_tok_s\": %.2f, \"threads\": %d, \"kernels\": \"%s\", "
               "\"mode\": \"%s\", \"weight_bytes\": %lld",
               prefill, decode, threads, bs_kernels_best()->name, exact ? "exact" : "fast",
               (long long)info.weight_bytes);
        if (have_base) {
            printf(", \"baseline_decode_tok_s\": {\"f32\": %.2f, \"q8\": %.2f, \"q4\": %.2f}, "
                   "\"baseline_weight_bytes\": {\"f32\": %lld, \"q8\": %lld, \"q4\": %lld}, "
                   "\"matvec_tok_s\": {\"bitstack\": %.2f, \"f32\": %.2f, \"q8\": %.2f, \"q4\": %.2f}",
                   base_tok[BS_BENCH_F32], base_tok[BS_BENCH_Q8], base_tok[BS_BENCH_Q4],
                   (long long)bytes[BS_BENCH_F32], (long long)bytes[BS_BENCH_Q8], (long long)bytes[BS_BENCH_Q4],
                   1 / best[BS_BENCH_MODEL], 1 / best[BS_BENCH_F32], 1 / best[BS_BENCH_Q8], 1 / best[BS_BENCH_Q4]);
            printf(", \"kernel_gb_s\": %.3f, \"kernel_gmacs\": %.3f, \"kernel_fraction_of_bandwidth\": %.3f, "
                   "\"kernel_fraction_of_int8_peak\": %.3f",
                   mv_bytes_s / 1e9, mv_gmacs, mv_bytes_s / bw, peak > 0 ? mv_gmacs / peak : 0.0);
        }
        printf(", \"mem_bandwidth_gb_s\": %.2f, \"int8_peak_gmacs\": %.2f, \"decode_bound_tok_s\": %.2f, "
               "\"decode_fraction_of_bound\": %.3f}\n",
               bw / 1e9, peak, bound, decode / bound);
    } else {
        printf("bitstack (%s kernels, %s mode): prefill %.1f tok/s (%d tokens) | decode %.1f tok/s (%d tokens) | "
               "%d thread%s\n",
               bs_kernels_best()->name, exact ? "exact" : "fast", prefill, n_prompt, decode, n_gen, threads,
               threads == 1 ? "" : "s");
        if (have_base) {
            printf("baselines from the same weights (decode = their matvecs + the model's non-matvec time):\n");
            for (int i = 0; i < BS_BENCH_N_SIDES; i++)
                printf("  %-9s weights %8.2f MB  matvecs %7.1f tok/s  decode %7.1f tok/s  bitstack/this %.2fx\n",
                       bs_bench_side_name(i), bytes[i] / 1e6, 1 / best[i], base_tok[i], decode / base_tok[i]);
            printf("kernel: %.2f GB/s of weights (%.0f%% of read bandwidth), %.2f GMAC/s (%.0f%% of the int8 peak)\n",
                   mv_bytes_s / 1e9, 100 * mv_bytes_s / bw, mv_gmacs, peak > 0 ? 100 * mv_gmacs / peak : 0.0);
        }
        printf("memory read bandwidth %.2f GB/s; int8 peak %.1f GMAC/s; weights %.2f MB -> decode bound %.1f tok/s; "
               "decode reaches %.0f%% of it\n",
               bw / 1e9, peak, info.weight_bytes / 1e6, bound, 100.0 * decode / bound);
    }
done:
    free(ids);
    bs_bench_free(bench);
    bs_session_free(s);
    bs_model_free(m);
    return r;
}
