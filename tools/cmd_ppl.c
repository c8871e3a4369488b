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

/* Reads and tokenizes the whole file; *ids is malloc'd. */
static int tokenize_file(bs_model *m, const char *path, int32_t **ids, int32_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bitstack: cannot open text file %s\n", path);
        return EXIT_FAIL;
    }
    size_t cap = 1 << 20, len = 0, got;
    char *text = malloc(cap);
    while (text && (got = fread(text + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            char *bigger = realloc(text, cap *= 2);
            if (!bigger) free(text);
            text = bigger;
        }
    }
    fclose(f);
    if (!text) return cli_fail(BS_ERR_NOMEM, "reading the text");
    /* at most one token per byte, plus BOS and a dummy-prefix space */
    int32_t max_tokens = len + 2 > INT32_MAX ? INT32_MAX : (int32_t)(len + 2);
    *ids = malloc((size_t)max_tokens * sizeof **ids);
    bs_status st = *ids ? bs_tokenize(m, text, len, BS_TOKENIZE_BOS, *ids, max_tokens, n) : BS_ERR_NOMEM;
    free(text);
    if (st != BS_OK) return cli_fail(st, "tokenize");
    return EXIT_OK;
}

int cmd_ppl(int argc, char **argv) {
    const char *tokenizer = NULL, *text = NULL;
    int32_t ctx = 0, max_windows = 0, batch = 0, threads = 1;
    int json = 0;
    const arg_opt opts[] = {
        {"text", ARG_STR, &text, "FILE", "UTF-8 text to score (required)", 0, 0},
        {"ctx", ARG_INT, &ctx, "N", "window length in tokens (default: the model's context)", 2, 1 << 24},
        {"max-windows", ARG_INT, &max_windows, "W", "score only the first W windows (default: all)", 0, 1e9},
        {"batch", ARG_INT, &batch, "B", "tokens per forward pass (default 64)", 1, 4096},
        {"threads", ARG_INT, &threads, "N", "threads for the forward pass, same results for any N (default 1)", 1, 256},
        {"tokenizer", ARG_STR, &tokenizer, "FILE", "llama2.c tokenizer.bin (for .bin checkpoints)", 0, 0},
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
    if ((r = cli_load_model(pos[0], tokenizer, &m)) != EXIT_OK) return r;
    bs_model_info info;
    bs_model_get_info(m, &info);
    if (ctx == 0) ctx = info.seq_len;
    int32_t *ids = NULL, n = 0;
    bs_session *s = NULL;
    double t0 = cli_now();
    if ((r = tokenize_file(m, text, &ids, &n)) != EXIT_OK) goto done;
    double t_tok = cli_now() - t0;
    int32_t windows = n / ctx;
    if (max_windows > 0 && windows > max_windows) windows = max_windows;
    if (windows == 0) {
        fprintf(stderr, "bitstack: the text has %d tokens, fewer than one window of %d\n", n, ctx);
        r = EXIT_FAIL;
        goto done;
    }
    bs_session_options so = {.ctx = ctx, .max_batch = batch, .n_threads = threads};
    bs_status st = bs_session_create(m, &so, &s);
    if (st != BS_OK) {
        r = cli_fail(st, "session");
        goto done;
    }
    double sum_mean = 0.0;
    t0 = cli_now();
    for (int32_t w = 0; w < windows; w++) {
        double nll = 0.0;
        bs_session_reset(s);
        if ((st = bs_session_eval_nll(s, ids + (size_t)w * ctx, ctx, &nll)) != BS_OK) {
            r = cli_fail(st, "evaluation");
            goto done;
        }
        sum_mean += nll / (ctx - 1);
        cli_progress("perplexity", (uint64_t)w + 1, (uint64_t)windows);
    }
    double secs = cli_now() - t0, mean = sum_mean / windows, ppl = exp(mean);
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
    bs_session_free(s);
    bs_model_free(m);
    return r;
}
