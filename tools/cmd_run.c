/* cmd_run.c - `bitstack run`: generate text from a prompt. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

int cmd_run(int argc, char **argv) {
    const char *prompt = NULL;
    cli_gen_opts g = {NULL, NULL, 256, 0, 0, 1, 1.0f, 0.9f, 42, 0};
    const arg_opt opts[] = {
        {"prompt", ARG_STR, &prompt, "TEXT", "text to continue (default: start from BOS)", 0, 0},
        CLI_GEN_OPTS(g, "tokens to generate (default 256)", "0 = greedy (default 1.0)"),
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
    if ((r = cli_load_model(pos[0], g.tokenizer, g.budget, &m)) != EXIT_OK) return r;
    bs_session *s = NULL;
    bs_sampler *sm = NULL;
    int32_t *ids = NULL, n = 0;
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
    if ((r = cli_open_generation(m, &g, &s, &sm)) != EXIT_OK) goto done;
    cli_gen_stats gs = {0};
    r = cli_generate(m, s, sm, ids, n, g.steps, stdout, &gs, NULL, NULL);
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
