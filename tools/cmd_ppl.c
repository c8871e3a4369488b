/* cmd_ppl.c - `bitstack ppl`: perplexity of a text file.
 *
 * Protocol (the reference's): the whole text is tokenized once with BOS at
 * the start, cut into non-overlapping windows of ctx tokens (the tail is
 * dropped), each window scored from an empty cache (ctx - 1 predictions),
 * and ppl = exp(mean over windows of the window's mean NLL). */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int cmd_ppl(int argc, char **argv) {
    const char *tokenizer = NULL, *text = NULL;
    int32_t ctx = 0, max_windows = 0, batch = 0, threads = 1;
    int json = 0, exact = 0;
    const char *budget = NULL;
    const arg_opt opts[] = {
        {"budget", ARG_STR, &budget, "SIZE", ".bstk: weight bytes (12MB, 40MiB, ...) or bits per weight (3.5bpw)", 0, 0},
        {"text", ARG_STR, &text, "FILE", "UTF-8 text to score (required)", 0, 0},
        {"ctx", ARG_INT, &ctx, "N", "window length in tokens (default: the model's context)", 2, 1 << 24},
        {"max-windows", ARG_INT, &max_windows, "W", "score only the first W windows (default: all)", 0, 1e9},
        {"batch", ARG_INT, &batch, "B", "tokens per forward pass (default 64)", 1, 4096},
        {"threads", ARG_INT, &threads, "N", "threads for the forward pass, same results for any N (default 1)", 1, 256},
        {"tokenizer", ARG_STR, &tokenizer, "FILE", "llama2.c tokenizer.bin (for .bin checkpoints)", 0, 0},
        CLI_EXACT_OPT(exact),
        {"json", ARG_FLAG, &json, NULL, "print one JSON object on stdout", 0, 0},
    };
    const arg_spec spec = {
        "bitstack ppl MODEL --text FILE [options]",
        "Perplexity: the text tokenized once with BOS at the start, cut into non-overlapping\n"
        "windows of N tokens (tail dropped), exp of the mean of per-window mean NLL.",
        opts, (int)(sizeof opts / sizeof opts[0]), 1, 1, NULL};
    char *pos[1];
    int n_pos, r = cli_args_exit(args_parse(&spec, argc, argv, pos, &n_pos));
    if (r >= 0) return r;
    if (!text) {
        fprintf(stderr, "bitstack: ppl needs --text FILE\n");
        return EXIT_USAGE;
    }
    bs_model *m = NULL;
    if ((r = cli_load_model(pos[0], tokenizer, budget, &m)) != EXIT_OK) return r;
    bs_model_info info;
    bs_model_get_info(m, &info);
    if (ctx == 0) ctx = info.seq_len;
    int32_t *ids = NULL, n = 0;
    double t0 = cli_now();
    if ((r = cli_tokenize_file(m, text, &ids, &n)) != EXIT_OK) goto done;
    double t_tok = cli_now() - t0;
    int32_t windows = n / ctx;
    if (max_windows > 0 && windows > max_windows) windows = max_windows;
    if (windows == 0) {
        fprintf(stderr, "bitstack: the text has %d tokens, fewer than one window of %d\n", n, ctx);
        r = EXIT_FAIL;
        goto done;
    }
    t0 = cli_now();
    double mean = 0.0;
    if ((r = cli_eval_windows(m, ids, windows, ctx, batch, threads, exact, &mean)) != EXIT_OK) goto done;
    double secs = cli_now() - t0, ppl = exp(mean);
    if (json)
        printf("{\"ppl\": %.6f, \"nll\": %.6f, \"tokens\": %d, \"windows\": %d, \"ctx\": %d, "
               "\"scored_tokens\": %lld, \"tokenize_s\": %.3f, \"eval_s\": %.3f, \"tok_per_s\": %.1f}\n",
               ppl, mean, n, windows, ctx, (long long)windows * (ctx - 1), t_tok, secs,
               (double)windows * ctx / secs);
    else
        printf("ppl %.4f (mean NLL %.5f) over %d windows of %d tokens (%d tokens in the text); "
               "tokenize %.2f s, eval %.1f tok/s\n",
               ppl, mean, windows, ctx, n, t_tok, (double)windows * ctx / secs);
done:
    free(ids);
    bs_model_free(m);
    return r;
}
