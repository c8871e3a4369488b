/* validate.c - the compressor's input checks (validate.h). */
#include "validate.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* First bad element of a (rows, cols) f32 tensor, or -1. */
static int64_t first_bad(const float *w, int64_t n, float limit) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(w[i]) || fabsf(w[i]) > limit) return i;
    return -1;
}

static bs_status check(const char *name, int32_t layer, const float *w, int32_t rows, int32_t cols,
                       float limit) {
    if (!w) return BS_OK; /* not an f32 tensor: nothing to check */
    int64_t i = first_bad(w, (int64_t)rows * cols, limit);
    if (i < 0) return BS_OK;
    char where[32] = "";
    if (layer >= 0) snprintf(where, sizeof where, "layer %d ", layer);
    return bs_fail(BS_ERR_FORMAT,
                   "%s%s weight (%lld, %lld) is %g; weights must be finite%s", where, name,
                   (long long)(i / cols), (long long)(i % cols), (double)w[i],
                   isfinite(limit) ? " and within +-65504 (binary16)" : "");
}

bs_status cm_validate_weights(const bs_model *m) {
    const bs_config *c = &m->cfg;
    BS_TRY(check("token embedding", -1, m->embed.w, m->embed.rows, m->embed.cols, CM_MAX_WEIGHT));
    if (!c->tied) BS_TRY(check("output", -1, m->lm_head.w, m->lm_head.rows, m->lm_head.cols, CM_MAX_WEIGHT));
    BS_TRY(check("output norm", -1, m->out_norm, 1, c->dim, INFINITY));
    for (int32_t li = 0; li < c->n_layers; li++) {
        const bs_layer *l = &m->layers[li];
        BS_TRY(check("attention norm", li, l->attn_norm, 1, c->dim, INFINITY));
        BS_TRY(check("ffn norm", li, l->ffn_norm, 1, c->dim, INFINITY));
        for (int k = 0; k < 7; k++) {
            const bs_linear *lin = bs_layer_linear((bs_layer *)l, k);
            BS_TRY(check(bs_linear_names[k], li, lin->w, lin->rows, lin->cols, CM_MAX_WEIGHT));
        }
    }
    return BS_OK;
}

bs_status cm_validate_output(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return bs_fail(BS_ERR_IO, "the output %s is a directory", path);
    const char *slash = strrchr(path, '/');
    if (!slash) return BS_OK; /* the current directory */
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *dir = bs_strndup(path, n);
    if (!dir) return BS_ERR_NOMEM;
    int found = stat(dir, &st) == 0;
    int err = errno;
    bs_status r = found && S_ISDIR(st.st_mode)
                      ? BS_OK
                      : bs_fail(BS_ERR_IO, "cannot write %s: %s: %s", path, dir,
                                found ? "not a directory" : strerror(err));
    free(dir);
    return r;
}

bs_status cm_validate_float_loss(double nll) {
    if (isfinite(nll)) return BS_OK;
    return bs_fail(BS_ERR_FORMAT,
                   "the float model's loss on the calibration text is %g (weights overflow in the "
                   "forward pass?); nothing written", nll);
}
