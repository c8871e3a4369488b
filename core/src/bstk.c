/* bstk.c - reading .bstk files (FORMAT.md) into a live model, and growing
 * or shrinking its stack of residual blocks.
 *
 * Loading: header -> head sections (CRC-checked) -> config, tokenizer,
 * template from the metadata -> tensor table (wires the model's linear maps
 * with room for all their levels) -> index (order, sizes, alignment) ->
 * resident payloads -> stack payloads while the budget allows. Every
 * payload is CRC-checked before it is attached. */
#include "bstk.h"

#include "crc32c.h"
#include "planes_pack.h"
#include "scales.h"

#include <stdlib.h>
#include <string.h>

/* ---- fixed-size records --------------------------------------------------- */

static void w16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void w32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void w64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint16_t r16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t r32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t r64(const uint8_t *p) { return (uint64_t)r32(p) | (uint64_t)r32(p + 4) << 32; }

void bstk_header_encode(const bstk_header *h, uint8_t out[BSTK_HEADER_SIZE]) {
    memset(out, 0, BSTK_HEADER_SIZE);
    memcpy(out, BSTK_MAGIC, 8);
    w16(out + 8, h->version_major);
    w16(out + 10, h->version_minor);
    w32(out + 12, h->header_size);
    w64(out + 16, h->meta_offset);
    w64(out + 24, h->meta_size);
    w64(out + 32, h->tensors_offset);
    w32(out + 40, h->n_tensors);
    w32(out + 44, h->n_entries);
    w64(out + 48, h->index_offset);
    w64(out + 56, h->data_offset);
    w32(out + 64, h->meta_crc);
    w32(out + 68, h->tensors_crc);
    w32(out + 72, h->index_crc);
    w32(out + 76, h->n_resident);
    w64(out + 80, h->file_size);
    w32(out + 92, bs_crc32c(0, out, 92));
}

void bstk_tensor_encode(const bstk_tensor *t, uint8_t out[BSTK_TENSOR_SIZE]) {
    memset(out, 0, BSTK_TENSOR_SIZE);
    w16(out, t->role);
    w16(out + 2, t->layer);
    out[4] = t->kind;
    out[5] = t->rotation;
    w32(out + 8, t->rows);
    w32(out + 12, t->cols);
    w32(out + 16, t->rank);
    w32(out + 20, t->group);
    w32(out + 24, t->n_levels);
    w32(out + 28, t->outliers);
}

void bstk_entry_encode(const bstk_entry *e, uint8_t out[BSTK_ENTRY_SIZE]) {
    memset(out, 0, BSTK_ENTRY_SIZE);
    w32(out, e->tensor);
    w32(out + 4, e->level);
    w64(out + 8, e->offset);
    w64(out + 16, e->size);
    w32(out + 24, e->crc);
}

uint64_t bstk_payload_size(const bstk_tensor *t, uint32_t level) {
    uint64_t rows = t->rows, cols = t->cols, signs = rows * (uint64_t)bs_row_bytes((int32_t)t->cols);
    switch (t->kind) {
    case BS_LIN_F32: return level == 0 ? 4 * rows * cols : 0;
    case BS_LIN_F16: return level == 0 ? 2 * rows * cols : 0;
    case BS_LIN_AVD: return 2 * (uint64_t)t->rank * (rows + cols) + signs;
    case BS_LIN_PLANES:
        return (level == 0 ? bstk_scales_size(t, (uint64_t)bs_groups_per_row((int32_t)t->cols, (int32_t)t->group)) +
                                 bstk_planes_prefix_size(t)
                           : 0) +
               signs;
    }
    return 0;
}

/* ---- header and head sections --------------------------------------------- */

static bs_status decode_header(const uint8_t *b, uint64_t file_size, bstk_header *h) {
    if (memcmp(b, BSTK_MAGIC, 8) != 0) return bs_fail(BS_ERR_FORMAT, "not a .bstk file (bad magic)");
    h->version_major = r16(b + 8);
    h->version_minor = r16(b + 10);
    if (h->version_major != BSTK_VERSION_MAJOR)
        return bs_fail(BS_ERR_VERSION, ".bstk version %u.%u is not readable by this version (reads %d.x)",
                       h->version_major, h->version_minor, BSTK_VERSION_MAJOR);
    if (r32(b + 92) != bs_crc32c(0, b, 92)) return bs_fail(BS_ERR_CHECKSUM, ".bstk: header checksum mismatch");
    h->header_size = r32(b + 12);
    h->meta_offset = r64(b + 16);
    h->meta_size = r64(b + 24);
    h->tensors_offset = r64(b + 32);
    h->n_tensors = r32(b + 40);
    h->n_entries = r32(b + 44);
    h->index_offset = r64(b + 48);
    h->data_offset = r64(b + 56);
    h->meta_crc = r32(b + 64);
    h->tensors_crc = r32(b + 68);
    h->index_crc = r32(b + 72);
    h->n_resident = r32(b + 76);
    h->file_size = r64(b + 80);
    /* sections in order, inside the head, no overlap */
    uint64_t t_end = h->tensors_offset + (uint64_t)h->n_tensors * BSTK_TENSOR_SIZE;
    uint64_t i_end = h->index_offset + (uint64_t)h->n_entries * BSTK_ENTRY_SIZE;
    if (h->header_size < BSTK_HEADER_SIZE || h->meta_offset < h->header_size ||
        h->meta_size > (1ull << 32) || h->meta_offset + h->meta_size > h->tensors_offset ||
        t_end > h->index_offset || i_end > h->data_offset || h->data_offset % BSTK_ALIGN ||
        h->data_offset > (1ull << 32) || h->n_resident > h->n_entries || h->file_size < h->data_offset)
        return bs_fail(BS_ERR_FORMAT, ".bstk: header section layout is inconsistent");
    if (file_size < h->data_offset)
        return bs_fail(BS_ERR_TRUNCATED, ".bstk: file ends inside the head (%llu of %llu bytes)",
                       (unsigned long long)file_size, (unsigned long long)h->data_offset);
    return BS_OK;
}

static bs_status read_config(const bs_meta *mt, bs_config *c) {
    static const char *const keys[] = {"model.dim", "model.hidden_dim", "model.n_layers", "model.n_heads",
                                       "model.n_kv_heads", "model.head_dim", "model.vocab_size",
                                       "model.seq_len", "model.tied"};
    int32_t *dst[] = {&c->dim, &c->hidden_dim, &c->n_layers, &c->n_heads, &c->n_kv_heads,
                      &c->head_dim, &c->vocab_size, &c->seq_len, &c->tied};
    const char *arch;
    uint32_t len;
    BS_TRY(bs_meta_get_string(mt, "model.arch", &arch, &len, NULL));
    if (len != 5 || memcmp(arch, "llama", 5) != 0)
        return bs_fail(BS_ERR_UNSUPPORTED, ".bstk: architecture %.*s (only llama)", (int)len, arch);
    for (int i = 0; i < 9; i++) {
        uint32_t v;
        BS_TRY(bs_meta_get(mt, keys[i], BS_META_U32, &v, NULL));
        if (v > INT32_MAX) return bs_fail(BS_ERR_FORMAT, ".bstk: %s = %u out of range", keys[i], v);
        *dst[i] = (int32_t)v;
    }
    BS_TRY(bs_meta_get(mt, "model.rope_theta", BS_META_F32, &c->rope_theta, NULL));
    BS_TRY(bs_meta_get(mt, "model.norm_eps", BS_META_F32, &c->norm_eps, NULL));
    if (c->tied > 1) return bs_fail(BS_ERR_FORMAT, ".bstk: model.tied = %d", c->tied);
    if (c->head_dim == 0) return bs_fail(BS_ERR_FORMAT, ".bstk: model.head_dim = 0");
    return bs_config_validate(c);
}

/* ---- tokenizer from metadata ---------------------------------------------- */

static bs_status read_tokenizer(const bs_meta *mt, int32_t vocab, bs_tokenizer **out) {
    const char *kind;
    uint32_t klen;
    int found;
    BS_TRY(bs_meta_get_string(mt, "tokenizer.kind", &kind, &klen, &found));
    if (!found) return BS_OK;
    bs_tokenizer_kind k;
    if (klen == 3 && memcmp(kind, "spm", 3) == 0) k = BS_TOKENIZER_SPM;
    else if (klen == 3 && memcmp(kind, "bpe", 3) == 0) k = BS_TOKENIZER_BPE;
    else return bs_fail(BS_ERR_UNSUPPORTED, ".bstk: tokenizer kind %.*s", (int)klen, kind);
    const bs_meta_kv *tokens, *types, *scores = NULL, *merges = NULL, *eog = NULL;
    BS_TRY(bs_meta_get_array(mt, "tokenizer.tokens", BS_META_STRING, &tokens, NULL));
    BS_TRY(bs_meta_get_array(mt, "tokenizer.types", BS_META_I32, &types, NULL));
    BS_TRY(bs_meta_get_array(mt, "tokenizer.scores", BS_META_F32, &scores, &found));
    BS_TRY(bs_meta_get_array(mt, "tokenizer.merges", BS_META_STRING, &merges, &found));
    BS_TRY(bs_meta_get_array(mt, "tokenizer.eog", BS_META_I32, &eog, &found));
    if (tokens->count != (uint64_t)vocab || types->count != tokens->count ||
        (scores && scores->count != tokens->count))
        return bs_fail(BS_ERR_FORMAT, ".bstk: tokenizer arrays disagree with vocab_size %d", vocab);
    bs_tokenizer *t = NULL;
    BS_TRY(bs_tokenizer_create(k, vocab, &t));
    bs_status st = BS_OK;
    const uint8_t *cur = tokens->val;
    for (int32_t i = 0; i < vocab && st == BS_OK; i++) {
        const char *piece;
        uint32_t len;
        int32_t type;
        float score = 0.0f;
        bs_meta_next_string(&cur, &piece, &len);
        bs_meta_array_at(types, (uint64_t)i, &type);
        if (scores) bs_meta_array_at(scores, (uint64_t)i, &score);
        st = bs_tokenizer_set_token(t, i, piece, len, score, type);
    }
    cur = merges ? merges->val : NULL;
    for (uint64_t i = 0; merges && i < merges->count && st == BS_OK; i++) {
        const char *mrg;
        uint32_t len;
        bs_meta_next_string(&cur, &mrg, &len);
        const char *sp = memchr(mrg, ' ', len);
        if (!sp) st = bs_fail(BS_ERR_FORMAT, ".bstk: merge %llu has no space", (unsigned long long)i);
        else st = bs_tokenizer_add_merge(t, mrg, (size_t)(sp - mrg), sp + 1, len - (size_t)(sp - mrg) - 1);
    }
    int32_t bos = -1, eos = -1;
    uint32_t pretok = 0, prefix = 1;
    if (st == BS_OK) st = bs_meta_get(mt, "tokenizer.bos", BS_META_I32, &bos, &found);
    if (st == BS_OK) st = bs_meta_get(mt, "tokenizer.eos", BS_META_I32, &eos, &found);
    if (st == BS_OK) st = bs_meta_get(mt, "tokenizer.pretok", BS_META_U32, &pretok, &found);
    if (st == BS_OK) st = bs_meta_get(mt, "tokenizer.add_space_prefix", BS_META_U32, &prefix, &found);
    if (st == BS_OK && (bos < -1 || bos >= vocab || eos < -1 || eos >= vocab || pretok > BS_PRETOK_LLAMA3))
        st = bs_fail(BS_ERR_FORMAT, ".bstk: tokenizer bos/eos/pretok out of range");
    if (st == BS_OK) {
        bs_tokenizer_set_bos_eos(t, bos, eos);
        bs_tokenizer_set_pretok(t, (bs_pretok)pretok);
        bs_tokenizer_set_add_space_prefix(t, prefix != 0);
    }
    for (uint64_t i = 0; eog && i < eog->count && st == BS_OK; i++) {
        int32_t id;
        bs_meta_array_at(eog, i, &id);
        st = id >= 0 && id < vocab ? bs_tokenizer_add_eog(t, id)
                                   : bs_fail(BS_ERR_FORMAT, ".bstk: eog id %d out of range", id);
    }
    if (st == BS_OK) st = bs_tokenizer_finalize(t);
    if (st != BS_OK) {
        bs_tokenizer_free(t);
        return st;
    }
    *out = t;
    return BS_OK;
}

/* ---- tensor table: wiring the model ---------------------------------------- */

/* The linear map a tensor record feeds, or NULL for norms. */
static bs_linear *tensor_linear(bs_model *m, const bstk_tensor *t) {
    if (t->role == BSTK_ROLE_TOKEN_EMBD) return &m->embed;
    if (t->role == BSTK_ROLE_OUTPUT) return &m->lm_head;
    if (t->role >= BSTK_ROLE_Q && t->role <= BSTK_ROLE_DOWN)
        return bs_layer_linear(&m->layers[t->layer], t->role - BSTK_ROLE_Q);
    return NULL;
}

/* Slot of (role, layer) in a seen-bitmap: 3 globals then 9 per layer. */
static int64_t role_slot(const bstk_tensor *t, int32_t n_layers) {
    if (t->role <= BSTK_ROLE_OUTPUT_NORM) return t->layer == 0 ? t->role : -1;
    if (t->role > BSTK_ROLE_DOWN || t->layer >= n_layers) return -1;
    return 3 + (int64_t)t->layer * 9 + (t->role - BSTK_ROLE_ATTN_NORM);
}

/* Expected (rows, cols) of a role. */
static void role_shape(const bs_config *c, int role, uint32_t *rows, uint32_t *cols) {
    uint32_t d = (uint32_t)c->dim, q = (uint32_t)(c->n_heads * c->head_dim),
             kv = (uint32_t)(c->n_kv_heads * c->head_dim), h = (uint32_t)c->hidden_dim;
    static const int lin_out[7] = {0, 1, 1, 2, 3, 3, 2}; /* q k v o gate up down */
    static const int lin_in[7] = {2, 2, 2, 0, 2, 2, 3};
    uint32_t dims[4] = {q, kv, d, h};
    if (role <= BSTK_ROLE_OUTPUT) *rows = (uint32_t)c->vocab_size, *cols = d;
    else if (role <= BSTK_ROLE_FFN_NORM) *rows = 1, *cols = d;
    else *rows = dims[lin_out[role - BSTK_ROLE_Q]], *cols = dims[lin_in[role - BSTK_ROLE_Q]];
}

static bs_status check_tensor(const bs_config *c, const bstk_tensor *t, uint32_t i) {
    uint32_t rows, cols;
    role_shape(c, t->role, &rows, &cols);
    if (t->rows != rows || t->cols != cols)
        return bs_fail(BS_ERR_FORMAT, ".bstk: tensor %u (role %u layer %u) is %ux%u, expected %ux%u", i,
                       t->role, t->layer, t->rows, t->cols, rows, cols);
    int norm = t->role >= BSTK_ROLE_OUTPUT_NORM && t->role <= BSTK_ROLE_FFN_NORM;
    int stacked = t->kind == BS_LIN_AVD || t->kind == BS_LIN_PLANES;
    if (t->kind > BS_LIN_PLANES || (norm && t->kind != BS_LIN_F32))
        return bs_fail(BS_ERR_UNSUPPORTED, ".bstk: tensor %u has kind %u", i, t->kind);
    if (stacked ? (t->n_levels < 1 || t->n_levels > 64) : t->n_levels != 1)
        return bs_fail(BS_ERR_FORMAT, ".bstk: tensor %u has %u levels", i, t->n_levels);
    if (t->kind == BS_LIN_AVD && (t->rank < 1 || t->rank > BS_MIN(t->rows, t->cols)))
        return bs_fail(BS_ERR_FORMAT, ".bstk: tensor %u has rank %u", i, t->rank);
    if (t->kind == BS_LIN_PLANES && (t->group < 1 || t->group > t->cols || t->n_levels > 12))
        return bs_fail(BS_ERR_FORMAT, ".bstk: tensor %u has group %u / %u planes", i, t->group, t->n_levels);
    if (t->kind == BS_LIN_PLANES && t->rank != BSTK_SCALES_F16 && t->rank != BSTK_SCALES_CODE8)
        return bs_fail(BS_ERR_FORMAT, ".bstk: tensor %u has scale code %u", i, t->rank);
    if (t->outliers > (t->kind == BS_LIN_PLANES ? t->cols : 0))
        return bs_fail(BS_ERR_FORMAT, ".bstk: tensor %u keeps %u input channels apart", i, t->outliers);
    if (t->rotation && (t->kind != BS_LIN_PLANES || t->rotation > BS_ROTATE_MAX_LOG2 ||
                        t->cols % (1u << t->rotation) != 0))
        return bs_fail(BS_ERR_FORMAT, ".bstk: tensor %u (kind %u, %u columns) has rotation %u", i, t->kind,
                       t->cols, t->rotation);
    return BS_OK;
}

static bs_status wire_tensors(bs_model *m, bs_stack *s, const uint8_t *buf) {
    const bs_config *c = &m->cfg;
    int64_t n_slots = 3 + 9 * (int64_t)c->n_layers;
    uint8_t *seen = bs_calloc((size_t)n_slots, 1);
    s->tensors = bs_calloc(s->h.n_tensors ? s->h.n_tensors : 1, sizeof *s->tensors);
    m->layers = bs_calloc((size_t)c->n_layers, sizeof *m->layers);
    bs_status st = seen && s->tensors && m->layers ? BS_OK : BS_ERR_NOMEM;
    for (uint32_t i = 0; i < s->h.n_tensors && st == BS_OK; i++) {
        const uint8_t *p = buf + (size_t)i * BSTK_TENSOR_SIZE;
        bstk_tensor *t = &s->tensors[i];
        *t = (bstk_tensor){r16(p),        r16(p + 2),     p[4],           r32(p + 8), r32(p + 12),
                           r32(p + 16),   r32(p + 20),    r32(p + 24),    r32(p + 28), p[5]};
        int64_t slot = role_slot(t, c->n_layers);
        if (slot < 0 || seen[slot] || (t->role == BSTK_ROLE_OUTPUT && c->tied)) {
            st = bs_fail(BS_ERR_FORMAT, ".bstk: tensor %u: role %u layer %u unexpected or repeated", i,
                         t->role, t->layer);
            break;
        }
        seen[slot] = 1;
        if ((st = check_tensor(c, t, i)) != BS_OK) break;
        bs_linear *l = tensor_linear(m, t);
        if (!l) continue;
        l->rows = (int32_t)t->rows;
        l->cols = (int32_t)t->cols;
        l->kind = (bs_lin_kind)t->kind;
        l->rank = t->kind == BS_LIN_AVD ? (int32_t)t->rank : 0;
        l->group = (int32_t)t->group;
        l->max_blocks = (int32_t)t->n_levels;
        if (t->kind == BS_LIN_AVD && !(l->avd = bs_calloc(t->n_levels, sizeof *l->avd))) st = BS_ERR_NOMEM;
        if (t->kind == BS_LIN_PLANES && !(l->planes = bs_calloc(t->n_levels, sizeof *l->planes))) st = BS_ERR_NOMEM;
        if (t->kind == BS_LIN_PLANES) s->pack_tmp_size = BS_MAX(s->pack_tmp_size, bs_planes_pack_tmp(l->cols));
        if (t->kind == BS_LIN_AVD || t->kind == BS_LIN_PLANES) s->stacked_params += (int64_t)t->rows * t->cols;
    }
    if (st == BS_OK && s->pack_tmp_size && !(s->pack_tmp = bs_malloc(s->pack_tmp_size, 1))) st = BS_ERR_NOMEM;
    for (int64_t i = 0; i < n_slots && st == BS_OK; i++)
        if (!seen[i] && !(i == BSTK_ROLE_OUTPUT && c->tied))
            st = bs_fail(BS_ERR_FORMAT, ".bstk: the tensor table lacks a tensor (slot %lld)", (long long)i);
    free(seen);
    m->output = c->tied ? &m->embed : &m->lm_head;
    return st;
}

/* ---- index ------------------------------------------------------------------ */

static bs_status read_index(bs_stack *s, const uint8_t *buf) {
    uint32_t n = s->h.n_entries;
    s->entries = bs_calloc(n ? n : 1, sizeof *s->entries);
    s->payload = bs_calloc(n ? n : 1, sizeof *s->payload);
    uint32_t *levels = bs_calloc(s->h.n_tensors ? s->h.n_tensors : 1, sizeof *levels);
    bs_status st = s->entries && s->payload && levels ? BS_OK : BS_ERR_NOMEM;
    uint64_t end = s->h.data_offset;
    for (uint32_t i = 0; i < n && st == BS_OK; i++) {
        const uint8_t *p = buf + (size_t)i * BSTK_ENTRY_SIZE;
        bstk_entry *e = &s->entries[i];
        *e = (bstk_entry){r32(p), r32(p + 4), r64(p + 8), r64(p + 16), r32(p + 24)};
        if (e->tensor >= s->h.n_tensors) {
            st = bs_fail(BS_ERR_FORMAT, ".bstk: index entry %u names tensor %u of %u", i, e->tensor, s->h.n_tensors);
            break;
        }
        const bstk_tensor *t = &s->tensors[e->tensor];
        int resident = i < s->h.n_resident;
        if (e->level != levels[e->tensor] || e->level >= t->n_levels || (resident != (e->level == 0)))
            st = bs_fail(BS_ERR_FORMAT, ".bstk: index entry %u: level %u of tensor %u out of order", i,
                         e->level, e->tensor);
        else if (e->offset < end || e->offset % BSTK_ALIGN || e->size != bstk_payload_size(t, e->level) ||
                 e->size > s->h.file_size || e->offset > s->h.file_size - e->size)
            st = bs_fail(BS_ERR_FORMAT, ".bstk: index entry %u: bad offset %llu or size %llu", i,
                         (unsigned long long)e->offset, (unsigned long long)e->size);
        levels[e->tensor]++;
        end = e->offset + e->size;
        if (resident) s->resident_bytes += (int64_t)e->size;
        if (resident && (t->kind == BS_LIN_AVD || t->kind == BS_LIN_PLANES))
            s->stacked_resident_bytes += (int64_t)e->size;
    }
    for (uint32_t t = 0; t < s->h.n_tensors && st == BS_OK; t++)
        if (levels[t] != s->tensors[t].n_levels)
            st = bs_fail(BS_ERR_FORMAT, ".bstk: tensor %u has %u of its %u levels in the index", t, levels[t],
                         s->tensors[t].n_levels);
    if (st == BS_OK && end != s->h.file_size)
        st = bs_fail(BS_ERR_FORMAT, ".bstk: payloads end at %llu, header says the file has %llu bytes",
                     (unsigned long long)end, (unsigned long long)s->h.file_size);
    free(levels);
    return st;
}

/* How many entries a source of `size` bytes holds; a source must end on an
   entry boundary (or its 64-byte padding) past the resident section. */
static bs_status available_entries(const bs_stack *s, uint64_t size, uint32_t *n_avail) {
    uint32_t n = 0;
    while (n < s->h.n_entries && s->entries[n].offset + s->entries[n].size <= size) n++;
    if (n < s->h.n_resident)
        return bs_fail(BS_ERR_TRUNCATED, ".bstk: file ends inside the resident section (entry %u of %u; %llu bytes)",
                       n, s->h.n_resident, (unsigned long long)size);
    if (n < s->h.n_entries) {
        uint64_t end = n ? s->entries[n - 1].offset + s->entries[n - 1].size : s->h.data_offset;
        if (size != end && size != bstk_align(end))
            return bs_fail(BS_ERR_TRUNCATED, ".bstk: file ends inside block %u (at byte %llu; blocks end at %llu)",
                           n - s->h.n_resident, (unsigned long long)size, (unsigned long long)end);
    }
    *n_avail = n;
    return BS_OK;
}

/* ---- payloads: attach and detach --------------------------------------------- */

/* A buffer for entry i: its payload, 64-aligned. */
static void *payload_alloc(const bs_stack *s, uint32_t i) {
    uint64_t n = bstk_align(s->entries[i].size);
    return aligned_alloc(BSTK_ALIGN, (size_t)(n ? n : BSTK_ALIGN));
}

static void attach(bs_model *m, bs_stack *s, uint32_t i, void *data) {
    const bstk_entry *e = &s->entries[i];
    const bstk_tensor *t = &s->tensors[e->tensor];
    bs_linear *l = tensor_linear(m, t);
    s->payload[i] = data;
    s->loaded_bytes += (int64_t)e->size;
    if (!l) { /* a norm */
        float *w = data;
        if (t->role == BSTK_ROLE_OUTPUT_NORM) m->out_norm = w;
        else if (t->role == BSTK_ROLE_ATTN_NORM) m->layers[t->layer].attn_norm = w;
        else m->layers[t->layer].ffn_norm = w;
        return;
    }
    switch (l->kind) {
    case BS_LIN_F32: l->w = data; break;
    case BS_LIN_F16: l->w16 = data; break;
    case BS_LIN_AVD: {
        bs_avd_block *b = &l->avd[e->level];
        b->a = data;
        b->b = b->a + (size_t)t->rows * t->rank;
        b->signs = (const uint8_t *)(b->b + (size_t)t->rank * t->cols);
        l->n_blocks = (int32_t)e->level + 1;
        break;
    }
    case BS_LIN_PLANES:
        if (e->level == 0) { /* FORMAT.md 5: channels kept apart, sign flips, scales, plane 0 */
            int32_t gpr = bs_groups_per_row(l->cols, l->group);
            l->n_out = (int32_t)t->outliers;
            l->out_idx = data;
            l->out_val = (const uint16_t *)(l->out_idx + t->outliers);
            l->rot_log2 = t->rotation;
            l->rot_signs = t->rotation ? (const uint8_t *)(l->out_val + (size_t)t->rows * t->outliers) : NULL;
            const uint16_t *scales = (const uint16_t *)((const uint8_t *)data + bstk_planes_prefix_size(t));
            l->planes[0] = (const uint8_t *)scales + bstk_scales_size(t, (uint64_t)gpr);
            if (bstk_scale_code(t) == BSTK_SCALES_CODE8) { /* read as they are: the kernels decode */
                l->scale_ref = scales;
                l->scale_codes = (const uint8_t *)(scales + t->rows);
                l->scales = NULL;
            } else {
                l->scales = scales;
            }
        } else {
            l->planes[e->level] = data;
        }
        /* into the kernels' layout, in place (planes_pack.h); a bulk load
           packs each matrix once at the end instead (pack_all), from
           plain planes */
        if (!s->defer_pack) {
            bs_planes_attach(l, (int)e->level, s->pack_tmp);
        } else if (l->packed) {
            bs_planes_unpack(l, s->pack_tmp);
        }
        l->n_blocks = (int32_t)e->level + 1;
        break;
    }
}

static void detach_last(bs_model *m, bs_stack *s) {
    uint32_t i = --s->n_loaded;
    const bstk_entry *e = &s->entries[i];
    bs_linear *l = tensor_linear(m, &s->tensors[e->tensor]);
    if (l && l->kind == BS_LIN_PLANES && l->packed) bs_planes_detach(l, s->pack_tmp); /* the others repacked without it */
    if (l) l->n_blocks = (int32_t)e->level;
    s->loaded_bytes -= (int64_t)e->size;
    free(s->payload[i]);
    s->payload[i] = NULL;
}

/* What the checksum cannot vouch for in a payload that passed it: the
   columns of channels kept apart must be increasing and inside the row. */
static bs_status check_content(const bs_stack *s, uint32_t i, const void *data) {
    const bstk_entry *e = &s->entries[i];
    const bstk_tensor *t = &s->tensors[e->tensor];
    if (t->kind != BS_LIN_PLANES || e->level != 0) return BS_OK;
    const uint8_t *p = data;
    for (uint32_t k = 0; k < t->outliers; k++) {
        uint32_t c = r32(p + 4 * (size_t)k), prev = k ? r32(p + 4 * (size_t)(k - 1)) : 0;
        if (c >= t->cols || (k > 0 && c <= prev))
            return bs_fail(BS_ERR_FORMAT, ".bstk: entry %u (tensor %u): channel kept apart %u is out of order or range",
                           i, e->tensor, c);
    }
    if (bstk_scale_code(t) != BSTK_SCALES_CODE8) return BS_OK;
    const uint8_t *ref = p + bstk_planes_prefix_size(t);
    for (uint32_t r = 0; r < t->rows; r++) {
        uint16_t h = r16(ref + 2 * (size_t)r);
        if (h < BS_SCALE_MIN || h > BS_SCALE_MAX)
            return bs_fail(BS_ERR_FORMAT, ".bstk: entry %u (tensor %u): row %u has scale reference 0x%04x", i,
                           e->tensor, r, h);
    }
    return BS_OK;
}

/* Copies and verifies payload i, then attaches it. */
static bs_status attach_bytes(bs_model *m, bs_stack *s, uint32_t i, const void *src, size_t n) {
    const bstk_entry *e = &s->entries[i];
    if (n != e->size)
        return bs_fail(BS_ERR_FORMAT, ".bstk: block %u has %zu bytes, the index says %llu", i, n,
                       (unsigned long long)e->size);
    if (bs_crc32c(0, src, n) != e->crc)
        return bs_fail(BS_ERR_CHECKSUM, ".bstk: checksum mismatch in entry %u (tensor %u level %u)", i,
                       e->tensor, e->level);
    BS_TRY(check_content(s, i, src));
    void *buf = payload_alloc(s, i);
    if (!buf) return bs_fail(BS_ERR_NOMEM, "out of memory for a %zu-byte block", n);
    memcpy(buf, src, n);
    attach(m, s, i, buf);
    s->n_loaded = i + 1;
    return BS_OK;
}

/* Reads entry i from the stack's reader and attaches it. */
static bs_status load_entry(bs_model *m, bs_stack *s, uint32_t i) {
    const bstk_entry *e = &s->entries[i];
    void *buf = payload_alloc(s, i);
    if (!buf) return bs_fail(BS_ERR_NOMEM, "out of memory for a %llu-byte block", (unsigned long long)e->size);
    bs_status st = bs_reader_read(&s->reader, e->offset, buf, (size_t)e->size);
    if (st == BS_OK && bs_crc32c(0, buf, (size_t)e->size) != e->crc)
        st = bs_fail(BS_ERR_CHECKSUM, "%s: checksum mismatch in entry %u (tensor %u level %u)", s->reader.name, i,
                     e->tensor, e->level);
    if (st == BS_OK) st = check_content(s, i, buf);
    if (st != BS_OK) {
        free(buf);
        return st;
    }
    attach(m, s, i, buf);
    s->n_loaded = i + 1;
    return BS_OK;
}

/* ---- loading -------------------------------------------------------------------- */

/* Reads [off, off + n) into a fresh buffer and checks its CRC. */
static bs_status read_section(bs_reader *r, uint64_t off, uint64_t n, uint32_t crc, const char *what,
                              uint8_t **out) {
    *out = bs_malloc((size_t)(n ? n : 1), 1);
    if (!*out) return BS_ERR_NOMEM;
    BS_TRY(bs_reader_read(r, off, *out, (size_t)n));
    if (bs_crc32c(0, *out, (size_t)n) != crc) return bs_fail(BS_ERR_CHECKSUM, ".bstk: %s checksum mismatch", what);
    return BS_OK;
}

static bs_status import_head(bs_reader *r, bs_model *m, bs_stack *s) {
    uint8_t hb[BSTK_HEADER_SIZE];
    BS_TRY(bs_reader_read(r, 0, hb, BSTK_HEADER_SIZE));
    BS_TRY(decode_header(hb, r->size, &s->h));
    uint8_t *tens = NULL, *index = NULL;
    bs_status st = read_section(r, s->h.meta_offset, s->h.meta_size, s->h.meta_crc, "metadata", &s->head);
    if (st == BS_OK)
        st = read_section(r, s->h.tensors_offset, (uint64_t)s->h.n_tensors * BSTK_TENSOR_SIZE, s->h.tensors_crc,
                          "tensor table", &tens);
    if (st == BS_OK)
        st = read_section(r, s->h.index_offset, (uint64_t)s->h.n_entries * BSTK_ENTRY_SIZE, s->h.index_crc,
                          "index", &index);
    if (st == BS_OK) st = bs_meta_parse(s->head, s->h.meta_size, &s->meta);
    if (st == BS_OK) st = read_config(&s->meta, &m->cfg);
    if (st == BS_OK) st = read_tokenizer(&s->meta, m->cfg.vocab_size, &m->tok);
    const char *tpl;
    uint32_t tlen;
    int found = 0;
    if (st == BS_OK) st = bs_meta_get_string(&s->meta, "chat.template", &tpl, &tlen, &found);
    if (st == BS_OK && found && !(m->chat_template = bs_strndup(tpl, tlen))) st = BS_ERR_NOMEM;
    if (st == BS_OK) st = wire_tensors(m, s, tens);
    if (st == BS_OK) st = read_index(s, index);
    free(tens);
    free(index);
    return st;
}

/* Packs every PLANES matrix whose planes were attached plain (a bulk
   load): each weight's bits are rewritten once, not once per plane. */
static void pack_all(bs_model *m, bs_stack *s) {
    for (uint32_t t = 0; t < s->h.n_tensors; t++) {
        bs_linear *l = tensor_linear(m, &s->tensors[t]);
        if (!l || l->kind != BS_LIN_PLANES || l->packed || l->n_blocks == 0) continue;
        int n = l->n_blocks;
        l->n_blocks = n - 1; /* plain planes 0 .. n-1: attaching the last packs all of them */
        bs_planes_attach(l, n - 1, s->pack_tmp);
        l->n_blocks = n;
    }
}

bs_status bs_import_bstk(bs_reader *r, bs_model *m, int64_t budget) {
    bs_stack *s = bs_calloc(1, sizeof *s);
    if (!s) return BS_ERR_NOMEM;
    m->stack = s;
    m->format = "bstk";
    BS_TRY(import_head(r, m, s));
    BS_TRY(available_entries(s, r->size, &s->n_avail));
    if (budget > 0 && budget < s->resident_bytes)
        return bs_fail(BS_ERR_RANGE, "budget of %lld bytes is below the resident size of %lld bytes",
                       (long long)budget, (long long)s->resident_bytes);
    s->reader = *r;
    s->defer_pack = 1;
    bs_status st = BS_OK;
    for (uint32_t i = 0; i < s->h.n_resident && st == BS_OK; i++) st = load_entry(m, s, i);
    int64_t used = s->loaded_bytes;
    for (uint32_t i = s->h.n_resident; i < s->n_avail && budget >= 0 && st == BS_OK; i++) {
        if (budget > 0 && used + (int64_t)s->entries[i].size > budget) break;
        st = load_entry(m, s, i);
        used += (int64_t)s->entries[i].size;
    }
    pack_all(m, s); /* also after a failure: the model stays consistent */
    s->defer_pack = 0;
    BS_TRY(st);
    if (r->file) { /* keep the file open to grow the stack later */
        s->own_reader = 1;
        r->file = NULL;
    } else {
        memset(&s->reader, 0, sizeof s->reader);
    }
    return BS_OK;
}

void bs_stack_free(bs_stack *s) {
    if (!s) return;
    for (uint32_t i = 0; s->payload && i < s->h.n_entries; i++) free(s->payload[i]);
    if (s->own_reader) bs_reader_close(&s->reader);
    free(s->payload);
    free(s->pack_tmp);
    free(s->entries);
    free(s->tensors);
    bs_meta_free(&s->meta);
    free(s->head);
    free(s);
}

/* ---- public stack API ------------------------------------------------------------ */

bs_status bs_model_stack_info(const bs_model *m, bs_stack_info *out) {
    if (!m || !out) return bs_fail(BS_ERR_INVALID_ARG, "bs_model_stack_info: NULL argument");
    memset(out, 0, sizeof *out);
    const bs_stack *s = m->stack;
    if (!s) return bs_fail(BS_ERR_STATE, "the model is not a .bstk stack");
    out->n_blocks = (int32_t)(s->h.n_entries - s->h.n_resident);
    out->n_available = (int32_t)(s->n_avail - s->h.n_resident);
    out->n_loaded = (int32_t)(s->n_loaded - s->h.n_resident);
    out->resident_bytes = s->resident_bytes;
    out->loaded_bytes = s->loaded_bytes;
    out->full_bytes = s->resident_bytes;
    for (uint32_t i = s->h.n_resident; i < s->h.n_entries; i++) out->full_bytes += (int64_t)s->entries[i].size;
    out->stacked_params = s->stacked_params;
    out->stacked_bytes = s->loaded_bytes - (s->resident_bytes - s->stacked_resident_bytes);
    return BS_OK;
}

int32_t bs_model_blocks_for_budget(const bs_model *m, int64_t budget) {
    const bs_stack *s = m ? m->stack : NULL;
    if (!s || budget < s->resident_bytes) return -1;
    int64_t used = s->resident_bytes;
    uint32_t i = s->h.n_resident;
    while (i < s->h.n_entries && used + (int64_t)s->entries[i].size <= budget) used += (int64_t)s->entries[i++].size;
    return (int32_t)(i - s->h.n_resident);
}

int64_t bs_model_block_bytes(const bs_model *m, int32_t block) {
    const bs_stack *s = m ? m->stack : NULL;
    if (!s || block < 0 || (uint32_t)block >= s->h.n_entries - s->h.n_resident) return -1;
    return (int64_t)s->entries[s->h.n_resident + (uint32_t)block].size;
}

bs_status bs_model_set_blocks(bs_model *m, int32_t n) {
    bs_stack *s = m ? m->stack : NULL;
    if (!s) return bs_fail(BS_ERR_STATE, "the model is not a .bstk stack");
    if (n < 0 || (uint32_t)n > s->h.n_entries - s->h.n_resident)
        return bs_fail(BS_ERR_RANGE, "%d blocks requested; the stack has %u", n, s->h.n_entries - s->h.n_resident);
    uint32_t want = s->h.n_resident + (uint32_t)n;
    while (s->n_loaded > want) detach_last(m, s);
    if (s->n_loaded < want && (!s->own_reader || want > s->n_avail))
        return bs_fail(BS_ERR_STATE, "blocks past %u are not available here (push them with bs_model_attach_block)",
                       s->n_loaded - s->h.n_resident);
    int outer = s->defer_pack; /* growing by many blocks: pack once at the end */
    s->defer_pack = 1;
    bs_status st = BS_OK;
    while (s->n_loaded < want && st == BS_OK) st = load_entry(m, s, s->n_loaded);
    if (!outer) pack_all(m, s), s->defer_pack = 0;
    return st;
}

bs_status bs_model_defer_layout(bs_model *m, int32_t on) {
    bs_stack *s = m ? m->stack : NULL;
    if (!s) return bs_fail(BS_ERR_STATE, "the model is not a .bstk stack");
    if (on) s->defer_pack = 1;
    else if (s->defer_pack) pack_all(m, s), s->defer_pack = 0;
    return BS_OK;
}

bs_status bs_model_attach_block(bs_model *m, int32_t block, const void *data, size_t size) {
    bs_stack *s = m ? m->stack : NULL;
    if (!s || (!data && size)) return bs_fail(BS_ERR_INVALID_ARG, "bs_model_attach_block: bad arguments");
    uint32_t i = s->h.n_resident + (uint32_t)block;
    if (block < 0 || i != s->n_loaded)
        return bs_fail(BS_ERR_STATE, "block %d attached out of order (next is %u)", block, s->n_loaded - s->h.n_resident);
    if (i >= s->h.n_entries) return bs_fail(BS_ERR_RANGE, "block %d: the stack has %u", block, s->h.n_entries - s->h.n_resident);
    return attach_bytes(m, s, i, data, size);
}
