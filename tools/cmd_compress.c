/* cmd_compress.c - `bitstack compress`: a float model in, a .bstk out. */
#include "cli.h"
#include "compress.h"

#include <stdlib.h>
#include <string.h>

static void on_progress(void *ctx, const char *stage, uint64_t done, uint64_t total) {
    (void)ctx;
    cli_progress(stage, done, total);
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int cmd_compress(int argc, char **argv) {
    bs_compress_params p = bs_compress_default_params();
    const char *tokenizer = NULL, *calib = NULL, *sort = "auto", *method = "planes", *scaling = NULL, *order = "byte", *embeddings = NULL, *rotate = "auto",
               *template_path = NULL;
    int32_t blocks = 0;
    float scaling_power = 1.0f, outlier_ratio = 4.0f;
    const arg_opt opts[] = {
        {"calib", ARG_STR, &calib, "TEXT", "calibration text file (required; keep it apart from evaluation text)", 0, 0},
        {"method", ARG_STR, &method, "M", "block type: planes (bit planes) or avd (the paper's) (default planes)", 0, 0},
        {"rank", ARG_INT, &p.rank, "K", "AVD rank; 0 = from each matrix's shape (default 0)", 0, 4096},
        {"blocks", ARG_INT, &blocks, "N", "blocks per matrix (default 16 for avd, 8 for planes)", 1, 64},
        {"group", ARG_INT, &p.group, "G", "planes: weights per scale; 0 = auto: 32 with 8-bit scales, else 64 (default 0)", 0, 65536},
        {"scale-bits", ARG_INT, &p.scale_bits, "B", "planes: bits per stored scale: 16 (binary16 per group) or 8 (an 8-bit code per group against a binary16 per row); 0 = auto: 8 for matrices of 256 or more columns, else 16 (default 0)", 0, 16},
        {"scaling", ARG_STR, &scaling, "on|off", "fold activation-aware scales (default on for avd, off for planes)", 0, 0},
        {"outliers", ARG_INT, &p.outliers, "N", "planes: keep at most N input channels per matrix apart in binary16, those whose calibration RMS exceeds --outlier-ratio x the median channel's; 0 = none (default 8)", 0, 4096},
        {"outlier-ratio", ARG_FLOAT, &outlier_ratio, "R", "see --outliers (default 4)", 1, 1e6},
        {"rotate", ARG_STR, &rotate, "auto|on|off", "planes: rotate each matrix's inputs (random sign flips, then Walsh-Hadamard blocks of the largest power of two dividing the width), which spreads outlying weights and activations; on: every matrix, with the best of --rotate-draws sign draws; auto: matrices of 256 columns or more, each with that or no rotation, whichever has the lower activation-weighted error at 2-5 planes (default auto)", 0, 0},
        {"rotate-draws", ARG_INT, &p.rotate_draws, "N", "planes: sign draws tried per rotated matrix (default 3)", 1, 64},
        {"scaling-power", ARG_FLOAT, &scaling_power, "A", "with --scaling on: fold s^A instead of the paper's s (default 1)", 0, 4},
        {"embeddings", ARG_STR, &embeddings, "planes|f16", "token table (and untied output): stacked with the method's blocks, or resident binary16 (default planes for planes, f16 for avd)", 0, 0},
        {"sort", ARG_STR, &sort, "exact|fast|none", "gains measured at every level, or one level per matrix and predicted, or not measured (level by level, model order: for quick trials); auto = exact below 10M weights (default auto)", 0, 0},
        {"order", ARG_STR, &order, "byte|level", "stack by gain per byte, or the paper's level by level (default byte)", 0, 0},
        {"calib-windows", ARG_INT, &p.calib_windows, "W", "windows for activation statistics (default 16)", 1, 1 << 20},
        {"sort-windows", ARG_INT, &p.sort_windows, "W", "further windows for ranking the blocks (default 8)", 1, 1 << 20},
        {"min-level", ARG_INT, &p.min_level, "L", "byte order: every matrix gets L blocks, level by level, before any gets more (default 2: no matrix stays at one block once another has three)", 1, 64},
        {"probe-level", ARG_INT, &p.probe_level, "L", "--sort fast, byte order: each matrix's gains are calibrated by lowering it to L blocks (default 1)", 1, 12},
        {"curve-windows", ARG_INT, &p.curve_windows, "W", "further windows for the stored perplexity curve (default 4)", 1, 1 << 20},
        {"calib-ctx", ARG_INT, &p.ctx, "L", "tokens per window (default 256)", 2, 1 << 20},
        {"threads", ARG_INT, &p.threads, "N", "threads (default 2)", 1, 64},
        {"seed", ARG_U64, &p.seed, "S", "seed of the randomized SVD (default 1)", 0, 0},
        {"tokenizer", ARG_STR, &tokenizer, "FILE", "llama2.c tokenizer.bin (for .bin checkpoints)", 0, 0},
        {"chat-template", ARG_STR, &template_path, "FILE", "a Jinja chat template to store instead of the source model's (default: the source's, if any)", 0, 0},
    };
    const arg_spec spec = {
        "bitstack compress INPUT OUTPUT.bstk --calib TEXT [options]",
        "Compresses a float model (llama2.c .bin, GGUF, Hugging Face directory) into a .bstk whose every\n"
        "prefix is a model. The output is written to a temporary file and renamed; the same input and\n"
        "options give the same bytes.",
        opts, (int)(sizeof opts / sizeof opts[0]), 2, 2,
        "example:\n  bitstack compress stories260K.bin s.bstk --tokenizer tok512.bin --calib train.txt"};
    char *pos[2];
    int n_pos, r = cli_args_exit(args_parse(&spec, argc, argv, pos, &n_pos));
    if (r >= 0) return r;
    if (!calib) {
        fprintf(stderr, "bitstack: compress needs --calib TEXT\n");
        return EXIT_USAGE;
    }
    if (p.scale_bits != 0 && p.scale_bits != 8 && p.scale_bits != 16)
        return fprintf(stderr, "bitstack: --scale-bits %d: expects 0, 8 or 16\n", p.scale_bits), EXIT_USAGE;
    if (strcmp(method, "avd") == 0) p.method = BS_METHOD_AVD;
    else if (strcmp(method, "planes") == 0) p.method = BS_METHOD_PLANES;
    else return fprintf(stderr, "bitstack: --method %s: expects avd or planes\n", method), EXIT_USAGE;
    int sort_auto = strcmp(sort, "auto") == 0;
    if (strcmp(sort, "exact") == 0) p.sort = BS_SORT_EXACT;
    else if (strcmp(sort, "fast") == 0) p.sort = BS_SORT_FAST;
    else if (strcmp(sort, "none") == 0) p.sort = BS_SORT_NONE;
    else if (!sort_auto) return fprintf(stderr, "bitstack: --sort %s: expects exact, fast, none or auto\n", sort), EXIT_USAGE;
    if (strcmp(order, "byte") == 0) p.order = BS_ORDER_BYTE;
    else if (strcmp(order, "level") == 0) p.order = BS_ORDER_LEVEL;
    else return fprintf(stderr, "bitstack: --order %s: expects byte or level\n", order), EXIT_USAGE;
    p.scaling = p.method == BS_METHOD_AVD;
    if (scaling && strcmp(scaling, "on") == 0) p.scaling = 1;
    else if (scaling && strcmp(scaling, "off") == 0) p.scaling = 0;
    else if (scaling) return fprintf(stderr, "bitstack: --scaling %s: expects on or off\n", scaling), EXIT_USAGE;
    if (strcmp(rotate, "on") == 0) p.rotate = BS_ROTATE_ON;
    else if (strcmp(rotate, "off") == 0) p.rotate = BS_ROTATE_OFF;
    else if (strcmp(rotate, "auto") == 0) p.rotate = BS_ROTATE_AUTO;
    else return fprintf(stderr, "bitstack: --rotate %s: expects auto, on or off\n", rotate), EXIT_USAGE;
    p.scaling_power = scaling_power;
    p.outlier_ratio = outlier_ratio;
    p.stack_embeddings = p.method == BS_METHOD_PLANES;
    if (embeddings && strcmp(embeddings, "planes") == 0) p.stack_embeddings = 1;
    else if (embeddings && strcmp(embeddings, "f16") == 0) p.stack_embeddings = 0;
    else if (embeddings) return fprintf(stderr, "bitstack: --embeddings %s: expects planes or f16\n", embeddings), EXIT_USAGE;
    if (p.stack_embeddings && p.method != BS_METHOD_PLANES)
        return fprintf(stderr, "bitstack: --embeddings planes needs --method planes\n"), EXIT_USAGE;
    p.blocks = blocks ? blocks : p.method == BS_METHOD_AVD ? 16 : 8;
    if (p.method == BS_METHOD_PLANES && p.blocks > 12)
        return fprintf(stderr, "bitstack: --blocks %d: planes allow at most 12\n", p.blocks), EXIT_USAGE;
    p.calib_name = base_name(calib);
    p.source_name = base_name(pos[0]);
    p.progress = on_progress;

    bs_model *m = NULL;
    if ((r = cli_load_model(pos[0], tokenizer, NULL, &m)) != EXIT_OK) return r;
    int32_t *ids = NULL, n = 0;
    double t0 = cli_now();
    bs_compress_report rep;
    bs_model_info info;
    bs_model_get_info(m, &info);
    if (p.ctx > info.seq_len) { /* a flag out of range for this model: usage */
        fprintf(stderr, "bitstack: --calib-ctx %d exceeds the model's context of %d tokens\n", p.ctx, info.seq_len);
        r = EXIT_USAGE;
        goto done;
    }
    if (template_path) {
        char *tpl = NULL;
        size_t tpl_len = 0;
        if ((r = cli_read_text(template_path, &tpl, &tpl_len)) != EXIT_OK) goto done;
        free(m->chat_template);
        m->chat_template = tpl;
    }
    if ((r = cli_tokenize_file(m, calib, &ids, &n)) != EXIT_OK) goto done;
    if (sort_auto) /* exact costs (levels - 1) x matrices evaluations */
        p.sort = info.n_params < 10000000 ? BS_SORT_EXACT : BS_SORT_FAST;
    bs_status st = bs_compress(m, ids, n, &p, pos[1], &rep);
    if (st != BS_OK) {
        r = cli_fail(st, "compress");
        goto done;
    }
    char a[32], b[32];
    fprintf(stderr, "compressed %d matrices into %d stacked blocks in %.1f s (statistics %.1f, decompose %.1f, sort %.1f, curve %.1f)\n",
            rep.n_matrices, rep.n_blocks, cli_now() - t0, rep.seconds_stats, rep.seconds_decompose, rep.seconds_sort,
            rep.seconds_curve);
    fprintf(stderr, "resident %s, full %s; float ppl %.4f on the held-out windows\n",
            cli_bytes(rep.resident_bytes, a, sizeof a), cli_bytes(rep.full_bytes, b, sizeof b), rep.float_ppl);
    for (int i = 0; i < rep.n_curve; i++)
        fprintf(stderr, "  %6llu blocks %12llu bytes  ppl %.4f\n", (unsigned long long)rep.curve_blocks[i],
                (unsigned long long)rep.curve_bytes[i], (double)rep.curve_ppl[i]);
done:
    free(ids);
    bs_model_free(m);
    return r;
}
