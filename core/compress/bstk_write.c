/* bstk_write.c - see bstk_write.h. */
#include "bstk_write.h"

#include "crc32c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- metadata ------------------------------------------------------------- */

static void put(bstk_meta_builder *b, const void *p, size_t n) {
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        uint8_t *nb = realloc(b->buf, cap);
        if (!nb) {
            b->failed = 1;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
}

static void put32(bstk_meta_builder *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}

static void put64(bstk_meta_builder *b, uint64_t v) {
    put32(b, (uint32_t)v);
    put32(b, (uint32_t)(v >> 32));
}

static void put_str(bstk_meta_builder *b, const char *s, size_t len) {
    put32(b, (uint32_t)len);
    put(b, s, len);
}

static void key(bstk_meta_builder *b, const char *k, uint32_t type) {
    put_str(b, k, strlen(k));
    put32(b, type);
    b->n++;
}

void bstk_meta_u32(bstk_meta_builder *b, const char *k, uint32_t v) { key(b, k, BS_META_U32), put32(b, v); }
void bstk_meta_i32(bstk_meta_builder *b, const char *k, int32_t v) { key(b, k, BS_META_I32), put32(b, (uint32_t)v); }
void bstk_meta_u64(bstk_meta_builder *b, const char *k, uint64_t v) { key(b, k, BS_META_U64), put64(b, v); }

void bstk_meta_f32(bstk_meta_builder *b, const char *k, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    key(b, k, BS_META_F32);
    put32(b, u);
}

void bstk_meta_f64(bstk_meta_builder *b, const char *k, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    key(b, k, BS_META_F64);
    put64(b, u);
}

void bstk_meta_string(bstk_meta_builder *b, const char *k, const char *s, size_t len) {
    key(b, k, BS_META_STRING);
    put_str(b, s, len);
}

void bstk_meta_array(bstk_meta_builder *b, const char *k, uint32_t elem_type, const void *data, uint64_t count) {
    key(b, k, BS_META_ARRAY);
    put32(b, elem_type);
    put64(b, count);
    uint32_t size = bs_meta_type_size(elem_type);
    const uint8_t *p = data;
    for (uint64_t i = 0; i < count; i++) { /* little-endian regardless of host */
        uint64_t v = 0;
        memcpy(&v, p + i * size, size);
        if (size == 4) put32(b, (uint32_t)v);
        else put64(b, v);
    }
}

void bstk_meta_strings(bstk_meta_builder *b, const char *k, const char *const *s, const uint32_t *lens,
                       uint64_t count) {
    key(b, k, BS_META_ARRAY);
    put32(b, BS_META_STRING);
    put64(b, count);
    for (uint64_t i = 0; i < count; i++) put_str(b, s[i], lens[i]);
}

bs_status bstk_meta_finish(bstk_meta_builder *b, uint8_t **out, uint64_t *size) {
    if (b->failed) return bs_fail(BS_ERR_NOMEM, "out of memory building .bstk metadata");
    uint8_t *buf = malloc(b->len + 4);
    if (!buf) return bs_fail(BS_ERR_NOMEM, "out of memory building .bstk metadata");
    uint32_t n = b->n;
    for (int i = 0; i < 4; i++) buf[i] = (uint8_t)(n >> (8 * i));
    if (b->len) memcpy(buf + 4, b->buf, b->len);
    *out = buf;
    *size = b->len + 4;
    return BS_OK;
}

static void meta_tokenizer(bstk_meta_builder *b, const bs_tokenizer *t) {
    int32_t n = bs_tokenizer_n_vocab(t), n_merges = bs_tokenizer_n_merges(t);
    int32_t n_pieces = n > n_merges ? n : n_merges;
    const char **pieces = malloc((size_t)(n_pieces ? n_pieces : 1) * sizeof *pieces);
    uint32_t *lens = malloc((size_t)(n_pieces ? n_pieces : 1) * sizeof *lens);
    float *scores = malloc((size_t)(n ? n : 1) * sizeof *scores);
    int32_t *types = malloc((size_t)(n ? n : 1) * sizeof *types), *eog = malloc((size_t)(n ? n : 1) * sizeof *eog);
    char **merged = calloc((size_t)(n_merges ? n_merges : 1), sizeof *merged);
    if (!pieces || !lens || !scores || !types || !eog || !merged) {
        b->failed = 1;
        goto done;
    }
    bs_tokenizer_kind kind = bs_tokenizer_get_kind(t);
    bstk_meta_string(b, "tokenizer.kind", kind == BS_TOKENIZER_SPM ? "spm" : "bpe", 3);
    int32_t n_eog = 0;
    for (int32_t i = 0; i < n; i++) {
        size_t len;
        bs_tokenizer_get_token(t, i, &pieces[i], &len, &scores[i], &types[i]);
        lens[i] = (uint32_t)len;
        if (bs_tokenizer_is_eog(t, i) && i != bs_tokenizer_eos(t)) eog[n_eog++] = i;
    }
    bstk_meta_strings(b, "tokenizer.tokens", pieces, lens, (uint64_t)n);
    bstk_meta_array(b, "tokenizer.types", BS_META_I32, types, (uint64_t)n);
    if (kind == BS_TOKENIZER_SPM) bstk_meta_array(b, "tokenizer.scores", BS_META_F32, scores, (uint64_t)n);
    for (int32_t i = 0; i < n_merges; i++) {
        const char *l, *r;
        size_t ll, rl;
        bs_tokenizer_get_merge(t, i, &l, &ll, &r, &rl);
        if (!(merged[i] = malloc(ll + rl + 2))) {
            b->failed = 1;
            goto done;
        }
        memcpy(merged[i], l, ll);
        merged[i][ll] = ' ';
        memcpy(merged[i] + ll + 1, r, rl);
        pieces[i] = merged[i];
        lens[i] = (uint32_t)(ll + rl + 1);
    }
    if (n_merges) bstk_meta_strings(b, "tokenizer.merges", pieces, lens, (uint64_t)n_merges);
    bstk_meta_i32(b, "tokenizer.bos", bs_tokenizer_bos(t));
    bstk_meta_i32(b, "tokenizer.eos", bs_tokenizer_eos(t));
    if (n_eog) bstk_meta_array(b, "tokenizer.eog", BS_META_I32, eog, (uint64_t)n_eog);
    bstk_meta_u32(b, "tokenizer.pretok", (uint32_t)bs_tokenizer_get_pretok(t));
    bstk_meta_u32(b, "tokenizer.add_space_prefix", (uint32_t)bs_tokenizer_get_add_space_prefix(t));
done:
    for (int32_t i = 0; merged && i < n_merges; i++) free(merged[i]);
    free(merged);
    free(pieces);
    free(lens);
    free(scores);
    free(types);
    free(eog);
}

void bstk_meta_model(bstk_meta_builder *b, const bs_model *m) {
    const bs_config *c = &m->cfg;
    bstk_meta_string(b, "model.arch", "llama", 5);
    bstk_meta_u32(b, "model.dim", (uint32_t)c->dim);
    bstk_meta_u32(b, "model.hidden_dim", (uint32_t)c->hidden_dim);
    bstk_meta_u32(b, "model.n_layers", (uint32_t)c->n_layers);
    bstk_meta_u32(b, "model.n_heads", (uint32_t)c->n_heads);
    bstk_meta_u32(b, "model.n_kv_heads", (uint32_t)c->n_kv_heads);
    bstk_meta_u32(b, "model.head_dim", (uint32_t)c->head_dim);
    bstk_meta_u32(b, "model.vocab_size", (uint32_t)c->vocab_size);
    bstk_meta_u32(b, "model.seq_len", (uint32_t)c->seq_len);
    bstk_meta_f32(b, "model.rope_theta", c->rope_theta);
    bstk_meta_f32(b, "model.norm_eps", c->norm_eps);
    bstk_meta_u32(b, "model.tied", (uint32_t)c->tied);
    if (m->tok) meta_tokenizer(b, m->tok);
    if (m->chat_template) bstk_meta_string(b, "chat.template", m->chat_template, strlen(m->chat_template));
}

/* ---- the file ------------------------------------------------------------- */

static const uint8_t zeros[BSTK_ALIGN];

static bs_status write_all(FILE *f, const void *p, size_t n, const char *path) {
    if (n && fwrite(p, 1, n, f) != n) return bs_fail(BS_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return BS_OK;
}

static bs_status write_body(FILE *f, const char *tmp, const bstk_header *h, const uint8_t *meta,
                            const uint8_t *tens, const uint8_t *index, const bstk_payload *p,
                            const bstk_entry *e, uint32_t n) {
    uint8_t hb[BSTK_HEADER_SIZE];
    bstk_header_encode(h, hb);
    BS_TRY(write_all(f, hb, sizeof hb, tmp));
    BS_TRY(write_all(f, meta, (size_t)h->meta_size, tmp));
    BS_TRY(write_all(f, zeros, (size_t)(h->tensors_offset - h->meta_offset - h->meta_size), tmp));
    BS_TRY(write_all(f, tens, (size_t)h->n_tensors * BSTK_TENSOR_SIZE, tmp));
    BS_TRY(write_all(f, index, (size_t)n * BSTK_ENTRY_SIZE, tmp));
    uint64_t pos = h->index_offset + (uint64_t)n * BSTK_ENTRY_SIZE;
    for (uint32_t i = 0; i < n; i++) {
        BS_TRY(write_all(f, zeros, (size_t)(e[i].offset - pos), tmp));
        BS_TRY(write_all(f, p[i].data, (size_t)p[i].size, tmp));
        pos = e[i].offset + e[i].size;
    }
    if (fflush(f) != 0) return bs_fail(BS_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
    return BS_OK;
}

bs_status bstk_write_file(const char *path, const uint8_t *meta, uint64_t meta_size,
                          const bstk_tensor *tensors, uint32_t n_tensors, const bstk_payload *payloads,
                          uint32_t n, uint32_t n_resident) {
    bstk_header h = {BSTK_VERSION_MAJOR, BSTK_VERSION_MINOR, BSTK_HEADER_SIZE, BSTK_HEADER_SIZE, meta_size,
                     0, n_tensors, n, 0, 0, 0, 0, 0, n_resident, 0};
    h.tensors_offset = (BSTK_HEADER_SIZE + meta_size + 7) & ~(uint64_t)7;
    h.index_offset = h.tensors_offset + (uint64_t)n_tensors * BSTK_TENSOR_SIZE;
    h.data_offset = bstk_align(h.index_offset + (uint64_t)n * BSTK_ENTRY_SIZE);
    uint8_t *tens = calloc((size_t)n_tensors + 1, BSTK_TENSOR_SIZE), *index = calloc((size_t)n + 1, BSTK_ENTRY_SIZE);
    bstk_entry *e = calloc((size_t)n + 1, sizeof *e);
    char *tmp = malloc(strlen(path) + 32);
    bs_status st = tens && index && e && tmp ? BS_OK : bs_fail(BS_ERR_NOMEM, "out of memory writing %s", path);
    uint64_t pos = h.data_offset;
    for (uint32_t i = 0; i < n && st == BS_OK; i++) {
        e[i] = (bstk_entry){payloads[i].tensor, payloads[i].level, bstk_align(pos), payloads[i].size,
                            bs_crc32c(0, payloads[i].data, (size_t)payloads[i].size)};
        pos = e[i].offset + e[i].size;
        bstk_entry_encode(&e[i], index + (size_t)i * BSTK_ENTRY_SIZE);
    }
    for (uint32_t i = 0; i < n_tensors && st == BS_OK; i++) bstk_tensor_encode(&tensors[i], tens + (size_t)i * BSTK_TENSOR_SIZE);
    h.file_size = pos;
    h.meta_crc = bs_crc32c(0, meta, (size_t)meta_size);
    h.tensors_crc = bs_crc32c(0, tens, (size_t)n_tensors * BSTK_TENSOR_SIZE);
    h.index_crc = bs_crc32c(0, index, (size_t)n * BSTK_ENTRY_SIZE);
    FILE *f = NULL;
    if (st == BS_OK) {
        snprintf(tmp, strlen(path) + 32, "%s.tmp.%ld", path, (long)getpid());
        if (!(f = fopen(tmp, "wb"))) st = bs_fail(BS_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    }
    if (st == BS_OK) st = write_body(f, tmp, &h, meta, tens, index, payloads, e, n);
    if (f && fclose(f) != 0 && st == BS_OK) st = bs_fail(BS_ERR_IO, "%s: close failed: %s", tmp, strerror(errno));
    if (st == BS_OK && rename(tmp, path) != 0) st = bs_fail(BS_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (st != BS_OK && f) remove(tmp);
    free(tens);
    free(index);
    free(e);
    free(tmp);
    return st;
}
