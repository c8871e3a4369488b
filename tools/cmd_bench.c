/* cmd_bench.c - `bitstack bench`: prefill and decode speed, next to the
   machine's memory bandwidth measured in the same run.
 *
 * Decode reads every weight once per token, so bandwidth / weight bytes is
 * the memory-bound ceiling on decode tokens/s; the ratio tells how close
 * the kernels get to it. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

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

int cmd_bench(int argc, char **argv) {
    const char *tokenizer = NULL;
    int32_t n_prompt = 128, n_gen = 64, threads = 1;
    int json = 0;
    const char *budget = NULL;
    const arg_opt opts[] = {
        {"budget", ARG_STR, &budget, "SIZE", ".bstk: weight bytes (12MB, 40MiB, ...) or bits per weight (3.5bpw)", 0, 0},
        {"prompt-tokens", ARG_INT, &n_prompt, "N", "tokens in the prefill pass (default 128)", 1, 1 << 20},
        {"gen-tokens", ARG_INT, &n_gen, "N", "tokens decoded one by one (default 64)", 1, 1 << 20},
        {"tokenizer", ARG_STR, &tokenizer, "FILE", "llama2.c tokenizer.bin (unused; accepted for symmetry)", 0, 0},
        {"threads", ARG_INT, &threads, "N", "threads for the forward pass, same results for any N (default 1)", 1, 256},
        {"json", ARG_FLAG, &json, NULL, "print one JSON object on stdout", 0, 0},
    };
    const arg_spec spec = {"bitstack bench MODEL [options]",
                           "Measures prefill and decode tokens/s and the read bandwidth of memory in one run.",
                           opts, (int)(sizeof opts / sizeof opts[0]), 1, 1, NULL};
    char *pos[1];
    int n_pos, r = cli_args_exit(args_parse(&spec, argc, argv, pos, &n_pos));
    if (r >= 0) return r;
    bs_model *m = NULL;
    if ((r = cli_load_model(pos[0], tokenizer, budget, &m)) != EXIT_OK) return r;
    bs_model_info info;
    bs_model_get_info(m, &info);
    bs_session *s = NULL;
    int32_t total = n_prompt + n_gen;
    int32_t *ids = malloc((size_t)total * sizeof *ids);
    bs_session_options so = {.ctx = total, .n_threads = threads};
    bs_status st = ids ? bs_session_create(m, &so, &s) : BS_ERR_NOMEM;
    if (st != BS_OK) {
        r = cli_fail(st, "setup");
        goto done;
    }
    uint64_t x = 12345;
    for (int32_t i = 0; i < total; i++) { /* fixed pseudo-random token ids */
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = (int32_t)((x >> 33) % (uint64_t)info.vocab_size);
    }
    const float *logits;
    double t0 = cli_now();
    if ((st = bs_session_eval(s, ids, n_prompt, &logits)) != BS_OK) {
        r = cli_fail(st, "prefill");
        goto done;
    }
    double prefill = n_prompt / (cli_now() - t0);
    t0 = cli_now();
    for (int32_t i = 0; i < n_gen; i++)
        if ((st = bs_session_eval(s, ids + n_prompt + i, 1, &logits)) != BS_OK) {
            r = cli_fail(st, "decode");
            goto done;
        }
    double decode = n_gen / (cli_now() - t0);
    /* 4x the weights, at least 256 MiB (past every cache), at most 1 GiB */
    int64_t want = 4 * info.weight_bytes;
    size_t bw_bytes = (size_t)(want < (256 << 20) ? (256 << 20) : want > (1 << 30) ? (1 << 30) : want);
    double bw = read_bandwidth(bw_bytes);
    /* per decoded token every weight is read once (a tied table once) */
    double bound = bw / (double)info.weight_bytes;
    if (json)
        printf("{\"prefill_tok_s\": %.2f, \"decode_tok_s\": %.2f, \"threads\": %d, \"weight_bytes\": %lld, "
               "\"mem_bandwidth_gb_s\": %.2f, \"decode_bound_tok_s\": %.2f, \"decode_fraction_of_bound\": %.3f}\n",
               prefill, decode, threads, (long long)info.weight_bytes, bw / 1e9, bound, decode / bound);
    else
        printf("prefill %.1f tok/s (%d tokens) | decode %.1f tok/s (%d tokens) | %d thread%s\n"
               "memory read bandwidth %.2f GB/s; weights %.2f MB -> decode bound %.1f tok/s; "
               "decode reaches %.0f%% of it\n",
               prefill, n_prompt, decode, n_gen, threads, threads == 1 ? "" : "s", bw / 1e9, info.weight_bytes / 1e6, bound,
               100.0 * decode / bound);
done:
    free(ids);
    bs_session_free(s);
    bs_model_free(m);
    return r;
}
