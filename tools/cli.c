/* cli.c - helpers shared by the subcommands. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

int cli_args_exit(int r) {
    if (r == ARGS_HELP) return EXIT_OK;
    if (r == ARGS_ERROR) return EXIT_USAGE;
    return -1;
}

int cli_fail(bs_status st, const char *what) {
    const char *detail = bs_last_error();
    fprintf(stderr, "bitstack: %s: %s (%s)\n", what, detail[0] ? detail : "failed",
            bs_status_name(st));
    return EXIT_FAIL;
}

int cli_parse_budget(const char *s, double *value, int *is_bpw) {
    static const struct { const char *suffix; double mult; } units[] = {
        {"bpw", -1}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0},
        {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1.0}, {"", 1.0}};
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || !(v > 0.0) || v > 1e15) return 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].suffix) == 0) {
            *is_bpw = units[i].mult < 0;
            *value = *is_bpw ? v : v * units[i].mult;
            return 1;
        }
    return 0;
}

/* Applies a --budget to a .bstk model loaded with its resident section. */
static int apply_budget(bs_model *m, const char *budget) {
    double v;
    int bpw;
    bs_stack_info si;
    if (!cli_parse_budget(budget, &v, &bpw)) {
        fprintf(stderr, "bitstack: --budget %s: expects bytes (e.g. 5000000, 12MB, 40MiB) or bits per weight (3.5bpw)\n",
                budget);
        return EXIT_USAGE;
    }
    bs_model_stack_info(m, &si);
    /* Nbpw: N bits per weight of the compressed matrices, plus the
       uncompressed resident tensors (tables, norms) as they are */
    int64_t bytes = bpw ? (si.resident_bytes - si.stacked_bytes) + (int64_t)(v * (double)si.stacked_params / 8.0)
                        : (int64_t)v;
    int32_t n = bs_model_blocks_for_budget(m, bytes);
    if (n < 0) {
        char a[32];
        fprintf(stderr, "bitstack: --budget %s is below the resident size of the model (%s, %lld bytes)\n", budget,
                cli_bytes(si.resident_bytes, a, sizeof a), (long long)si.resident_bytes);
        return EXIT_FAIL;
    }
    if (n > si.n_available) n = si.n_available;
    bs_status st = bs_model_set_blocks(m, n);
    if (st != BS_OK) return cli_fail(st, "loading blocks");
    return EXIT_OK;
}

void cli_print_stack(const bs_model *m) {
    bs_stack_info si;
    if (bs_model_stack_info(m, &si) != BS_OK) return;
    char a[32], b[32];
    fprintf(stderr, "stack: %d of %d blocks loaded; weights %s of %s; %.3f bits per compressed weight\n", si.n_loaded,
            si.n_blocks, cli_bytes(si.loaded_bytes, a, sizeof a), cli_bytes(si.full_bytes, b, sizeof b),
            si.stacked_params ? 8.0 * (double)si.stacked_bytes / (double)si.stacked_params : 0.0);
}

int cli_load_model(const char *path, const char *tokenizer, const char *budget, bs_model **out) {
    bs_load_options o = {tokenizer, 0, budget != NULL};
    bs_status st = bs_model_load(path, &o, out);
    if (st != BS_OK) return cli_fail(st, "cannot load the model");
    bs_stack_info si;
    int is_stack = bs_model_stack_info(*out, &si) == BS_OK;
    int r = EXIT_OK;
    if (budget && !is_stack) {
        fprintf(stderr, "bitstack: --budget applies to .bstk models; %s is a float model\n", path);
        r = EXIT_USAGE;
    } else if (budget) {
        r = apply_budget(*out, budget);
    }
    if (r != EXIT_OK) {
        bs_model_free(*out);
        *out = NULL;
        return r;
    }
    if (is_stack) cli_print_stack(*out);
    return EXIT_OK;
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int64_t cli_peak_rss(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (int64_t)ru.ru_maxrss * 1024; /* Linux reports KiB */
}

const char *cli_bytes(int64_t n, char *buf, size_t cap) {
    if (n >= (1 << 30)) snprintf(buf, cap, "%.2f GiB", (double)n / (1 << 30));
    else if (n >= (1 << 20)) snprintf(buf, cap, "%.2f MiB", (double)n / (1 << 20));
    else if (n >= 1024) snprintf(buf, cap, "%.1f KiB", (double)n / 1024);
    else snprintf(buf, cap, "%lld B", (long long)n);
    return buf;
}

void cli_progress(const char *label, uint64_t done, uint64_t total) {
    if (!isatty(2) || total == 0) return;
    int width = 30, fill = (int)((double)done / (double)total * width);
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\r%-12s [%s] %5.1f%%", label, bar, 100.0 * (double)done / (double)total);
    if (done >= total) fputc('\n', stderr);
    fflush(stderr);
}

void cli_write_piece(FILE *f, const char *b, size_t len) {
    if (len == 1 && (unsigned char)b[0] < 0x20 && !strchr("\n\t\r", b[0])) return;
    fwrite(b, 1, len, f);
}

int cli_generate(bs_model *m, bs_session *s, bs_sampler *sm, const int32_t *prompt, int32_t n,
                 int32_t max_new, FILE *out, cli_gen_stats *st, cli_token_fn on_token, void *ctx) {
    const float *logits = NULL;
    double t0 = cli_now();
    bs_status e = bs_session_eval(s, prompt, n, &logits);
    if (e != BS_OK) return cli_fail(e, "prompt evaluation");
    st->prefill_s += cli_now() - t0;
    st->n_prompt += n;
    int32_t prev = prompt[n - 1];
    t0 = cli_now();
    for (int32_t i = 0; i < max_new; i++) {
        int32_t next = bs_sampler_sample(sm, logits);
        if (bs_token_is_eog(m, next)) break;
        char piece[256];
        size_t len = 0;
        piece[0] = '\0';
        if (bs_detokenize(m, prev, next, piece, sizeof piece, &len) == BS_OK) {
            cli_write_piece(out, piece, len);
            fflush(out);
        }
        if (on_token) on_token(ctx, next, piece, len);
        st->n_gen++;
        prev = next;
        if (i + 1 == max_new) break;          /* no need to run the last token */
        e = bs_session_eval(s, &next, 1, &logits);
        if (e == BS_ERR_RANGE) break;          /* context full: stop cleanly */
        if (e != BS_OK) return cli_fail(e, "decode");
    }
    st->decode_s += cli_now() - t0;
    return EXIT_OK;
}

void cli_print_speed(const cli_gen_stats *st, const bs_model *m, const bs_session *s) {
    bs_model_info info;
    bs_model_get_info(m, &info);
    char a[32], b[32], c[32];
    fprintf(stderr, "prefill: %d tokens, %.1f tok/s | decode: %d tokens, %.1f tok/s\n", st->n_prompt,
            st->prefill_s > 0 ? st->n_prompt / st->prefill_s : 0.0, st->n_gen,
            st->decode_s > 0 ? st->n_gen / st->decode_s : 0.0);
    fprintf(stderr, "memory: weights %s + session (KV cache, scratch) %s; peak RSS %s\n",
            cli_bytes(info.weight_bytes, a, sizeof a), cli_bytes(bs_session_bytes(s), b, sizeof b),
            cli_bytes(cli_peak_rss(), c, sizeof c));
}

/* Reads and tokenizes the whole file; *ids is malloc'd. */
int cli_read_text(const char *path, char **out, size_t *out_len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bitstack: cannot open text file %s\n", path);
        return EXIT_FAIL;
    }
    size_t cap = 1 << 20, len = 0, got;
    char *text = malloc(cap);
    while (text && (got = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len == cap - 1) {
            char *bigger = realloc(text, cap *= 2);
            if (!bigger) free(text);
            text = bigger;
        }
    }
    int read_error = ferror(f) ? errno : 0; /* a directory opens, then fails to read */
    fclose(f);
    if (read_error) {
        free(text);
        fprintf(stderr, "bitstack: cannot read text file %s: %s\n", path, strerror(read_error));
        return EXIT_FAIL;
    }
    if (!text) return cli_fail(BS_ERR_NOMEM, "reading the text");
    text[len] = '\0';
    *out = text;
    *out_len = len;
    return EXIT_OK;
}

int cli_tokenize_file(bs_model *m, const char *path, int32_t **ids, int32_t *n) {
    char *text = NULL;
    size_t len = 0;
    int r = cli_read_text(path, &text, &len);
    if (r != EXIT_OK) return r;
    /* at most one token per byte, plus BOS and a dummy-prefix space */
    int32_t max_tokens = len + 2 > INT32_MAX ? INT32_MAX : (int32_t)(len + 2);
    *ids = malloc((size_t)max_tokens * sizeof **ids);
    bs_status st = *ids ? bs_tokenize(m, text, len, BS_TOKENIZE_BOS, *ids, max_tokens, n) : BS_ERR_NOMEM;
    free(text);
    if (st != BS_OK) return cli_fail(st, "tokenize");
    return EXIT_OK;
}


int cli_eval_windows(bs_model *m, const int32_t *ids, int32_t windows, int32_t ctx, int32_t batch,
                     int32_t threads, int exact, double *mean_nll) {
    bs_session *s = NULL;
    bs_session_options so = {.ctx = ctx, .max_batch = batch, .n_threads = threads, .exact = exact};
    bs_status st = bs_session_create(m, &so, &s);
    if (st != BS_OK) return cli_fail(st, "session");
    double sum_mean = 0.0;
    for (int32_t w = 0; w < windows; w++) {
        double nll = 0.0;
        bs_session_reset(s);
        if ((st = bs_session_eval_nll(s, ids + (size_t)w * ctx, ctx, &nll)) != BS_OK) {
            bs_session_free(s);
            return cli_fail(st, "evaluation");
        }
        sum_mean += nll / (ctx - 1);
        cli_progress("perplexity", (uint64_t)w + 1, (uint64_t)windows);
    }
    bs_session_free(s);
    *mean_nll = sum_mean / windows;
    return EXIT_OK;
}

int cli_open_generation(bs_model *m, const cli_gen_opts *g, bs_session **s, bs_sampler **sm) {
    bs_model_info info;
    bs_model_get_info(m, &info);
    bs_sampler_params sp = {g->temperature, g->top_k, g->top_p, g->seed};
    bs_session_options so = {.ctx = g->ctx, .n_threads = g->threads, .exact = g->exact};
    bs_status st = bs_session_create(m, &so, s);
    if (st == BS_OK) st = bs_sampler_create(&sp, info.vocab_size, sm);
    return st == BS_OK ? EXIT_OK : cli_fail(st, "setup");
}
