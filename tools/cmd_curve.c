/* cmd_curve.c - `bitstack curve`: measured perplexity against size for one
 * or more .bstk files, next to round-to-nearest (RTN) group quantization of
 * the same source model at the same byte counts, as a CSV and an SVG plot.
 *
 * Bytes are counted alike for every method: the compressed matrices' bytes
 * plus the tensors every method keeps as they are (fp16 token table and
 * output, f32 norms). bpw is bits per weight of the compressed matrices. */
#include "cli.h"
#include "decompose.h"
#include "model.h"
#include "plot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_POINTS 96
#define MAX_FILES 6

typedef struct {
    char name[160];
    int lines;
    int n;
    double bpw[MAX_POINTS], bytes[MAX_POINTS], ppl[MAX_POINTS];
    int32_t blocks[MAX_POINTS];
} series;

typedef struct {
    const int32_t *ids;
    int32_t windows, ctx, batch, threads;
} eval_set;

static int eval_ppl(bs_model *m, const eval_set *e, double *ppl) {
    double nll = 0.0;
    int r = cli_eval_windows(m, e->ids, e->windows, e->ctx, e->batch, e->threads, 0, &nll);
    *ppl = exp(nll);
    return r;
}

/* The float model's matrices a stack compresses: the 7 linear maps of
   every layer, and the token table / untied output when the stack holds
   them as blocks too. */
static int32_t rtn_targets(bs_model *m, int tables, bs_linear **out) {
    int32_t n = 0;
    for (int li = 0; li < m->cfg.n_layers; li++)
        for (int k = 0; k < 7; k++) out[n++] = bs_layer_linear(&m->layers[li], k);
    if (tables) out[n++] = &m->embed;
    if (tables && !m->cfg.tied) out[n++] = &m->lm_head;
    return n;
}

/* Whether `src` is the float model `stack` was compressed from, as far as
   RTN needs: the same vocabulary (the evaluation text is tokenized by the
   stack) and, matrix by matrix, the same shapes in f32. A mismatch would
   overrun the buffer sized from the stack's weights, and a .bstk given as
   the source has no f32 weights at all (both crashed before this check). */
static int source_matches(bs_model *stack, bs_model *src, int tables, const char *source) {
    if (src->cfg.vocab_size != stack->cfg.vocab_size || src->cfg.n_layers != stack->cfg.n_layers) {
        fprintf(stderr, "bitstack: --source %s does not match the stack: %d layers, vocabulary %d "
                "(the stack: %d layers, vocabulary %d)\n", source, src->cfg.n_layers, src->cfg.vocab_size,
                stack->cfg.n_layers, stack->cfg.vocab_size);
        return EXIT_FAIL;
    }
    bs_linear **a = malloc(sizeof *a * (size_t)(7 * stack->cfg.n_layers + 2));
    bs_linear **b = malloc(sizeof *b * (size_t)(7 * stack->cfg.n_layers + 2));
    int r = (a && b) ? EXIT_OK : cli_fail(BS_ERR_NOMEM, "RTN");
    int32_t n = r == EXIT_OK ? rtn_targets(stack, tables, a) : 0;
    if (r == EXIT_OK && rtn_targets(src, tables, b) != n) r = EXIT_FAIL;
    for (int32_t i = 0; r == EXIT_OK && i < n; i++) {
        if (b[i]->kind != BS_LIN_F32 || !b[i]->w) {
            fprintf(stderr, "bitstack: --source %s: matrix %d is not f32 (give the float model, not a .bstk)\n", source, i);
            r = EXIT_FAIL;
        } else if (a[i]->rows != b[i]->rows || a[i]->cols != b[i]->cols) {
            fprintf(stderr, "bitstack: --source %s does not match the stack: matrix %d is %dx%d, the stack's %dx%d\n",
                    source, i, b[i]->rows, b[i]->cols, a[i]->rows, a[i]->cols);
            r = EXIT_FAIL;
        }
    }
    free(a);
    free(b);
    return r;
}

/* RTN of those matrices at (bits, group, asym), evaluated, then the
   weights restored from `saved`. */
static int rtn_point(bs_model *m, int tables, float *saved, int bits, int group, int asym, const eval_set *e,
                     double *ppl) {
    bs_linear **targets = malloc(sizeof *targets * (size_t)(7 * m->cfg.n_layers + 2));
    if (!targets) return cli_fail(BS_ERR_NOMEM, "RTN");
    int32_t n = rtn_targets(m, tables, targets);
    size_t off = 0;
    for (int32_t i = 0; i < n; i++) {
        bs_linear *l = targets[i];
        size_t k = (size_t)l->rows * l->cols;
        memcpy(saved + off, l->w, k * sizeof(float));
        bs_rtn_quantize(l->w, l->rows, l->cols, bits, BS_MIN(group, l->cols), asym);
        off += k;
    }
    int r = eval_ppl(m, e, ppl);
    off = 0;
    for (int32_t i = 0; i < n; i++) {
        bs_linear *l = targets[i];
        size_t k = (size_t)l->rows * l->cols;
        memcpy(l->w, saved + off, k * sizeof(float));
        off += k;
    }
    free(targets);
    return r;
}

static void add_point(series *s, int32_t blocks, double bytes, double bpw, double ppl) {
    if (s->n >= MAX_POINTS) return;
    s->blocks[s->n] = blocks;
    s->bytes[s->n] = bytes;
    s->bpw[s->n] = bpw;
    s->ppl[s->n] = ppl;
    s->n++;
}

/* The stack at every budget of `budgets` (sorted), skipping repeats. */
static int stack_curve(bs_model *m, const double *budgets, int n_budgets, const eval_set *e, series *s) {
    int32_t last = -1;
    for (int i = 0; i < n_budgets; i++) {
        int32_t nb = bs_model_blocks_for_budget(m, (int64_t)budgets[i]);
        if (nb < 0 || nb == last) continue;
        last = nb;
        bs_status st = bs_model_set_blocks(m, nb);
        if (st != BS_OK) return cli_fail(st, "loading blocks");
        bs_stack_info si;
        bs_model_stack_info(m, &si);
        double ppl;
        int r = eval_ppl(m, e, &ppl);
        if (r != EXIT_OK) return r;
        add_point(s, nb, (double)si.loaded_bytes, 8.0 * (double)si.stacked_bytes / (double)si.stacked_params, ppl);
        fprintf(stderr, "  %-24s %6d blocks %10.0f bytes %6.3f bpw  ppl %.4f\n", s->name, nb, s->bytes[s->n - 1],
                s->bpw[s->n - 1], ppl);
    }
    return EXIT_OK;
}

/* "32,64" -> {32, 64}; 0 on a malformed list. */
static int parse_groups(const char *s, int *out) {
    int n = 0;
    while (*s && n < 3) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || (v != 32 && v != 64 && v != 128)) return 0;
        out[n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return 0;
    }
    return *s ? 0 : n;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void write_csv(FILE *f, const series *s, int n, double float_ppl) {
    fprintf(f, "method,blocks,bytes,bpw,ppl\n");
    if (float_ppl > 0) fprintf(f, "float,,,,%.6f\n", float_ppl);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < s[i].n; k++)
            fprintf(f, "%s,%d,%.0f,%.4f,%.6f\n", s[i].name, s[i].blocks[k], s[i].bytes[k], s[i].bpw[k], s[i].ppl[k]);
}

/* ppl of a stack series at the largest point with bytes <= b (-1: none). */
static double at_bytes(const series *s, double b) {
    double best = -1.0, best_bytes = -1.0;
    for (int k = 0; k < s->n; k++)
        if (s->bytes[k] <= b && s->bytes[k] > best_bytes) best = s->ppl[k], best_bytes = s->bytes[k];
    return best;
}

int cmd_curve(int argc, char **argv) {
    const char *text = NULL, *out = NULL, *source = NULL, *tokenizer = NULL;
    int32_t ctx = 0, max_windows = 32, points = 12, batch = 0, no_rtn = 0, threads = 1;
    float max_bpw = 10.0f;
    const char *rtn_groups = "32,64,128";
    const arg_opt opts[] = {
        {"text", ARG_STR, &text, "FILE", "evaluation text (required; not the calibration text)", 0, 0},
        {"out", ARG_STR, &out, "PREFIX", "writes PREFIX.csv and PREFIX.svg (required)", 0, 0},
        {"source", ARG_STR, &source, "MODEL", "the float model compressed: adds its line and RTN baselines", 0, 0},
        {"tokenizer", ARG_STR, &tokenizer, "FILE", "llama2.c tokenizer.bin of the source model", 0, 0},
        {"ctx", ARG_INT, &ctx, "N", "window length (default: the model's context)", 2, 1 << 24},
        {"max-windows", ARG_INT, &max_windows, "W", "windows scored per point (default 32; 0 = all)", 0, 1e9},
        {"points", ARG_INT, &points, "N", "evenly spaced sizes per file (default 12)", 2, 64},
        {"batch", ARG_INT, &batch, "B", "tokens per forward pass (default 64)", 1, 4096},
        {"threads", ARG_INT, &threads, "N", "threads for the forward pass, same results for any N (default 1)", 1, 256},
        {"no-rtn", ARG_FLAG, &no_rtn, NULL, "skip the RTN baselines", 0, 0},
        {"rtn-groups", ARG_STR, &rtn_groups, "LIST", "RTN group sizes (default 32,64,128)", 0, 0},
        {"max-bpw", ARG_FLOAT, &max_bpw, "X", "plot up to X bits per weight (the CSV has every point; default 10)", 0.5, 1000},
    };
    const arg_spec spec = {
        "bitstack curve FILE.bstk [FILE.bstk ...] --text TEXT --out PREFIX [--source MODEL] [options]",
        "Measures perplexity against size along each file's stack, and, with --source, the float model and\n"
        "round-to-nearest group quantization (2 to 5 bits; groups 32/64/128; symmetric and asymmetric, fp16\n"
        "scales) of the same matrices, each stack also measured at every RTN size. Writes a CSV and an SVG.",
        opts, (int)(sizeof opts / sizeof opts[0]), 1, MAX_FILES, NULL};
    char *pos[MAX_FILES];
    int n_pos, r = cli_args_exit(args_parse(&spec, argc, argv, pos, &n_pos));
    if (r >= 0) return r;
    if (!text || !out) {
        fprintf(stderr, "bitstack: curve needs --text FILE and --out PREFIX\n");
        return EXIT_USAGE;
    }
    static series sets[MAX_FILES + 12];
    int n_sets = 0;
    bs_model *m = NULL, *src = NULL;
    int32_t *ids = NULL, n = 0;
    float *saved = NULL;
    double float_ppl = -1.0, rtn_bytes[24];
    int n_rtn = 0;
    bs_stack_info si0;
    bs_load_options ro = {NULL, 0, 1};
    bs_status st = bs_model_load(pos[0], &ro, &m);
    if (st != BS_OK) return cli_fail(st, "cannot load the model");
    if (bs_model_stack_info(m, &si0) != BS_OK) {
        fprintf(stderr, "bitstack: %s is not a .bstk file\n", pos[0]);
        r = EXIT_FAIL;
        goto done;
    }
    bs_model_info info;
    bs_model_get_info(m, &info);
    if ((r = cli_tokenize_file(m, text, &ids, &n)) != EXIT_OK) goto done;
    if (ctx == 0) ctx = info.seq_len;
    eval_set e = {ids, n / ctx, ctx, batch, threads};
    if (max_windows > 0 && e.windows > max_windows) e.windows = max_windows;
    if (e.windows < 1) {
        fprintf(stderr, "bitstack: %s has %d tokens, fewer than one window of %d\n", text, n, ctx);
        r = EXIT_FAIL;
        goto done;
    }
    double plain = (double)(si0.resident_bytes - si0.stacked_bytes), params = (double)si0.stacked_params;
    int tables = m->embed.kind == BS_LIN_PLANES || m->embed.kind == BS_LIN_AVD; /* RTN them too */
    if (source && !no_rtn) {
        if ((r = cli_load_model(source, tokenizer, NULL, &src)) != EXIT_OK) goto done;
        if ((r = source_matches(m, src, tables, source)) != EXIT_OK) goto done;
        if ((r = eval_ppl(src, &e, &float_ppl)) != EXIT_OK) goto done;
        fprintf(stderr, "  float                    ppl %.4f\n", float_ppl);
        saved = malloc((size_t)params * sizeof(float));
        if (!saved) {
            r = cli_fail(BS_ERR_NOMEM, "RTN");
            goto done;
        }
        int groups[3], n_groups = parse_groups(rtn_groups, groups);
        if (n_groups == 0) {
            fprintf(stderr, "bitstack: --rtn-groups %s: expects up to 3 of 32,64,128 (e.g. 32,64)\n", rtn_groups);
            r = EXIT_USAGE;
            goto done;
        }
        for (int asym = 0; asym < 2; asym++)
            for (int g = 0; g < n_groups; g++) {
                series *s = &sets[n_sets++];
                snprintf(s->name, sizeof s->name, "RTN %s g%d", asym ? "asym" : "sym", groups[g]);
                for (int bits = 2; bits <= 5; bits++) {
                    double ppl = 0.0, bpw = bs_rtn_bpw(bits, groups[g], asym);
                    if ((r = rtn_point(src, tables, saved, bits, groups[g], asym, &e, &ppl)) != EXIT_OK) goto done;
                    add_point(s, 0, plain + params * bpw / 8.0, bpw, ppl);
                    rtn_bytes[n_rtn++] = plain + params * bpw / 8.0;
                    fprintf(stderr, "  %-24s %d bits %6.3f bpw  ppl %.4f\n", s->name, bits, bpw, ppl);
                }
            }
    }
    for (int f = 0; f < n_pos; f++) {
        if (f > 0) {
            bs_model_free(m);
            m = NULL;
            if ((st = bs_model_load(pos[f], &ro, &m)) != BS_OK) {
                r = cli_fail(st, "cannot load the model");
                goto done;
            }
        }
        bs_stack_info si;
        if (bs_model_stack_info(m, &si) != BS_OK) {
            fprintf(stderr, "bitstack: %s is not a .bstk file\n", pos[f]);
            r = EXIT_FAIL;
            goto done;
        }
        double budgets[MAX_POINTS];
        int nb = 0;
        for (int i = 0; i < points; i++)
            budgets[nb++] = (double)si.resident_bytes + (double)(si.full_bytes - si.resident_bytes) * i / (points - 1);
        for (int i = 0; i < n_rtn && nb < MAX_POINTS; i++) budgets[nb++] = rtn_bytes[i];
        qsort(budgets, (size_t)nb, sizeof budgets[0], cmp_double);
        series *s = &sets[n_sets++];
        const char *slash = strrchr(pos[f], '/');
        snprintf(s->name, sizeof s->name, "%s", slash ? slash + 1 : pos[f]);
        s->lines = 1;
        if ((r = stack_curve(m, budgets, nb, &e, s)) != EXIT_OK) goto done;
    }
    /* side by side at equal bytes */
    printf("%-16s %6s %9s", "RTN", "bpw", "ppl");
    for (int i = 0; i < n_sets; i++)
        if (sets[i].lines) printf("  %20.20s", sets[i].name);
    printf("\n");
    for (int i = 0; i < n_sets; i++) {
        if (sets[i].lines) continue;
        for (int k = 0; k < sets[i].n; k++) {
            printf("%-16s %6.3f %9.4f", sets[i].name, sets[i].bpw[k], sets[i].ppl[k]);
            for (int j = 0; j < n_sets; j++)
                if (sets[j].lines) printf("  %20.4f", at_bytes(&sets[j], sets[i].bytes[k]));
            printf("\n");
        }
    }
    if (float_ppl > 0) printf("float ppl %.4f (%d windows of %d tokens of %s)\n", float_ppl, e.windows, ctx, text);
    char path[1100];
    snprintf(path, sizeof path, "%s.csv", out);
    FILE *fc = fopen(path, "w");
    snprintf(path, sizeof path, "%s.svg", out);
    FILE *fs = fopen(path, "w");
    if (!fc || !fs) {
        fprintf(stderr, "bitstack: cannot write %s.csv / .svg\n", out);
        r = EXIT_FAIL;
    } else {
        write_csv(fc, sets, n_sets, float_ppl);
        static const char *colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
                                       "#17becf", "#e377c2", "#7f7f7f", "#bcbd22", "#393b79", "#637939"};
        plot_series ps[MAX_FILES + 12];
        for (int i = 0; i < n_sets; i++)
            ps[i] = (plot_series){sets[i].name, colors[i % 12], sets[i].lines, sets[i].n, sets[i].bpw, sets[i].ppl};
        double ymax = float_ppl > 0 ? float_ppl * 4 : 1e9;
        plot_svg(fs, "perplexity vs size", "bits per weight of the compressed matrices", "perplexity (log)", ps, n_sets,
                 float_ppl, "float", ymax, max_bpw);
        fprintf(stderr, "wrote %s.csv and %s.svg\n", out, out);
    }
    if (fc) fclose(fc);
    if (fs) fclose(fs);
done:
    free(saved);
    free(ids);
    bs_model_free(src);
    bs_model_free(m);
    return r;
}
