/* cmd_run.c - `bitstack run`: generate text from a prompt. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

int cmd_run(int argc, char **argv) {
    const char *tokenizer = NULL, *prompt = NULL;
    int32_t steps = 256, top_k = 0, ctx = 0, threads = 1;
    float temperature = 1.0f, top_p = 0.9f;
    uint64_t seed = 42;
    const char *budget = NULL;
    const arg_opt opts[] = {
        {"budget", ARG_STR, &budget, "SIZE", ".bstk: weight bytes (12MB, 40MiB, ...) or bits per weight (3.5bpw)", 0, 0},
        {"tokenizer", ARG_STR, &tokenizer, "FILE", "llama2.c tokenizer.bin (for .bin checkpoints)", 0, 0},
        {"prompt", ARG_STR, &prompt, "TEXT", "text to continue (default: start from BOS)", 0, 0},
        {"steps", ARG_INT, &steps, "N", "tokens to generate (default 256)", 1, 1e7},
        {"temperature", ARG_FLOAT, &temperature, "T", "0 = greedy (default 1.0)", 0, 100},
        {"top-k", ARG_INT, &top_k, "K", "keep the K most likely tokens, 0 = off (default 0)", 0, 1e7},
        {"top-p", ARG_FLOAT, &top_p, "P", "nucleus sampling, 1 = off (default 0.9)", 1e-6, 1},
        {"seed", ARG_U64, &seed, "S", "random seed (default 42)", 0, 0},
        {"ctx", ARG_INT, &ctx, "N", "context length (default: min(model, 2048))", 1, 1 << 24},
        {"threads", ARG_INT, &threads, "N", "threads for the forward pass, same results for any N (default 1)", 1, 256},
    };
    const arg_spec spec = {
        "bitstack run MODEL [options]",
        "Generates text. The generated text alone goes to stdout; speeds and memory go to stderr.",
        opts, (int)(sizeof opts / sizeof opts[0]), 1, 1,
        "example:\n  bitstack run stories260K.bin --tokenizer tok512.bin --steps 60 --temperature 0"};
    char *pos[1];
    int n_pos, r = cli_args_exit(args_parse(&spec, argc, argv, pos, &n_pos));
    if (r >= 0) return r;

    bs_model *m = NULL;
    if ((r = cli_load_model(pos[0], tokenizer, budget, &m)) != EXIT_OK) return r;
    bs_model_info info;
    bs_model_get_info(m, &info);
    bs_session *s = NULL;
    bs_sampler *sm = NULL;
    int32_t *ids = NULL, n = 0;
    bs_sampler_params sp = {temperature, top_k, top_p, seed};
    bs_session_options so = {.ctx = ctx, .n_threads = threads};
    bs_status st;
    const char *text = prompt ? prompt : "";
    if ((st = bs_tokenize(m, text, strlen(text), BS_TOKENIZE_BOS, NULL, 0, &n)) != BS_ERR_RANGE &&
        st != BS_OK) {
        r = cli_fail(st, "tokenize");
        goto done;
    }
    ids = malloc((size_t)(n > 0 ? n : 1) * sizeof *ids);
    if (!ids || (st = bs_tokenize(m, text, strlen(text), BS_TOKENIZE_BOS, ids, n, &n)) != BS_OK) {
        r = cli_fail(ids ? st : BS_ERR_NOMEM, "tokenize");
        goto done;
    }
    if (n == 0) { /* a model without BOS and an empty prompt */
        fprintf(stderr, "bitstack: the model has no BOS token: give a --prompt\n");
        r = EXIT_USAGE;
        goto done;
    }
    if ((st = bs_session_create(m, &so, &s)) != BS_OK || (st = bs_sampler_create(&sp, info.vocab_size, &sm)) != BS_OK) {
        r = cli_fail(st, "setup");
        goto done;
    }
    cli_gen_stats gs = {0};
    r = cli_generate(m, s, sm, ids, n, steps, stdout, &gs, NULL, NULL);
    printf("\n");
    fflush(stdout);
    if (r == EXIT_OK) cli_print_speed(&gs, m, s);
done:
    free(ids);
    bs_sampler_free(sm);
    bs_session_free(s);
    bs_model_free(m);
    return r;
}
