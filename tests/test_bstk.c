/* test_bstk.c - the .bstk file: every block-boundary prefix is a model,
 * anything else is a clear error; compression is deterministic; the stack
 * grows and shrinks on a live model; budgets select prefixes. */
#include "bitstack.h"
#include "bstk.h"
#include "compress.h"
#include "test.h"

#include <unistd.h>

static const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int i = 0;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/test_bstk_%d_%s", BS_BINARY_DIR, (int)getpid(), name);
    return buf[i];
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n + 1);
    if (b && fread(b, 1, *n, f) != *n) *n = 0;
    fclose(f);
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(b, 1, n, f);
        fclose(f);
    }
}

static bs_model *load_float(void) {
    bs_load_options o = {test_path(BS_SHARED_DIR, "models/stories260K/tok512.bin"), 0, 0};
    bs_model *m = NULL;
    CHECK_OK(bs_model_load(test_path(BS_SHARED_DIR, "models/stories260K/stories260K.bin"), &o, &m));
    return m;
}

/* Compresses stories260K with small, fast settings. */
static bs_status compress_to(const char *out, bs_method method, bs_order_kind order, int32_t scale_bits) {
    bs_model *m = load_float();
    if (!m) return BS_ERR_IO;
    const char *text = "Once upon a time, there was a little girl named Lily. She loved to play outside. "
                       "One day she saw a big red ball in the park and ran to get it. Her mom said: be careful! "
                       "Tom and Sue were friends. They liked to build castles of sand by the sea. ";
    int32_t ids[4096], n = 0, len = 0;
    char buf[8192] = "";
    while (len + (int32_t)strlen(text) < (int32_t)sizeof buf - 1) {
        strcat(buf, text);
        len += (int32_t)strlen(text);
    }
    CHECK_OK(bs_tokenize(m, buf, strlen(buf), BS_TOKENIZE_BOS, ids, 4096, &n));
    bs_compress_params p = bs_compress_default_params();
    p.method = method;
    p.order = order;
    p.scale_bits = scale_bits;
    p.sort = BS_SORT_EXACT;
    p.blocks = method == BS_METHOD_AVD ? 3 : 4;
    p.calib_windows = 2;
    p.sort_windows = 1;
    p.curve_windows = 1;
    p.ctx = 64;
    p.threads = 2;
    bs_compress_report rep;
    bs_status st = bs_compress(m, ids, n, &p, out, &rep);
    bs_model_free(m);
    return st;
}

/* Greedy tokens of a model, to check that it runs. */
static int run_tokens(bs_model *m, int32_t *out, int n) {
    bs_session *s = NULL;
    if (bs_session_create(m, NULL, &s) != BS_OK) return 0;
    int32_t tok = 1;
    const float *lg;
    int k = 0;
    for (; k < n; k++) {
        if (bs_session_eval(s, &tok, 1, &lg) != BS_OK) break;
        int32_t best = 0;
        for (int32_t i = 1; i < 512; i++)
            if (lg[i] > lg[best]) best = i;
        out[k] = tok = best;
    }
    bs_session_free(s);
    return k;
}

/* The logits after BOS (vocabulary 512): bit for bit, what the model is. */
static void bos_logits(bs_model *m, float *out) {
    bs_session *s = NULL;
    const float *lg = NULL;
    int32_t tok = 1;
    memset(out, 0, 512 * sizeof *out);
    if (bs_session_create(m, NULL, &s) == BS_OK && bs_session_eval(s, &tok, 1, &lg) == BS_OK)
        memcpy(out, lg, 512 * sizeof *out);
    bs_session_free(s);
}

/* Blocks pushed by the caller (the network path) that must be refused, each
   leaving the model as it was: out of order, negative, past the end of the
   stack, one byte short or long, a flipped byte, no data. */
static void test_attach_faults(const char *file) {
    size_t n = 0;
    unsigned char *bytes = slurp(file, &n);
    bs_model *m = NULL;
    bs_load_options res = {NULL, 0, 1};
    CHECK_OK(bs_model_load(file, &res, &m));
    if (!m || !bytes) {
        free(bytes);
        bs_model_free(m);
        return;
    }
    const bs_stack *st = m->stack;
    const uint32_t first = st->h.n_resident;
    const int32_t n_blocks = (int32_t)(st->h.n_entries - first);
    static float before[512], after[512];
    bs_stack_info si;
    for (int32_t b = 0; b <= n_blocks; b++) {
        bos_logits(m, before);
        /* block b is next; b == n_blocks: the stack is complete, anything more is past its end */
        const bstk_entry *e = b < n_blocks ? &st->entries[first + b] : &st->entries[first + b - 1];
        size_t size = (size_t)e->size;
        unsigned char *buf = malloc(size + 1);
        memcpy(buf, bytes + e->offset, size);
        buf[size] = 0;
        if (b == n_blocks) {
            CHECK_STATUS(bs_model_attach_block(m, b, buf, size), BS_ERR_RANGE);
        } else {
            CHECK_STATUS(bs_model_attach_block(m, b + 1, buf, size), BS_ERR_STATE);
            CHECK_STATUS(bs_model_attach_block(m, -1, buf, size), BS_ERR_STATE);
            CHECK_STATUS(bs_model_attach_block(m, b, buf, size - 1), BS_ERR_FORMAT);
            CHECK_STATUS(bs_model_attach_block(m, b, buf, size + 1), BS_ERR_FORMAT);
            CHECK_STATUS(bs_model_attach_block(m, b, NULL, size), BS_ERR_INVALID_ARG);
            buf[size / 2] ^= 0x10;
            CHECK_STATUS(bs_model_attach_block(m, b, buf, size), BS_ERR_CHECKSUM);
            buf[size / 2] ^= 0x10;
        }
        CHECK_OK(bs_model_stack_info(m, &si));
        CHECK_EQ_INT(si.n_loaded, b);
        bos_logits(m, after);
        CHECK(memcmp(before, after, sizeof before) == 0); /* the refused pushes changed nothing */
        if (b < n_blocks) CHECK_OK(bs_model_attach_block(m, b, buf, size));
        free(buf);
    }
    /* every block pushed: the model is the whole file's */
    bs_model *full = NULL;
    CHECK_OK(bs_model_load(file, NULL, &full));
    if (full) {
        bos_logits(full, before);
        bos_logits(m, after);
        CHECK(memcmp(before, after, sizeof before) == 0);
    }
    bs_model_free(full);
    bs_model_free(m);
    free(bytes);
}

static void test_deterministic(void) {
    CHECK_OK(compress_to(tmp_path("a.bstk"), BS_METHOD_AVD, BS_ORDER_LEVEL, 0));
    CHECK_OK(compress_to(tmp_path("b.bstk"), BS_METHOD_AVD, BS_ORDER_LEVEL, 0));
    size_t na = 0, nb = 0;
    unsigned char *a = slurp(tmp_path("a.bstk"), &na), *b = slurp(tmp_path("b.bstk"), &nb);
    CHECK(a && b && na == nb && na > 0 && memcmp(a, b, na) == 0);
    free(a);
    free(b);
    remove(tmp_path("b.bstk"));
}

/* Cuts at every block boundary load and run; cuts inside blocks fail. */
static void test_prefixes(const char *file) {
    size_t n = 0;
    unsigned char *bytes = slurp(file, &n);
    bs_model *full = NULL;
    CHECK_OK(bs_model_load(file, NULL, &full));
    if (!bytes || !full) return;
    const bs_stack *s = full->stack;
    uint32_t boundaries = 0, bad_cuts = 0;
    for (uint32_t i = s->h.n_resident - 1; i < s->h.n_entries; i++) {
        uint64_t end = s->entries[i].offset + s->entries[i].size;
        spit(tmp_path("cut.bstk"), bytes, (size_t)end);
        bs_model *m = NULL;
        bs_status st = bs_model_load(tmp_path("cut.bstk"), NULL, &m);
        CHECK_MSG(st == BS_OK, "cut at %llu (after entry %u): %s", (unsigned long long)end, i, bs_last_error());
        bs_stack_info si;
        if (m && bs_model_stack_info(m, &si) == BS_OK) {
            CHECK_EQ_INT(si.n_loaded, (int32_t)(i + 1 - s->h.n_resident));
            int32_t toks[4];
            CHECK_EQ_INT(run_tokens(m, toks, 4), 4);
        }
        bs_model_free(m);
        boundaries++;
        if (i + 1 < s->h.n_entries && s->entries[i + 1].size > 2) { /* a cut inside the next block */
            uint64_t mid = s->entries[i + 1].offset + s->entries[i + 1].size / 2;
            spit(tmp_path("cut.bstk"), bytes, (size_t)mid);
            CHECK_STATUS(bs_model_load(tmp_path("cut.bstk"), NULL, &m), BS_ERR_TRUNCATED);
            CHECK(m == NULL && strstr(bs_last_error(), "inside block"));
            bad_cuts++;
        }
    }
    /* cuts in the head and the resident section */
    uint64_t cuts[] = {0, 5, 95, 96, s->h.data_offset - 1, s->entries[0].offset + 10};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        spit(tmp_path("cut.bstk"), bytes, (size_t)cuts[k]);
        bs_model *m = NULL;
        bs_status st = bs_model_load(tmp_path("cut.bstk"), NULL, &m);
        CHECK_MSG(st == BS_ERR_TRUNCATED || st == BS_ERR_FORMAT, "cut at %llu: %s", (unsigned long long)cuts[k],
                  bs_status_name(st));
        CHECK(m == NULL);
    }
    fprintf(stderr, "%s: %u block-boundary prefixes loaded and ran, %u mid-block cuts rejected\n", file, boundaries,
            bad_cuts);
    bs_model_free(full);
    free(bytes);
}

/* A flipped byte anywhere in a payload or a head section is caught. */
static void test_corruption(const char *file) {
    size_t n = 0;
    unsigned char *bytes = slurp(file, &n);
    bs_model *full = NULL;
    CHECK_OK(bs_model_load(file, NULL, &full));
    if (!bytes || !full) return;
    const bs_stack *s = full->stack;
    for (uint32_t i = 0; i < s->h.n_entries; i += 7) {
        uint64_t at = s->entries[i].offset + (s->entries[i].size * 3) / 4;
        bytes[at] ^= 0x20;
        spit(tmp_path("bad.bstk"), bytes, n);
        bytes[at] ^= 0x20;
        bs_model *m = NULL;
        CHECK_STATUS(bs_model_load(tmp_path("bad.bstk"), NULL, &m), BS_ERR_CHECKSUM);
        CHECK(m == NULL);
    }
    uint64_t heads[] = {20, s->h.meta_offset + 9, s->h.tensors_offset + 3, s->h.index_offset + 17};
    for (size_t k = 0; k < 4; k++) {
        bytes[heads[k]] ^= 1;
        spit(tmp_path("bad.bstk"), bytes, n);
        bytes[heads[k]] ^= 1;
        bs_model *m = NULL;
        CHECK_STATUS(bs_model_load(tmp_path("bad.bstk"), NULL, &m), BS_ERR_CHECKSUM);
    }
    /* a newer major version; a wrong magic */
    unsigned char keep[8];
    memcpy(keep, bytes, 8);
    bytes[8] = 2;
    spit(tmp_path("bad.bstk"), bytes, n);
    bs_model *m = NULL;
    CHECK_STATUS(bs_model_load(tmp_path("bad.bstk"), NULL, &m), BS_ERR_VERSION);
    CHECK(strstr(bs_last_error(), "version 2.3") != NULL);
    bytes[8] = 1;
    bytes[4] = 'X';
    spit(tmp_path("bad.bstk"), bytes, n);
    CHECK_STATUS(bs_model_load(tmp_path("bad.bstk"), NULL, &m), BS_ERR_FORMAT);
    memcpy(bytes, keep, 8);
    remove(tmp_path("bad.bstk"));
    remove(tmp_path("cut.bstk"));
    bs_model_free(full);
    free(bytes);
}

/* Grow and shrink on a live model: the same prefix gives the same tokens
   whichever way it was reached, and budgets pick the longest fit. */
static void test_grow_shrink(const char *file) {
    bs_model *m = NULL;
    bs_load_options o = {NULL, 0, 1};
    CHECK_OK(bs_model_load(file, &o, &m));
    bs_model *full = NULL;
    CHECK_OK(bs_model_load(file, NULL, &full));
    if (!m || !full) return;
    bs_stack_info si;
    CHECK_OK(bs_model_stack_info(m, &si));
    CHECK_EQ_INT(si.n_loaded, 0);
    CHECK_EQ_INT(si.loaded_bytes, si.resident_bytes);
    int32_t half = si.n_blocks / 2, a[6], b[6], c[6];
    CHECK_OK(bs_model_set_blocks(m, half));
    run_tokens(m, a, 6);
    CHECK_OK(bs_model_set_blocks(m, si.n_blocks));
    CHECK_OK(bs_model_set_blocks(full, half));
    run_tokens(full, b, 6);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK_OK(bs_model_set_blocks(m, half));
    run_tokens(m, c, 6);
    CHECK(memcmp(a, c, sizeof a) == 0);
    CHECK_STATUS(bs_model_set_blocks(m, si.n_blocks + 1), BS_ERR_RANGE);
    /* budgets */
    int64_t budget = si.resident_bytes;
    for (int32_t k = 0; k < 5; k++) budget += bs_model_block_bytes(m, k);
    CHECK_EQ_INT(bs_model_blocks_for_budget(m, budget), 5);
    CHECK_EQ_INT(bs_model_blocks_for_budget(m, budget - 1), 4);
    CHECK_EQ_INT(bs_model_blocks_for_budget(m, si.resident_bytes - 1), -1);
    bs_model *b5 = NULL;
    bs_load_options ob = {NULL, budget, 0};
    CHECK_OK(bs_model_load(file, &ob, &b5));
    bs_stack_info s5;
    if (b5) CHECK_OK(bs_model_stack_info(b5, &s5));
    CHECK(b5 && s5.n_loaded == 5 && s5.loaded_bytes == budget);
    /* blocks pushed by the caller (the network path), with a bad checksum first */
    size_t n = 0;
    unsigned char *bytes = slurp(file, &n);
    CHECK_OK(bs_model_set_blocks(m, 0));
    const bs_stack *st = m->stack;
    bs_model_free(m);
    m = NULL;
    bs_load_options res = {NULL, 0, 1};
    CHECK_OK(bs_model_load(file, &res, &m));
    st = m ? m->stack : NULL;
    if (st && bytes) {
        const bstk_entry *e = &st->entries[st->h.n_resident];
        unsigned char *copy = malloc((size_t)e->size);
        memcpy(copy, bytes + e->offset, (size_t)e->size);
        copy[0] ^= 1;
        CHECK_STATUS(bs_model_attach_block(m, 0, copy, (size_t)e->size), BS_ERR_CHECKSUM);
        copy[0] ^= 1;
        CHECK_STATUS(bs_model_attach_block(m, 1, copy, (size_t)e->size), BS_ERR_STATE);
        CHECK_OK(bs_model_attach_block(m, 0, copy, (size_t)e->size));
        free(copy);
        CHECK_OK(bs_model_stack_info(m, &si));
        CHECK_EQ_INT(si.n_loaded, 1);
    }
    free(bytes);
    bs_model_free(b5);
    bs_model_free(full);
    bs_model_free(m);
}

/* The planes of every PLANES matrix of a and b hold the same bytes (the
   kernels' packed layout, planes_pack.h, however the blocks came in). */
static int same_planes(bs_model *a, bs_model *b) {
    int same = 1;
    for (int32_t L = -1; L < a->cfg.n_layers; L++)
        for (int k = 0; k < (L < 0 ? 2 : 7); k++) {
            bs_linear *la = L < 0 ? (k ? &a->lm_head : &a->embed) : bs_layer_linear(&a->layers[L], k);
            bs_linear *lb = L < 0 ? (k ? &b->lm_head : &b->embed) : bs_layer_linear(&b->layers[L], k);
            if (la->kind != BS_LIN_PLANES) continue;
            same &= la->n_blocks == lb->n_blocks && la->packed == lb->packed;
            for (int32_t i = 0; same && i < la->n_blocks; i++)
                same &= memcmp(la->planes[i], lb->planes[i], (size_t)la->rows * bs_row_bytes(la->cols)) == 0;
        }
    return same;
}

/* The first eval's logits (512 of them) of a model. */
static void first_logits(bs_model *m, float *out) {
    bs_session *s = NULL;
    const float *lg = NULL;
    int32_t tok = 1;
    memset(out, 0, 512 * sizeof *out);
    if (bs_session_create(m, NULL, &s) == BS_OK && bs_session_eval(s, &tok, 1, &lg) == BS_OK)
        memcpy(out, lg, 512 * sizeof *out);
    bs_session_free(s);
}

/* Blocks pushed one by one (planes repacked at each attach), pushed with
   the layout deferred (packed once at the end), or loaded from the file:
   the same bytes in every matrix and the same logits, at every prefix on
   the way down too (detaching repacks). */
static void test_layouts(const char *file) {
    size_t n = 0;
    unsigned char *bytes = slurp(file, &n);
    bs_model *full = NULL, *one = NULL, *bulk = NULL;
    bs_load_options res = {NULL, 0, 1};
    CHECK_OK(bs_model_load(file, NULL, &full));
    CHECK_OK(bs_model_load(file, &res, &one));
    CHECK_OK(bs_model_load(file, &res, &bulk));
    if (!bytes || !full || !one || !bulk) return;
    const bs_stack *st = one->stack;
    CHECK_OK(bs_model_defer_layout(bulk, 1));
    for (uint32_t i = st->h.n_resident; i < st->h.n_entries; i++) {
        const bstk_entry *e = &st->entries[i];
        int32_t block = (int32_t)(i - st->h.n_resident);
        CHECK_OK(bs_model_attach_block(one, block, bytes + e->offset, (size_t)e->size));
        CHECK_OK(bs_model_attach_block(bulk, block, bytes + e->offset, (size_t)e->size));
    }
    CHECK_OK(bs_model_defer_layout(bulk, 0));
    CHECK(same_planes(one, full));
    CHECK(same_planes(bulk, full));
    float a[512], b[512];
    first_logits(full, a);
    first_logits(one, b);
    CHECK(memcmp(a, b, sizeof a) == 0);
    int32_t nb = (int32_t)(st->h.n_entries - st->h.n_resident);
    for (int32_t k = nb - 1; k >= 0; k -= 1 + nb / 7) { /* down, then a fresh load of that prefix */
        CHECK_OK(bs_model_set_blocks(one, k));
        bs_model *pre = NULL;
        int64_t budget = st->resident_bytes;
        for (int32_t j = 0; j < k; j++) budget += bs_model_block_bytes(one, j);
        bs_load_options o = {NULL, budget, k == 0};
        CHECK_OK(bs_model_load(file, &o, &pre));
        if (!pre) break;
        CHECK_MSG(same_planes(one, pre), "%d blocks: detached planes differ from a load of that prefix", k);
        first_logits(one, a);
        first_logits(pre, b);
        CHECK(memcmp(a, b, sizeof a) == 0);
        bs_model_free(pre);
    }
    CHECK_STATUS(bs_model_defer_layout(NULL, 1), BS_ERR_STATE);
    free(bytes);
    bs_model_free(full);
    bs_model_free(one);
    bs_model_free(bulk);
}

/* The paper's order: at every prefix the block counts of the matrices
   differ by at most one (levels are completed one after another). */
static void test_level_order(const char *file) {
    bs_model *m = NULL;
    CHECK_OK(bs_model_load(file, NULL, &m));
    if (!m) return;
    const bs_stack *s = m->stack;
    uint32_t *levels = calloc(s->h.n_tensors, sizeof *levels);
    int ok = 1;
    for (uint32_t i = 0; i < s->h.n_entries; i++) {
        uint32_t t = s->entries[i].tensor, lv = s->entries[i].level;
        levels[t] = lv + 1;
        if (s->tensors[t].kind < BS_LIN_AVD) continue;
        for (uint32_t u = 0; u < s->h.n_tensors; u++)
            if (s->tensors[u].kind >= BS_LIN_AVD && levels[u] + 1 < levels[t]) ok = 0;
    }
    CHECK(ok);
    free(levels);
    bs_model_free(m);
}

/* A float model refuses stack calls. */
static void test_float_model(void) {
    bs_model *m = load_float();
    bs_stack_info si;
    CHECK_STATUS(bs_model_stack_info(m, &si), BS_ERR_STATE);
    CHECK_STATUS(bs_model_set_blocks(m, 1), BS_ERR_STATE);
    bs_model_free(m);
}

int main(void) {
    char avd[512], planes[512]; /* tmp_path's buffers are reused */
    snprintf(avd, sizeof avd, "%s", tmp_path("a.bstk"));
    snprintf(planes, sizeof planes, "%s", tmp_path("p.bstk"));
    RUN(test_deterministic);
    test_level_order(avd);
    test_prefixes(avd);
    test_corruption(avd);
    test_grow_shrink(avd);
    test_attach_faults(avd);
    /* bit planes with each kind of stored scale (stories260K's matrices are
       narrow: auto picks binary16; 8 forces the 8-bit codes) */
    for (int32_t bits = 16; bits >= 8; bits -= 8) {
        CHECK_OK(compress_to(planes, BS_METHOD_PLANES, BS_ORDER_BYTE, bits));
        test_prefixes(planes);
        test_corruption(planes);
        test_grow_shrink(planes);
        test_attach_faults(planes);
        test_layouts(planes);
    }
    RUN(test_float_model);
    remove(avd);
    remove(planes);
    return test_summary();
}
