/* stories260k.h - the 35 linear maps of stories260K, read with plain fread
 * from the llama2.c legacy file (independent of the project's importer).
 *
 * Layout: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab,
 * seq_len), then f32 token_embedding (vocab, dim), rms_att (L, dim),
 * wq (L, dim, dim), wk (L, kv, dim), wv (L, kv, dim), wo (L, dim, dim),
 * rms_ffn (L, dim), w1 (L, hidden, dim), w2 (L, dim, hidden),
 * w3 (L, hidden, dim), ... with kv = dim * n_kv_heads / n_heads. */
#ifndef BS_TEST_STORIES260K_H
#define BS_TEST_STORIES260K_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct st_model {
    int32_t dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len;
    float *data;   /* every float from token_embedding to the end of w3 */
    const float *wq, *wk, *wv, *wo, *w1, *w2, *w3;
} st_model;

/* Map i of a layer, in the order of bs_layer_linear: q k v o gate up down
   (gate = w1, up = w3, down = w2). */
static const char *const st_names[7] = {"q", "k", "v", "o", "gate", "up", "down"};

static inline const float *st_matrix(const st_model *s, int layer, int i, int32_t *rows,
                                     int32_t *cols) {
    int32_t d = s->dim, h = s->hidden, kv = s->dim * s->n_kv_heads / s->n_heads;
    int32_t r[7] = {d, kv, kv, d, h, h, d}, c[7] = {d, d, d, d, d, d, h};
    const float *base[7] = {s->wq, s->wk, s->wv, s->wo, s->w1, s->w3, s->w2};
    *rows = r[i];
    *cols = c[i];
    return base[i] + (size_t)layer * r[i] * c[i];
}

/* Returns 0 on success; the caller frees s->data. */
static inline int st_load(const char *path, st_model *s) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    int32_t hdr[7];
    if (fread(hdr, 4, 7, f) != 7) {
        fclose(f);
        return -1;
    }
    s->dim = hdr[0];
    s->hidden = hdr[1];
    s->n_layers = hdr[2];
    s->n_heads = hdr[3];
    s->n_kv_heads = hdr[4];
    s->vocab = hdr[5] < 0 ? -hdr[5] : hdr[5];
    s->seq_len = hdr[6];
    size_t d = (size_t)s->dim, h = (size_t)s->hidden, L = (size_t)s->n_layers;
    size_t kv = d * (size_t)s->n_kv_heads / (size_t)s->n_heads;
    size_t counts[10] = {(size_t)s->vocab * d, L * d,     L * d * d, L * kv * d, L * kv * d,
                         L * d * d,            L * d,     L * h * d, L * d * h,  L * h * d};
    size_t total = 0, off[10];
    for (int i = 0; i < 10; i++) off[i] = total, total += counts[i];
    s->data = malloc(total * sizeof(float));
    if (!s->data || fread(s->data, sizeof(float), total, f) != total) {
        free(s->data);
        s->data = NULL;
        fclose(f);
        return -1;
    }
    fclose(f);
    s->wq = s->data + off[2];
    s->wk = s->data + off[3];
    s->wv = s->data + off[4];
    s->wo = s->data + off[5];
    s->w1 = s->data + off[7];
    s->w2 = s->data + off[8];
    s->w3 = s->data + off[9];
    return 0;
}

#endif
