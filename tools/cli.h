/* cli.h - what the subcommands of the bitstack CLI share. */
#ifndef BS_CLI_H
#define BS_CLI_H

#include "args.h"
#include "bitstack.h"

#include <stdint.h>
#include <stdio.h>

enum { EXIT_OK = 0, EXIT_USAGE = 1, EXIT_FAIL = 2 };

int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_ppl(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_compress(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_curve(int argc, char **argv);

/* Maps an args_parse result to an exit code, or -1 to go on. */
int cli_args_exit(int parse_result);
/* Prints "bitstack: <what>: <last error> (<STATUS>)" and returns EXIT_FAIL. */
int cli_fail(bs_status st, const char *what);
/* Loads a model (+ optional llama2.c tokenizer) under an optional
   --budget (NULL: the whole file), reporting failures and, for .bstk
   models, the blocks and bytes loaded. */
int cli_load_model(const char *path, const char *tokenizer, const char *budget, bs_model **out);
/* "12MB" / "40MiB" / "5000000" -> bytes; "3.5bpw" -> 3.5 with *is_bpw. */
int cli_parse_budget(const char *s, double *value, int *is_bpw);
void cli_print_stack(const bs_model *m);

/* Reads a whole file into *text (malloc'd, NUL-terminated; *len bytes). */
int cli_read_text(const char *path, char **text, size_t *len);
/* Reads a text file and tokenizes it whole, with BOS; *ids is malloc'd. */
int cli_tokenize_file(bs_model *m, const char *path, int32_t **ids, int32_t *n);

/* The perplexity protocol: mean over windows (each from an empty cache)
   of the window's mean next-token NLL, for the first `windows` windows of
   ctx tokens of ids, on `threads` threads (the result does not depend on
   them), with the exact kernels when `exact` (else the fast ones). */
int cli_eval_windows(bs_model *m, const int32_t *ids, int32_t windows, int32_t ctx, int32_t batch,
                     int32_t threads, int exact, double *mean_nll);

double cli_now(void);            /* monotonic seconds                    */
int64_t cli_peak_rss(void);      /* bytes, 0 if unknown                  */
/* "12.3 MiB" into buf */
const char *cli_bytes(int64_t n, char *buf, size_t cap);
/* A one-line progress bar on stderr when it is a terminal (done == total
   ends the line). */
void cli_progress(const char *label, uint64_t done, uint64_t total);

/* Writes a token's bytes to f, dropping ASCII control characters other
   than whitespace (a model can emit them; terminals would interpret). */
void cli_write_piece(FILE *f, const char *bytes, size_t len);

/* --exact: the kernels' exact mode (f32 reference path) instead of the
   fast one (bit planes against int8 activations). */
#define CLI_EXACT_OPT(var) \
    {"exact", ARG_FLAG, &(var), NULL, "exact f32 kernels instead of the fast int8-activation ones", 0, 0}

/* The options run and chat share (tables built with CLI_GEN_OPTS). */
typedef struct cli_gen_opts {
    const char *tokenizer, *budget;
    int32_t steps, top_k, ctx, threads;
    float temperature, top_p;
    uint64_t seed;
    int exact; /* --exact */
} cli_gen_opts;

#define CLI_GEN_OPTS(g, steps_help, temperature_help)                                                   \
    {"budget", ARG_STR, &(g).budget, "SIZE", ".bstk: weight bytes (12MB, 40MiB, ...) or bits per weight (3.5bpw)", 0, 0}, \
    {"steps", ARG_INT, &(g).steps, "N", steps_help, 1, 1e7},                                               \
    {"temperature", ARG_FLOAT, &(g).temperature, "T", temperature_help, 0, 100},                           \
    {"top-k", ARG_INT, &(g).top_k, "K", "keep the K most likely tokens, 0 = off (default 0)", 0, 1e7},      \
    {"top-p", ARG_FLOAT, &(g).top_p, "P", "nucleus sampling, 1 = off (default 0.9)", 1e-6, 1},             \
    {"seed", ARG_U64, &(g).seed, "S", "random seed (default 42)", 0, 0},                                   \
    {"ctx", ARG_INT, &(g).ctx, "N", "context length (default: min(model, 2048))", 1, 1 << 24},             \
    {"threads", ARG_INT, &(g).threads, "N", "threads for the forward pass, same results for any N (default 1)", 1, 256}, \
    CLI_EXACT_OPT((g).exact), \
    {"tokenizer", ARG_STR, &(g).tokenizer, "FILE", "llama2.c tokenizer.bin (for .bin checkpoints)", 0, 0}

/* A session and a sampler for generation with g. */
int cli_open_generation(bs_model *m, const cli_gen_opts *g, bs_session **s, bs_sampler **sm);

/* Token generation shared by run and chat. */
typedef struct cli_gen_stats {
    int32_t n_prompt, n_gen;
    double prefill_s, decode_s;
} cli_gen_stats;

/* Evaluates prompt[0..n) (batched), then samples up to max_new tokens,
   streaming each to out (flushed), stopping at an end-of-generation token
   or a full context. on_token (may be NULL) sees every emitted token. */
typedef void (*cli_token_fn)(void *ctx, int32_t id, const char *bytes, size_t len);
int cli_generate(bs_model *m, bs_session *s, bs_sampler *sm, const int32_t *prompt, int32_t n,
                 int32_t max_new, FILE *out, cli_gen_stats *st, cli_token_fn on_token, void *ctx);
void cli_print_speed(const cli_gen_stats *st, const bs_model *m, const bs_session *s);

#endif
