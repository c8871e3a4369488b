/* compress.c - the compressor's pipeline (see compress.h): matrices,
 * decomposition in parallel, reconstruction for evaluation, and the file. */
#include "compress_internal.h"

#include "bstk_write.h"
#include "decompose.h"
#include "half.h"
#include "linear.h"
#include "rotate.h"
#include "scales.h"
#include "validate.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bs_compress_params bs_compress_default_params(void) {
    bs_compress_params p;
    memset(&p, 0, sizeof p);
    p.method = BS_METHOD_PLANES;
    p.blocks = 8;
    p.group = 0;      /* auto: see init_matrix */
    p.scale_bits = 0; /* auto */
    p.scaling = 1;
    p.scaling_power = 1.0;
    p.outliers = 8;
    p.outlier_ratio = 4.0;
    p.rotate = BS_ROTATE_AUTO;
    p.rotate_draws = 3;
    p.sort = BS_SORT_EXACT;
    p.calib_windows = 16;
    p.sort_windows = 8;
    p.probe_level = 1;
    p.min_level = 2;
    p.curve_windows = 4;
    p.ctx = 256;
    p.threads = 2;
    p.seed = 1;
    p.stack_embeddings = 0;
    return p;
}

int32_t bs_auto_rank(int32_t rows, int32_t cols) {
    int64_t k = (int64_t)rows * cols / (128 * ((int64_t)rows + cols));
    return (int32_t)(k < 2 ? 2 : k > 16 ? 16 : k);
}

/* ---- matrices -------------------------------------------------------------- */

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The input channels a planes matrix keeps apart (outliers.c): the
   largest calibration RMS first, while above ratio x the median channel's,
   at most params.outliers; stored in increasing order. */
static bs_status select_outliers(cm_matrix *x, const bs_compress_params *p) {
    int32_t n = x->lin->cols, k_max = BS_MIN(p->outliers, n);
    if (x->kind != BS_LIN_PLANES || !x->act || k_max < 1) return BS_OK;
    float *sorted = bs_malloc((size_t)n, sizeof *sorted);
    x->out_idx = bs_malloc((size_t)k_max, sizeof *x->out_idx);
    if (!sorted || !x->out_idx) {
        free(sorted);
        return BS_ERR_NOMEM;
    }
    memcpy(sorted, x->act, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_float);
    double floor = p->outlier_ratio * sorted[n / 2];
    uint8_t *taken = bs_calloc((size_t)n, 1);
    for (int32_t k = 0; taken && k < k_max; k++) {
        int32_t best = -1;
        for (int32_t c = 0; c < n; c++) /* the first of equal values: deterministic */
            if (!taken[c] && x->act[c] > floor && (best < 0 || x->act[c] > x->act[best])) best = c;
        if (best < 0) break;
        taken[best] = 1;
        x->out_idx[x->n_out++] = (uint32_t)best;
    }
    qsort(x->out_idx, (size_t)x->n_out, sizeof *x->out_idx, cmp_u32);
    free(sorted);
    bs_status st = taken ? BS_OK : BS_ERR_NOMEM;
    free(taken);
    return st;
}

static bs_status init_matrix(cm_job *j, cm_matrix *x, bs_linear *lin, int32_t role, int32_t layer,
                             const float *act, uint64_t index) {
    const bs_compress_params *p = j->p;
    x->lin = lin;
    x->role = role;
    x->layer = layer;
    x->kind = p->method == BS_METHOD_AVD ? BS_LIN_AVD : BS_LIN_PLANES;
    x->rank = p->method != BS_METHOD_AVD ? 0
              : p->rank                  ? BS_MIN(p->rank, BS_MIN(lin->rows, lin->cols))
                                         : bs_auto_rank(lin->rows, lin->cols);
    /* planes, auto: 8-bit scale codes in groups of 32 cost what binary16
       scales in groups of 64 do once the per-row reference is amortized
       (cols >= 256), and measure better at every level there (docs/RESULTS.md);
       narrower matrices keep binary16 in groups of 64. */
    int32_t bits = p->scale_bits ? p->scale_bits : lin->cols >= 256 ? 8 : 16;
    int32_t group = p->group ? p->group : bits == 8 ? 32 : 64;
    x->group = p->method == BS_METHOD_PLANES ? BS_MIN(group, lin->cols) : 0;
    x->scale_code = p->method == BS_METHOD_PLANES && bits == 8 ? BSTK_SCALES_CODE8 : BSTK_SCALES_F16;
    /* auto rotates only matrices of 256 columns or more: on stories260K
       (64 and 172 columns) the activation-weighted error chose rotation for
       24 of 35 matrices, yet the exactly sorted stack read worse than
       unrotated from 3.5 bpw up (6.23 against 5.96 at 3.5, 4.01 against 3.94
       at 5.5; requiring a lower error at every level still rotated 22 and
       read 6.37); every SmolLM2 matrix (576 and 1536) gains at every size. */
    int rotate = p->rotate == BS_ROTATE_ON || (p->rotate == BS_ROTATE_AUTO && lin->cols >= 256);
    x->rot_log2 = p->method == BS_METHOD_PLANES && rotate ? bs_rotate_log2(lin->cols) : 0;
    x->n_levels = p->blocks;
    x->act = act;
    x->seed = p->seed * 0x9E3779B97F4A7C15ull + index * 0xD1B54A32D192ED03ull;
    x->payload = bs_calloc((size_t)x->n_levels, sizeof *x->payload);
    x->size = bs_calloc((size_t)x->n_levels, sizeof *x->size);
    x->err = bs_calloc((size_t)x->n_levels + 1, sizeof *x->err);
    if (!x->payload || !x->size || !x->err) return BS_ERR_NOMEM;
    return select_outliers(x, p);
}

/* The 7 linear maps of every layer, then, when stacked, the token table
   (which a tied model also uses as its output) and an untied output. */
static bs_status add_matrices(cm_job *j) {
    const bs_config *c = &j->m->cfg;
    int32_t n_tables = j->p->stack_embeddings ? (c->tied ? 1 : 2) : 0;
    j->n_mats = 7 * c->n_layers + n_tables;
    j->mats = bs_calloc((size_t)j->n_mats, sizeof *j->mats);
    if (!j->mats) return BS_ERR_NOMEM;
    static const int site_of[7] = {0, 0, 0, 1, 2, 2, 3}; /* q k v o gate up down */
    for (int32_t li = 0; li < c->n_layers; li++)
        for (int k = 0; k < 7; k++) {
            int site = site_of[k];
            size_t d = (size_t)j->stats.dims[site];
            const float *act = j->stats.rms[site] + li * d;
            BS_TRY(init_matrix(j, &j->mats[li * 7 + k], bs_layer_linear(&j->m->layers[li], k), BSTK_ROLE_Q + k, li,
                               act, (uint64_t)(li * 7 + k)));
        }
    int32_t i = 7 * c->n_layers;
    if (n_tables > 0) BS_TRY(init_matrix(j, &j->mats[i], &j->m->embed, BSTK_ROLE_TOKEN_EMBD, 0, NULL, (uint64_t)i));
    if (n_tables > 1) BS_TRY(init_matrix(j, &j->mats[i + 1], &j->m->lm_head, BSTK_ROLE_OUTPUT, 0, NULL, (uint64_t)i + 1));
    return BS_OK;
}

static void free_matrices(cm_job *j) {
    for (int32_t i = 0; j->mats && i < j->n_mats; i++) {
        for (int32_t b = 0; j->mats[i].payload && b < j->mats[i].n_levels; b++) free(j->mats[i].payload[b]);
        free(j->mats[i].payload);
        free(j->mats[i].size);
        free(j->mats[i].err);
        free(j->mats[i].out_idx);
        free(j->mats[i].scales);
    }
    free(j->mats);
}

/* The tensor-table fields of a planes matrix that fix its payload layout. */
static bstk_tensor planes_tensor(const cm_matrix *x) {
    bstk_tensor t = {0};
    t.kind = BS_LIN_PLANES, t.rows = (uint32_t)x->lin->rows, t.cols = (uint32_t)x->lin->cols;
    t.rank = x->scale_code, t.outliers = (uint32_t)x->n_out, t.rotation = (uint8_t)x->rot_log2;
    return t;
}

/* Bytes of a planes level-0 payload before its scales (FORMAT.md 5). */
static uint64_t planes_prefix_size(const cm_matrix *x) {
    bstk_tensor t = planes_tensor(x);
    return bstk_planes_prefix_size(&t);
}

/* Bytes of a planes level-0 payload before plane 0 (FORMAT.md 5). */
static uint64_t planes_head_size(const cm_matrix *x) {
    bstk_tensor t = planes_tensor(x);
    return bstk_planes_prefix_size(&t) + bstk_scales_size(&t, (uint64_t)bs_groups_per_row(x->lin->cols, x->group));
}

/* A view of matrix x's first `level` payloads as a runtime bs_linear;
   avd / planes: caller storage for up to 64 levels. */
static bs_linear view(const cm_matrix *x, int32_t level, bs_avd_block *avd, const uint8_t **planes) {
    const bs_linear *l = x->lin;
    bs_linear v = {l->rows, l->cols, x->kind, NULL, NULL, level, x->n_levels, x->rank, avd, x->group, NULL, planes,
                   0, NULL, NULL, 0, NULL, 0, NULL, NULL};
    for (int32_t b = 0; b < level; b++) {
        uint16_t *a16 = (uint16_t *)x->payload[b];
        avd[b].a = a16;
        avd[b].b = a16 + (size_t)l->rows * x->rank;
        avd[b].signs = x->payload[b] + 2ull * x->rank * ((uint64_t)l->rows + l->cols);
        planes[b] = x->payload[b];
    }
    if (x->kind == BS_LIN_PLANES) { /* level 0: channels kept apart, sign flips, scales, plane 0 */
        v.n_out = x->n_out;
        v.out_idx = (const uint32_t *)x->payload[0];
        v.out_val = (const uint16_t *)(v.out_idx + x->n_out);
        v.rot_log2 = x->rot_log2;
        v.rot_signs = (const uint8_t *)(v.out_val + (size_t)l->rows * x->n_out);
        v.scales = x->scales; /* as the runtime decodes them */
        planes[0] = x->payload[0] + planes_head_size(x);
    }
    return v;
}

/* Activation-weighted squared error of the runtime's reconstruction of the
   first `level` payloads against W (row holds one row). */
static double level_err(const cm_matrix *x, int32_t level, float *row) {
    bs_avd_block avd[64];
    const uint8_t *planes[64];
    bs_linear v = view(x, level, avd, planes);
    double e = 0.0;
    for (int32_t r = 0; r < v.rows; r++) {
        bs_linear_weights_row(&v, r, row);
        for (int32_t c = 0; c < v.cols; c++) {
            double d = ((double)x->lin->w[(size_t)r * v.cols + c] - row[c]) * (x->act ? x->act[c] : 1.0f);
            e += d * d;
        }
    }
    return e;
}

static uint8_t *alloc_level(cm_matrix *x, int32_t b, uint64_t size) {
    x->size[b] = size;
    return x->payload[b] = bs_calloc((size_t)size, 1);
}

/* AVD: niter steps on the f32 residual (BITSTACK.md 3). */
static bs_status decompose_avd(cm_matrix *x, float *R) {
    const bs_linear *l = x->lin;
    uint64_t ab = 2ull * x->rank * ((uint64_t)l->rows + l->cols), signs = (uint64_t)l->rows * bs_row_bytes(l->cols);
    memcpy(R, l->w, (size_t)l->rows * l->cols * sizeof(float));
    for (int32_t b = 0; b < x->n_levels; b++) {
        uint8_t *p = alloc_level(x, b, ab + signs);
        if (!p) return BS_ERR_NOMEM;
        uint16_t *a16 = (uint16_t *)p, *b16 = a16 + (size_t)l->rows * x->rank;
        BS_TRY(bs_avd_step(R, l->rows, l->cols, x->rank, x->seed + (uint64_t)b, p + ab, a16, b16));
    }
    return BS_OK;
}

/* The sign flips of a rotation, drawn from the matrix's seed (splitmix64:
   deterministic, and any draw serves; rotate.c measured three). */
static void draw_flips(uint64_t seed, int32_t cols, uint8_t *flips) {
    for (int32_t j = 0; j < cols; j++) {
        uint64_t z = (seed += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        if ((z ^ (z >> 31)) & 1) flips[j >> 3] |= (uint8_t)(0x80u >> (j & 7));
    }
}

/* R <- R (H D)^-1 row by row: each row w becomes H D w / 2^log2b, which
   the runtime's D H brings back (rotate.h); the division is exact. */
static void rotate_rows(float *R, int32_t rows, int32_t cols, int32_t log2b, const uint8_t *flips) {
    bs_rotate_input(R, cols, rows, log2b, flips);
    float inv = 1.0f / (float)(1 << log2b);
    for (size_t i = 0; i < (size_t)rows * cols; i++) R[i] *= inv;
}

/* Planes: the channels kept apart (binary16, then zero for the planes),
   the rotation of the rest, scales, then every plane decided exactly from
   what remains of W. */
static bs_status decompose_planes(cm_matrix *x, float *R) {
    const bs_linear *l = x->lin;
    uint64_t rows = (uint64_t)l->rows, k = (uint64_t)x->n_out, head = planes_head_size(x);
    uint64_t signs = rows * bs_row_bytes(l->cols);
    int32_t gpr = bs_groups_per_row(l->cols, x->group);
    uint8_t *planes[BS_PLANES_MAX];
    for (int32_t b = 0; b < x->n_levels; b++) {
        uint8_t *p = alloc_level(x, b, (b == 0 ? head : 0) + signs);
        if (!p) return BS_ERR_NOMEM;
        planes[b] = p + (b == 0 ? head : 0);
    }
    uint32_t *idx = (uint32_t *)x->payload[0];
    uint16_t *val = (uint16_t *)(idx + k), *stored = (uint16_t *)(x->payload[0] + planes_prefix_size(x));
    uint8_t *flips = (uint8_t *)(val + rows * k);
    if (!(x->scales = bs_malloc((size_t)rows * gpr, sizeof *x->scales))) return BS_ERR_NOMEM;
    memcpy(R, l->w, (size_t)rows * l->cols * sizeof(float));
    if (k) memcpy(idx, x->out_idx, (size_t)k * sizeof *idx); /* out_idx is NULL when k == 0 */
    for (uint64_t r = 0; r < rows; r++)
        for (uint64_t t = 0; t < k; t++) {
            float *w = R + r * l->cols + idx[t];
            val[r * k + t] = bs_f32_to_f16(*w);
            *w = 0.0f;
        }
    if (x->rot_log2 > 0) {
        draw_flips(x->rot_seed, l->cols, flips);
        rotate_rows(R, l->rows, l->cols, x->rot_log2, flips);
    }
    BS_TRY(bs_planes_scales(R, l->rows, l->cols, x->group, x->scales));
    if (x->scale_code == BSTK_SCALES_CODE8) /* codes; the planes follow the decoded scales */
        bs_scales_encode(x->scales, l->rows, gpr, stored, (uint8_t *)(stored + rows));
    else
        memcpy(stored, x->scales, (size_t)rows * gpr * sizeof *stored);
    return bs_planes_encode(R, l->rows, l->cols, x->group, x->scales, x->n_levels, planes, NULL);
}

/* One decomposition of x into its levels, with the error after each. */
static bs_status decompose_once(cm_matrix *x, float *R) {
    bs_status st = x->kind == BS_LIN_AVD ? decompose_avd(x, R) : decompose_planes(x, R);
    for (int32_t b = 0; b <= x->n_levels && st == BS_OK; b++) x->err[b] = level_err(x, b, R);
    return st;
}

/* How a decomposition scores when rotations compete: the mean log of the
   activation-weighted error after 2..5 levels, the sizes from 2.5 to 6
   bits per weight where budgets live (each level counts alike, not the
   first one's large error alone). */
static double rotation_score(const cm_matrix *x) {
    int32_t lo = BS_MIN(2, x->n_levels), hi = BS_MIN(5, x->n_levels);
    double s = 0.0;
    for (int32_t b = lo; b <= hi; b++) s += log(x->err[b] + 1e-300);
    return s / (hi - lo + 1);
}

static void release_levels(cm_matrix *x) {
    for (int32_t b = 0; b < x->n_levels; b++) free(x->payload[b]), x->payload[b] = NULL;
    free(x->scales);
    x->scales = NULL;
}

#define SWAP(T, a, b) do { T swap_tmp_ = (a); (a) = (b); (b) = swap_tmp_; } while (0)

/* Planes with rotation: the candidates (no rotation when params.rotate
   is auto, then each sign draw) are decomposed in turn and the one with
   the lowest rotation_score is kept. Why choose per matrix: the rotation
   measured better on every SmolLM2 matrix type but worse on stories260K's
   narrow ones (docs/notes-measurements.md), and sign draws differ by a few
   percent. */
static bs_status decompose_rotations(cm_job *j, cm_matrix *x, float *R) {
    const bs_compress_params *p = j->p;
    cm_matrix t = *x;
    t.payload = bs_calloc((size_t)x->n_levels, sizeof *t.payload);
    t.size = bs_calloc((size_t)x->n_levels, sizeof *t.size);
    t.err = bs_calloc((size_t)x->n_levels + 1, sizeof *t.err);
    bs_status st = t.payload && t.size && t.err ? BS_OK : BS_ERR_NOMEM;
    int32_t log2b = x->rot_log2, first = p->rotate == BS_ROTATE_AUTO ? -1 : 0;
    double best = INFINITY;
    for (int32_t draw = first; draw < p->rotate_draws && st == BS_OK; draw++) {
        t.rot_log2 = draw < 0 ? 0 : log2b;
        t.rot_seed = x->seed + (uint64_t)BS_MAX(draw, 0);
        st = decompose_once(&t, R);
        double score = st == BS_OK ? rotation_score(&t) : INFINITY;
        if (score < best) { /* keep t's levels in x, recycle x's */
            best = score;
            SWAP(uint8_t **, t.payload, x->payload);
            SWAP(uint64_t *, t.size, x->size);
            SWAP(double *, t.err, x->err);
            SWAP(uint16_t *, t.scales, x->scales);
            x->rot_log2 = t.rot_log2;
            x->rot_seed = t.rot_seed;
        }
        release_levels(&t);
    }
    free(t.payload);
    free(t.size);
    free(t.err);
    return st;
}

/* Decomposes one matrix into its levels (FORMAT.md payloads) and measures
   the error after each level for the fast sort. */
static bs_status decompose(cm_job *j, cm_matrix *x) {
    const bs_linear *l = x->lin;
    float *R = bs_malloc((size_t)l->rows * l->cols, sizeof(float));
    if (!R) return BS_ERR_NOMEM;
    bs_status st = x->rot_log2 > 0 ? decompose_rotations(j, x, R) : decompose_once(x, R);
    free(R);
    return st;
}

typedef struct {
    cm_job *j;
    int32_t n;
    bs_status (*fn)(cm_job *j, int32_t i);
    const char *stage;
    pthread_mutex_t lock;
    int32_t next, done;
    bs_status status;
    char message[512];     /* the failing thread's bs_last_error (thread-local) */
} parallel_work;

static void *parallel_worker(void *arg) {
    parallel_work *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        int32_t i = w->status == BS_OK ? w->next++ : w->n;
        pthread_mutex_unlock(&w->lock);
        if (i >= w->n) return NULL;
        bs_status st = w->fn(w->j, i);
        pthread_mutex_lock(&w->lock);
        if (st != BS_OK && w->status == BS_OK) {
            w->status = st;
            snprintf(w->message, sizeof w->message, "%s", bs_last_error());
        }
        w->done++;
        if (w->j->p->progress) w->j->p->progress(w->j->p->progress_ctx, w->stage, (uint64_t)w->done, (uint64_t)w->n);
        pthread_mutex_unlock(&w->lock);
    }
}

bs_status cm_parallel(cm_job *j, int32_t n, bs_status (*fn)(cm_job *j, int32_t i), const char *stage) {
    parallel_work w = {j, n, fn, stage, PTHREAD_MUTEX_INITIALIZER, 0, 0, BS_OK, ""};
    int32_t nt = BS_MAX(1, BS_MIN(j->p->threads, 64));
    pthread_t th[64];
    int32_t started = 0;
    for (int32_t t = 1; t < nt; t++)
        if (pthread_create(&th[started], NULL, parallel_worker, &w) == 0) started++;
    parallel_worker(&w);
    for (int32_t t = 0; t < started; t++) pthread_join(th[t], NULL);
    return w.status == BS_OK ? BS_OK : bs_fail(w.status, "%s", w.message);
}

static bs_status decompose_one(cm_job *j, int32_t i) { return decompose(j, &j->mats[i]); }

/* Matrices are independent, so the result does not depend on threads. */
static bs_status decompose_all(cm_job *j) { return cm_parallel(j, j->n_mats, decompose_one, "decompose"); }

/* ---- reconstruction and evaluation ----------------------------------------- */

void cm_reconstruct(cm_job *j, int32_t i, int32_t level) {
    cm_matrix *x = &j->mats[i];
    bs_avd_block avd[64];
    const uint8_t *planes[64];
    bs_linear v = view(x, level, avd, planes);
    for (int32_t r = 0; r < v.rows; r++) bs_linear_weights_row(&v, r, x->lin->w + (size_t)r * v.cols);
}

bs_status cm_eval(cm_job *j, double *nll) {
    double sum = 0.0;
    int32_t ctx = j->p->ctx;
    for (int32_t w = 0; w < j->eval_windows; w++) {
        double s = 0.0;
        bs_session_reset(j->sess);
        BS_TRY(bs_session_eval_nll(j->sess, j->eval_tokens + (size_t)w * ctx, ctx, &s));
        sum += s / (ctx - 1);
    }
    *nll = sum / j->eval_windows;
    return BS_OK;
}

/* ---- the file ----------------------------------------------------------------- */

/* Tensor table + payload list in file order; buffers it allocates go to
   owned[] for the caller to free. */
typedef struct {
    bstk_tensor *tensors;
    bstk_payload *payloads;
    uint32_t n_tensors, n_payloads, n_resident;
    void *owned[4];      /* converted f16 tables */
    int n_owned;
} file_plan;

static const void *own(file_plan *f, void *p) {
    if (p && f->n_owned < (int)(sizeof f->owned / sizeof f->owned[0])) f->owned[f->n_owned++] = p;
    return p;
}

static void plan_plain(file_plan *f, int role, int layer, const float *w, uint32_t rows, uint32_t cols, int f16) {
    uint32_t t = f->n_tensors++;
    f->tensors[t] = (bstk_tensor){(uint16_t)role, (uint16_t)layer, (uint8_t)(f16 ? BS_LIN_F16 : BS_LIN_F32),
                                  rows, cols, 0, 0, 1, 0, 0};
    const void *data = w;
    uint64_t size = (uint64_t)rows * cols * 4;
    if (f16) {
        uint16_t *h = malloc((size_t)rows * cols * 2 + 1);
        for (size_t i = 0; h && i < (size_t)rows * cols; i++) h[i] = bs_f32_to_f16(w[i]);
        data = own(f, h);
        size = (uint64_t)rows * cols * 2;
    }
    f->payloads[f->n_payloads++] = (bstk_payload){t, 0, data, size};
}

static void plan_stacked(file_plan *f, const cm_matrix *x, uint32_t *tensor_of_mat) {
    uint32_t t = f->n_tensors++;
    *tensor_of_mat = t;
    f->tensors[t] = (bstk_tensor){(uint16_t)x->role,      (uint16_t)x->layer,      (uint8_t)x->kind,
                                  (uint32_t)x->lin->rows, (uint32_t)x->lin->cols,
                                  x->kind == BS_LIN_PLANES ? x->scale_code : (uint32_t)x->rank,
                                  (uint32_t)x->group,     (uint32_t)x->n_levels,   (uint32_t)x->n_out,
                                  (uint8_t)x->rot_log2};
    f->payloads[f->n_payloads++] = (bstk_payload){t, 0, x->payload[0], x->size[0]};
}

static bs_status plan_file(cm_job *j, file_plan *f) {
    const bs_config *c = &j->m->cfg;
    uint32_t max_t = 3 + 9 * (uint32_t)c->n_layers;
    f->tensors = bs_calloc(max_t, sizeof *f->tensors);
    f->payloads = bs_calloc(max_t + (size_t)j->n_blocks, sizeof *f->payloads);
    uint32_t *tensor_of = bs_calloc((size_t)j->n_mats, sizeof *tensor_of);
    int32_t *next = bs_calloc((size_t)j->n_mats, sizeof *next);
    bs_status st = f->tensors && f->payloads && tensor_of && next ? BS_OK : BS_ERR_NOMEM;
    int32_t n_linear = 7 * c->n_layers;
    if (st == BS_OK) {
        if (j->n_mats > n_linear) plan_stacked(f, &j->mats[n_linear], &tensor_of[n_linear]);
        else plan_plain(f, BSTK_ROLE_TOKEN_EMBD, 0, j->m->tok_embd, (uint32_t)c->vocab_size, (uint32_t)c->dim, 1);
        if (j->n_mats > n_linear + 1) plan_stacked(f, &j->mats[n_linear + 1], &tensor_of[n_linear + 1]);
        else if (!c->tied)
            plan_plain(f, BSTK_ROLE_OUTPUT, 0, j->m->lm_head.w, (uint32_t)c->vocab_size, (uint32_t)c->dim, 1);
        plan_plain(f, BSTK_ROLE_OUTPUT_NORM, 0, j->m->out_norm, 1, (uint32_t)c->dim, 0);
        for (int32_t li = 0; li < c->n_layers; li++) {
            plan_plain(f, BSTK_ROLE_ATTN_NORM, li, j->m->layers[li].attn_norm, 1, (uint32_t)c->dim, 0);
            plan_plain(f, BSTK_ROLE_FFN_NORM, li, j->m->layers[li].ffn_norm, 1, (uint32_t)c->dim, 0);
            for (int k = 0; k < 7; k++) plan_stacked(f, &j->mats[li * 7 + k], &tensor_of[li * 7 + k]);
        }
        f->n_resident = f->n_payloads;
        for (int32_t i = 0; i < j->n_mats; i++) next[i] = 1;
        for (int32_t b = 0; b < j->n_blocks; b++) {
            int32_t i = j->order[b], level = next[i]++;
            f->payloads[f->n_payloads++] = (bstk_payload){tensor_of[i], (uint32_t)level, j->mats[i].payload[level],
                                                          j->mats[i].size[level]};
        }
        for (int i = 0; i < f->n_owned; i++)
            if (!f->owned[i]) st = BS_ERR_NOMEM;
    }
    free(next);
    free(tensor_of);
    return st;
}

static void plan_free(file_plan *f) {
    for (int i = 0; i < f->n_owned; i++) free(f->owned[i]);
    free(f->tensors);
    free(f->payloads);
}

static void meta_compress(bstk_meta_builder *b, const cm_job *j, const bs_compress_report *r) {
    const bs_compress_params *p = j->p;
    bstk_meta_model(b, j->m);
    bstk_meta_string(b, "compress.method", p->method == BS_METHOD_AVD ? "avd" : "planes",
                     p->method == BS_METHOD_AVD ? 3 : 6);
    bstk_meta_u32(b, "compress.blocks", (uint32_t)p->blocks);
    if (p->method == BS_METHOD_AVD) {
        bstk_meta_string(b, "compress.rank_rule", p->rank ? "fixed" : "auto", p->rank ? 5 : 4);
        bstk_meta_u32(b, "compress.rank", (uint32_t)p->rank);
    } else {
        bstk_meta_u32(b, "compress.group", (uint32_t)p->group);
        bstk_meta_u32(b, "compress.scale_bits", (uint32_t)p->scale_bits);
        bstk_meta_u32(b, "compress.outliers", (uint32_t)p->outliers);
        bstk_meta_f32(b, "compress.outlier_ratio", (float)p->outlier_ratio);
        bstk_meta_u32(b, "compress.rotate", (uint32_t)p->rotate);
        bstk_meta_u32(b, "compress.rotate_draws", (uint32_t)p->rotate_draws);
    }
    bstk_meta_u32(b, "compress.scaling", (uint32_t)p->scaling);
    bstk_meta_u32(b, "compress.embeddings", (uint32_t)p->stack_embeddings);
    static const char *sort_names[] = {"exact", "fast", "none"};
    const char *sort = sort_names[p->sort];
    bstk_meta_string(b, "compress.sort", sort, strlen(sort));
    bstk_meta_string(b, "compress.order", p->order == BS_ORDER_BYTE ? "byte" : "level", 4 + (p->order != BS_ORDER_BYTE));
    if (p->calib_name) bstk_meta_string(b, "compress.calib.text", p->calib_name, strlen(p->calib_name));
    bstk_meta_u32(b, "compress.calib.windows", (uint32_t)p->calib_windows);
    bstk_meta_u32(b, "compress.calib.ctx", (uint32_t)p->ctx);
    bstk_meta_u64(b, "compress.calib.tokens", (uint64_t)(p->calib_windows + p->sort_windows + p->curve_windows) * (uint64_t)p->ctx);
    if (p->source_name) bstk_meta_string(b, "compress.source", p->source_name, strlen(p->source_name));
    bstk_meta_array(b, "curve.blocks", BS_META_U64, r->curve_blocks, (uint64_t)r->n_curve);
    bstk_meta_array(b, "curve.bytes", BS_META_U64, r->curve_bytes, (uint64_t)r->n_curve);
    bstk_meta_array(b, "curve.ppl", BS_META_F32, r->curve_ppl, (uint64_t)r->n_curve);
    bstk_meta_string(b, "curve.text", "calibration text, held-out windows", 34);
    bstk_meta_u32(b, "curve.ctx", (uint32_t)p->ctx);
    bstk_meta_u32(b, "curve.windows", (uint32_t)p->curve_windows);
    bstk_meta_f32(b, "curve.float_ppl", (float)r->float_ppl);
}

static bs_status write_file(cm_job *j, const char *path, const bs_compress_report *r) {
    file_plan f;
    memset(&f, 0, sizeof f);
    bstk_meta_builder b;
    memset(&b, 0, sizeof b);
    uint8_t *meta = NULL;
    uint64_t meta_size = 0;
    meta_compress(&b, j, r);
    bs_status st = bstk_meta_finish(&b, &meta, &meta_size);
    if (st == BS_OK) st = plan_file(j, &f);
    if (st == BS_OK)
        st = bstk_write_file(path, meta, meta_size, f.tensors, f.n_tensors, f.payloads, f.n_payloads, f.n_resident);
    free(b.buf);
    free(meta);
    plan_free(&f);
    return st;
}

/* ---- the pipeline ------------------------------------------------------------ */

static bs_status check_params(const bs_model *m, const bs_compress_params *p, int64_t n_tokens) {
    if (m->stack || m->cfg.n_layers <= 0 || !m->tok_embd)
        return bs_fail(BS_ERR_INVALID_ARG, "compress: the input must be a float model (not a .bstk)");
    if (p->method != BS_METHOD_AVD && p->method != BS_METHOD_PLANES)
        return bs_fail(BS_ERR_INVALID_ARG, "compress: unknown method");
    int32_t max_levels = p->method == BS_METHOD_PLANES ? 12 : 64;
    if (p->blocks < 1 || p->blocks > max_levels)
        return bs_fail(BS_ERR_INVALID_ARG, "compress: %d blocks per matrix (1..%d for this method)", p->blocks,
                       max_levels);
    if (p->scale_bits != 0 && p->scale_bits != 8 && p->scale_bits != 16)
        return bs_fail(BS_ERR_INVALID_ARG, "compress: scales of %d bits (8 or 16)", p->scale_bits);
    if (p->rank < 0 || p->rank > 4096 || p->group < 0 || p->group > 65536 || p->ctx < 2 || p->ctx > m->cfg.seq_len ||
        p->calib_windows < 1 || p->sort_windows < 1 || p->curve_windows < 1)
        return bs_fail(BS_ERR_INVALID_ARG, "compress: rank %d, group %d, ctx %d (model context %d), windows %d+%d",
                       p->rank, p->group, p->ctx, m->cfg.seq_len, p->calib_windows, p->sort_windows);
    int64_t need = (int64_t)(p->calib_windows + p->sort_windows + p->curve_windows) * p->ctx;
    if (n_tokens < need)
        return bs_fail(BS_ERR_RANGE,
                       "compress: the calibration text has %lld tokens; %d + %d + %d windows of %d need %lld "
                       "(use a longer text or fewer/shorter windows)",
                       (long long)n_tokens, p->calib_windows, p->sort_windows, p->curve_windows, p->ctx,
                       (long long)need);
    return cm_validate_weights(m);
}

static double since(double *t0) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec, d = now - *t0;
    *t0 = now;
    return d;
}

bs_status bs_compress(bs_model *m, const int32_t *tokens, int64_t n_tokens, const bs_compress_params *p,
                      const char *out_path, bs_compress_report *r) {
    memset(r, 0, sizeof *r);
    BS_TRY(check_params(m, p, n_tokens));
    BS_TRY(cm_validate_output(out_path));
    cm_job j;
    memset(&j, 0, sizeof j);
    j.m = m;
    j.p = p;
    /* windows: statistics | sorting | curve, disjoint */
    const int32_t *sort_tokens = tokens + (size_t)p->calib_windows * p->ctx;
    const int32_t *curve_tokens = sort_tokens + (size_t)p->sort_windows * p->ctx;
    j.eval_tokens = curve_tokens;
    j.eval_windows = p->curve_windows;
    /* the compressor evaluates with as many threads as it decomposes with */
    bs_session_options so = {.ctx = p->ctx, .n_threads = p->threads};
    double t0 = 0;
    since(&t0);
    bs_status st = bs_session_create(m, &so, &j.sess);
    double nll = 0.0;
    if (st == BS_OK) st = cm_eval(&j, &nll);
    if (st == BS_OK) st = cm_validate_float_loss(nll);
    r->float_ppl = exp(nll);
    if (st == BS_OK) st = cm_collect_stats(&j, tokens, p->calib_windows);
    if (st == BS_OK && p->scaling) cm_fold_scales(&j);
    r->seconds_stats = since(&t0);
    if (st == BS_OK) st = add_matrices(&j);
    if (st == BS_OK) st = decompose_all(&j);
    r->seconds_decompose = since(&t0);
    j.eval_tokens = sort_tokens;
    j.eval_windows = p->sort_windows;
    if (st == BS_OK) st = cm_sort(&j);
    j.eval_tokens = curve_tokens;
    j.eval_windows = p->curve_windows;
    r->seconds_sort = since(&t0);
    if (st == BS_OK) st = cm_curve(&j, r);
    r->seconds_curve = since(&t0);
    r->n_matrices = j.n_mats;
    r->n_blocks = j.n_blocks;
    if (st == BS_OK) st = write_file(&j, out_path, r);
    free(j.order);
    free(j.saved);
    free_matrices(&j);
    cm_stats_free(&j.stats);
    bs_session_free(j.sess);
    return st;
}
