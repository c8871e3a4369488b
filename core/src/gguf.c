/* gguf.c - GGUF container parser (layout in gguf.h).
 *
 * Untrusted input: every count is compared with the bytes left in the file
 * before anything is allocated or looped over, using the smallest size an
 * entry can have, so a forged header costs at most O(file size). */
#include "gguf.h"

#include "dequant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Smallest encodings, for plausibility checks of counts. */
#define MIN_KV_BYTES 14      /* u64 key len, 1-byte key, u32 type, u8      */
#define MIN_TENSOR_BYTES 33  /* u64 name len, 1-byte name, u32 n_dims,
                                one u64 dim, u32 type, u64 offset          */
#define MAX_KEY_BYTES 65535  /* the spec's limit                           */
#define MAX_ARRAY_DEPTH 4    /* arrays of arrays of ... we still skip      */

static const uint8_t scalar_size[BS_GGUF_N_TYPES] = {
    [BS_GGUF_U8] = 1, [BS_GGUF_I8] = 1, [BS_GGUF_U16] = 2, [BS_GGUF_I16] = 2,
    [BS_GGUF_U32] = 4, [BS_GGUF_I32] = 4, [BS_GGUF_F32] = 4, [BS_GGUF_BOOL] = 1,
    [BS_GGUF_U64] = 8, [BS_GGUF_I64] = 8, [BS_GGUF_F64] = 8,
};

const char *bs_gguf_type_name(uint32_t type) {
    static const char *const names[BS_GGUF_N_TYPES] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64",
        "i64", "f64"};
    return type < BS_GGUF_N_TYPES ? names[type] : "unknown";
}

static uint64_t left(const bs_cursor *c) { return c->r->size - c->pos; }

static uint64_t le_bits(const uint8_t *b, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) v |= (uint64_t)b[i] << (8 * i);
    return v;
}

float bs_gguf_f32_at(const uint8_t *buf, uint64_t i) {
    uint32_t u = (uint32_t)le_bits(buf + 4 * i, 4);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

int32_t bs_gguf_i32_at(const uint8_t *buf, uint64_t i) {
    uint32_t u = (uint32_t)le_bits(buf + 4 * i, 4);
    int32_t v;
    memcpy(&v, &u, 4);
    return v;
}

/* Reads a string of at most max bytes into a fresh NUL-terminated buffer;
   what names the string in messages. */
static bs_status read_string(bs_cursor *c, uint64_t max, const char *what, char **out,
                             uint64_t *len) {
    uint64_t n;
    BS_TRY(bs_cursor_u64(c, &n));
    if (n > left(c))
        return bs_fail(BS_ERR_TRUNCATED,
                       "gguf: %s: string of %llu bytes at offset %llu runs past the end "
                       "of the file (%llu bytes)", what, (unsigned long long)n,
                       (unsigned long long)c->pos, (unsigned long long)c->r->size);
    if (n > max)
        return bs_fail(BS_ERR_FORMAT, "gguf: %s: string of %llu bytes is longer than %llu",
                       what, (unsigned long long)n, (unsigned long long)max);
    if (n >= SIZE_MAX) /* 32-bit hosts */
        return bs_fail(BS_ERR_NOMEM, "gguf: %s: string of %llu bytes", what, (unsigned long long)n);
    char *s = bs_malloc((size_t)n + 1, 1);
    if (!s) return BS_ERR_NOMEM;
    bs_status st = bs_cursor_read(c, s, (size_t)n);
    if (st != BS_OK) {
        free(s);
        return st;
    }
    s[n] = '\0';
    *out = s;
    if (len) *len = n;
    return BS_OK;
}

/* Skips count elements of type t (an array body), validating their
   structure; key names the metadata entry in messages. */
static bs_status skip_elements(bs_cursor *c, uint32_t t, uint64_t count, int depth,
                               const char *key) {
    if (t >= BS_GGUF_N_TYPES)
        return bs_fail(BS_ERR_FORMAT, "gguf: key '%s': unknown array element type %u", key,
                       (unsigned)t);
    if (t != BS_GGUF_STRING && t != BS_GGUF_ARRAY) {
        uint64_t bytes;
        if (!bs_mul_ok(count, scalar_size[t], &bytes) || bytes > left(c))
            return bs_fail(BS_ERR_TRUNCATED,
                           "gguf: key '%s': array of %llu %s runs past the end of the file",
                           key, (unsigned long long)count, bs_gguf_type_name(t));
        c->pos += bytes;
        return BS_OK;
    }
    /* a string takes at least 8 bytes, a nested array 12 */
    uint64_t min = t == BS_GGUF_STRING ? 8 : 12;
    if (count > left(c) / min)
        return bs_fail(BS_ERR_TRUNCATED,
                       "gguf: key '%s': array of %llu %ss cannot fit in the %llu bytes left",
                       key, (unsigned long long)count, bs_gguf_type_name(t),
                       (unsigned long long)left(c));
    if (t == BS_GGUF_ARRAY && depth >= MAX_ARRAY_DEPTH)
        return bs_fail(BS_ERR_UNSUPPORTED, "gguf: key '%s': arrays nested deeper than %d", key,
                       MAX_ARRAY_DEPTH);
    for (uint64_t i = 0; i < count; i++) {
        if (t == BS_GGUF_STRING) {
            uint64_t n;
            BS_TRY(bs_cursor_u64(c, &n));
            if (n > left(c))
                return bs_fail(BS_ERR_TRUNCATED,
                               "gguf: key '%s': string %llu of %llu bytes runs past the end "
                               "of the file", key, (unsigned long long)i,
                               (unsigned long long)n);
            c->pos += n;
        } else {
            uint32_t et;
            uint64_t n;
            BS_TRY(bs_cursor_u32(c, &et));
            BS_TRY(bs_cursor_u64(c, &n));
            BS_TRY(skip_elements(c, et, n, depth + 1, key));
        }
    }
    return BS_OK;
}

static bs_status parse_kv(bs_cursor *c, bs_gguf_kv *kv) {
    BS_TRY(read_string(c, MAX_KEY_BYTES, "metadata key", &kv->key, NULL));
    if (kv->key[0] == '\0') return bs_fail(BS_ERR_FORMAT, "gguf: empty metadata key");
    BS_TRY(bs_cursor_u32(c, &kv->type));
    uint8_t b[8];
    switch (kv->type) {
    case BS_GGUF_U8: case BS_GGUF_U16: case BS_GGUF_U32: case BS_GGUF_U64: case BS_GGUF_BOOL:
        BS_TRY(bs_cursor_read(c, b, scalar_size[kv->type]));
        kv->v.u = le_bits(b, scalar_size[kv->type]);
        return BS_OK;
    case BS_GGUF_I8: case BS_GGUF_I16: case BS_GGUF_I32: case BS_GGUF_I64: {
        unsigned n = scalar_size[kv->type];
        BS_TRY(bs_cursor_read(c, b, n));
        uint64_t u = le_bits(b, n);
        if (n < 8 && (u >> (8 * n - 1)) & 1) u |= ~0ull << (8 * n); /* sign-extend */
        memcpy(&kv->v.i, &u, 8);
        return BS_OK;
    }
    case BS_GGUF_F32: {
        float f;
        BS_TRY(bs_cursor_f32(c, &f));
        kv->v.f = f;
        return BS_OK;
    }
    case BS_GGUF_F64: {
        BS_TRY(bs_cursor_read(c, b, 8));
        uint64_t u = le_bits(b, 8);
        memcpy(&kv->v.f, &u, 8);
        return BS_OK;
    }
    case BS_GGUF_STRING:
        return read_string(c, UINT64_MAX, kv->key, &kv->str, &kv->str_len);
    case BS_GGUF_ARRAY:
        BS_TRY(bs_cursor_u32(c, &kv->elem_type));
        BS_TRY(bs_cursor_u64(c, &kv->count));
        kv->offset = c->pos;
        BS_TRY(skip_elements(c, kv->elem_type, kv->count, 1, kv->key));
        kv->bytes = c->pos - kv->offset;
        return BS_OK;
    default:
        return bs_fail(BS_ERR_FORMAT, "gguf: key '%s' has unknown value type %u", kv->key,
                       (unsigned)kv->type);
    }
}

static bs_status parse_tensor(bs_cursor *c, const bs_gguf *g, bs_gguf_tensor *t) {
    char *name = NULL;
    uint64_t len;
    BS_TRY(read_string(c, BS_GGUF_MAX_NAME, "tensor name", &name, &len));
    memcpy(t->name, name, (size_t)len + 1);
    free(name);
    if (len == 0) return bs_fail(BS_ERR_FORMAT, "gguf: tensor with an empty name");
    BS_TRY(bs_cursor_u32(c, &t->n_dims));
    if (t->n_dims == 0 || t->n_dims > BS_GGUF_MAX_DIMS)
        return bs_fail(BS_ERR_FORMAT, "gguf: tensor '%s' has %u dimensions (1 to %d allowed)",
                       t->name, (unsigned)t->n_dims, BS_GGUF_MAX_DIMS);
    uint64_t n = 1;
    for (int d = 0; d < BS_GGUF_MAX_DIMS; d++) {
        uint64_t ne = 1;
        if ((uint32_t)d < t->n_dims) BS_TRY(bs_cursor_u64(c, &ne));
        /* 2^62 elements keeps every later product (bytes, floats) in range */
        if (ne == 0 || !bs_mul_ok(n, ne, &n) || n > (1ull << 62))
            return bs_fail(BS_ERR_FORMAT, "gguf: tensor '%s': dimension %d = %llu is %s",
                           t->name, d, (unsigned long long)ne, ne == 0 ? "zero" : "too large");
        t->ne[d] = (int64_t)ne;
    }
    t->n_elements = (int64_t)n;
    BS_TRY(bs_cursor_u32(c, &t->type));
    const bs_ggml_type_info *ti = bs_ggml_type_get(t->type);
    if (!ti)
        return bs_fail(BS_ERR_UNSUPPORTED, "gguf: tensor '%s' has unknown type %u", t->name,
                       (unsigned)t->type);
    if (t->ne[0] % ti->block_size != 0)
        return bs_fail(BS_ERR_FORMAT,
                       "gguf: tensor '%s': rows of %lld elements are not a multiple of the "
                       "%s block size %u", t->name, (long long)t->ne[0], ti->name,
                       (unsigned)ti->block_size);
    uint64_t row = bs_ggml_row_bytes(t->type, (uint64_t)t->ne[0]);
    if (!bs_mul_ok(row, n / (uint64_t)t->ne[0], &t->bytes))
        return bs_fail(BS_ERR_FORMAT, "gguf: tensor '%s' size overflows", t->name);
    BS_TRY(bs_cursor_u64(c, &t->offset));  /* relative for now */
    if (t->offset % g->alignment != 0)
        return bs_fail(BS_ERR_FORMAT, "gguf: tensor '%s' offset %llu is not a multiple of the "
                       "alignment %u", t->name, (unsigned long long)t->offset,
                       (unsigned)g->alignment);
    return BS_OK;
}

static int cmp_kv(const void *a, const void *b) {
    return strcmp((*(bs_gguf_kv *const *)a)->key, (*(bs_gguf_kv *const *)b)->key);
}

static int cmp_tensor(const void *a, const void *b) {
    return strcmp((*(bs_gguf_tensor *const *)a)->name, (*(bs_gguf_tensor *const *)b)->name);
}

static bs_status read_alignment(bs_gguf *g) {
    int64_t a;
    int found;
    BS_TRY(bs_gguf_get_i64(g, "general.alignment", &a, &found));
    if (!found) return BS_OK;
    if (a <= 0 || a > (1 << 30) || (a & (a - 1)) != 0)
        return bs_fail(BS_ERR_FORMAT, "gguf: general.alignment %lld is not a power of two",
                       (long long)a);
    g->alignment = (uint32_t)a;
    return BS_OK;
}

static bs_status parse_header(bs_cursor *c, bs_gguf *g, uint64_t *n_tensors, uint64_t *n_kv) {
    uint8_t magic[4];
    BS_TRY(bs_cursor_read(c, magic, 4));
    if (memcmp(magic, "GGUF", 4) != 0)
        return bs_fail(BS_ERR_FORMAT, "gguf: bad magic %02x %02x %02x %02x (want \"GGUF\")",
                       magic[0], magic[1], magic[2], magic[3]);
    BS_TRY(bs_cursor_u32(c, &g->version));
    if (g->version == 1)
        return bs_fail(BS_ERR_UNSUPPORTED,
                       "gguf: version 1 (u32 counts, 2023) is not supported; re-convert the "
                       "model to GGUF v2 or v3");
    if (g->version == 0x02000000u || g->version == 0x03000000u)  /* 2 or 3, byte-swapped */
        return bs_fail(BS_ERR_UNSUPPORTED, "gguf: big-endian GGUF (version %u) is not supported",
                       (unsigned)(g->version >> 24));
    if (g->version > 3)
        return bs_fail(BS_ERR_VERSION, "gguf: version %u is newer than we read (2 and 3)",
                       (unsigned)g->version);
    if (g->version < 2)
        return bs_fail(BS_ERR_FORMAT, "gguf: invalid version %u", (unsigned)g->version);
    BS_TRY(bs_cursor_u64(c, n_tensors));
    BS_TRY(bs_cursor_u64(c, n_kv));
    if (*n_kv > left(c) / MIN_KV_BYTES)
        return bs_fail(BS_ERR_FORMAT, "gguf: metadata count %llu cannot fit in a file of %llu "
                       "bytes", (unsigned long long)*n_kv, (unsigned long long)c->r->size);
    if (*n_tensors > left(c) / MIN_TENSOR_BYTES)
        return bs_fail(BS_ERR_FORMAT, "gguf: tensor count %llu cannot fit in a file of %llu "
                       "bytes", (unsigned long long)*n_tensors, (unsigned long long)c->r->size);
    return BS_OK;
}

/* Room for element n of a doubling array (elements zeroed). Arrays grow
   with what was actually parsed, never with a count the file claims. */
static bs_status grow(void **arr, uint64_t *cap, uint64_t n, size_t elem) {
    if (n < *cap) return BS_OK;
    uint64_t new_cap = *cap ? *cap * 2 : 16, bytes;
    if (!bs_mul_ok(new_cap, elem, &bytes) || bytes > SIZE_MAX)
        return bs_fail(BS_ERR_NOMEM, "gguf: %llu entries overflow memory",
                       (unsigned long long)new_cap);
    uint8_t *p = realloc(*arr, (size_t)bytes);
    if (!p) return bs_fail(BS_ERR_NOMEM, "gguf: out of memory for %llu entries",
                           (unsigned long long)new_cap);
    memset(p + *cap * elem, 0, (size_t)(new_cap - *cap) * elem);
    *arr = p;
    *cap = new_cap;
    return BS_OK;
}

static int cmp_offset(const void *a, const void *b) {
    uint64_t x = (*(bs_gguf_tensor *const *)a)->offset, y = (*(bs_gguf_tensor *const *)b)->offset;
    return x < y ? -1 : x > y;
}

/* Places every tensor inside the data section, without overlaps: then the
   tensors' bytes sum to at most the file size, which bounds what a loader
   allocates for them. */
static bs_status place_tensors(bs_gguf *g, uint64_t end_of_infos) {
    uint64_t size = g->r->size;
    /* end_of_infos <= size, so this cannot overflow */
    g->data_offset = (end_of_infos + g->alignment - 1) / g->alignment * g->alignment;
    uint64_t room = size > g->data_offset ? size - g->data_offset : 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        bs_gguf_tensor *t = &g->tensors[i];
        if (t->offset > room || t->bytes > room - t->offset)
            return bs_fail(BS_ERR_TRUNCATED,
                           "gguf: tensor '%s' data (%llu bytes at data offset %llu) lies "
                           "beyond the end of the file (%llu bytes)", t->name,
                           (unsigned long long)t->bytes, (unsigned long long)t->offset,
                           (unsigned long long)size);
        t->offset += g->data_offset;
    }
    bs_gguf_tensor **by_off = bs_calloc(g->n_tensors, sizeof *by_off);
    if (!by_off) return BS_ERR_NOMEM;
    for (uint64_t i = 0; i < g->n_tensors; i++) by_off[i] = &g->tensors[i];
    qsort(by_off, g->n_tensors, sizeof *by_off, cmp_offset);
    bs_status st = BS_OK;
    for (uint64_t i = 1; i < g->n_tensors && st == BS_OK; i++)
        if (by_off[i - 1]->offset + by_off[i - 1]->bytes > by_off[i]->offset)
            st = bs_fail(BS_ERR_FORMAT, "gguf: tensors '%s' and '%s' overlap", by_off[i - 1]->name,
                         by_off[i]->name);
    free(by_off);
    return st;
}

/* Reader errors know nothing of GGUF: say where in the file they hit. */
static bs_status in_context(bs_status st, const char *what, uint64_t i, const char *name) {
    if (st == BS_OK || strncmp(bs_last_error(), "gguf:", 5) == 0) return st;
    char detail[256];
    snprintf(detail, sizeof detail, "%s", bs_last_error());
    if (i == UINT64_MAX) return bs_fail(st, "gguf: %s: %s", what, detail);
    return bs_fail(st, "gguf: %s %llu%s%s%s: %s", what, (unsigned long long)i,
                   name && *name ? " ('" : "", name && *name ? name : "",
                   name && *name ? "')" : "", detail);
}

bs_status bs_gguf_open(bs_reader *r, bs_gguf *g) {
    memset(g, 0, sizeof *g);
    g->r = r;
    g->alignment = BS_GGUF_DEFAULT_ALIGNMENT;
    bs_cursor c = {r, 0};
    uint64_t n_kv, n_tensors, cap = 0;
    BS_TRY(in_context(parse_header(&c, g, &n_tensors, &n_kv), "header", UINT64_MAX, NULL));

    /* metadata; g->n_kv counts the entries parsed so far (for close) */
    for (uint64_t i = 0; i < n_kv; i++) {
        void *arr = g->kv;
        BS_TRY(grow(&arr, &cap, i, sizeof *g->kv));
        g->kv = arr;
        g->n_kv = i + 1;
        BS_TRY(in_context(parse_kv(&c, &g->kv[i]), "metadata entry", i, g->kv[i].key));
    }
    g->kv_sorted = bs_calloc(g->n_kv, sizeof *g->kv_sorted);
    if (!g->kv_sorted) return BS_ERR_NOMEM;
    for (uint64_t i = 0; i < g->n_kv; i++) g->kv_sorted[i] = &g->kv[i];
    qsort(g->kv_sorted, g->n_kv, sizeof *g->kv_sorted, cmp_kv);
    for (uint64_t i = 1; i < g->n_kv; i++)
        if (strcmp(g->kv_sorted[i - 1]->key, g->kv_sorted[i]->key) == 0)
            return bs_fail(BS_ERR_FORMAT, "gguf: duplicate metadata key '%s'",
                           g->kv_sorted[i]->key);
    BS_TRY(read_alignment(g));

    /* tensor infos */
    if (n_tensors > left(&c) / MIN_TENSOR_BYTES)
        return bs_fail(BS_ERR_TRUNCATED, "gguf: %llu tensor infos cannot fit in the %llu "
                       "bytes left", (unsigned long long)n_tensors,
                       (unsigned long long)left(&c));
    cap = 0;
    for (uint64_t i = 0; i < n_tensors; i++) {
        void *arr = g->tensors;
        BS_TRY(grow(&arr, &cap, i, sizeof *g->tensors));
        g->tensors = arr;
        g->n_tensors = i + 1;
        BS_TRY(in_context(parse_tensor(&c, g, &g->tensors[i]), "tensor info", i,
                          g->tensors[i].name));
    }
    g->t_sorted = bs_calloc(g->n_tensors, sizeof *g->t_sorted);
    if (!g->t_sorted) return BS_ERR_NOMEM;
    for (uint64_t i = 0; i < g->n_tensors; i++) g->t_sorted[i] = &g->tensors[i];
    qsort(g->t_sorted, g->n_tensors, sizeof *g->t_sorted, cmp_tensor);
    for (uint64_t i = 1; i < g->n_tensors; i++)
        if (strcmp(g->t_sorted[i - 1]->name, g->t_sorted[i]->name) == 0)
            return bs_fail(BS_ERR_FORMAT, "gguf: duplicate tensor '%s'", g->t_sorted[i]->name);
    return place_tensors(g, c.pos);
}

void bs_gguf_close(bs_gguf *g) {
    if (!g) return;
    for (uint64_t i = 0; g->kv && i < g->n_kv; i++) {
        free(g->kv[i].key);
        free(g->kv[i].str);
    }
    free(g->kv);
    free(g->kv_sorted);
    free(g->tensors);
    free(g->t_sorted);
    memset(g, 0, sizeof *g);
}

const bs_gguf_kv *bs_gguf_find(const bs_gguf *g, const char *key) {
    uint64_t lo = 0, hi = g->kv_sorted ? g->n_kv : 0;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(key, g->kv_sorted[mid]->key);
        if (c == 0) return g->kv_sorted[mid];
        if (c < 0) hi = mid; else lo = mid + 1;
    }
    return NULL;
}

const bs_gguf_tensor *bs_gguf_find_tensor(const bs_gguf *g, const char *name) {
    uint64_t lo = 0, hi = g->t_sorted ? g->n_tensors : 0;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, g->t_sorted[mid]->name);
        if (c == 0) return g->t_sorted[mid];
        if (c < 0) hi = mid; else lo = mid + 1;
    }
    return NULL;
}

static bs_status wrong_type(const bs_gguf_kv *kv, const char *want) {
    return bs_fail(BS_ERR_FORMAT, "gguf: key '%s' is %s %s, expected %s", kv->key,
                   kv->type == BS_GGUF_ARRAY ? "an" : "a", bs_gguf_type_name(kv->type), want);
}

bs_status bs_gguf_get_i64(const bs_gguf *g, const char *key, int64_t *v, int *found) {
    const bs_gguf_kv *kv = bs_gguf_find(g, key);
    if (found) *found = kv != NULL;
    if (!kv) return BS_OK;
    switch (kv->type) {
    case BS_GGUF_U8: case BS_GGUF_U16: case BS_GGUF_U32: case BS_GGUF_U64: case BS_GGUF_BOOL:
        if (kv->v.u > INT64_MAX)
            return bs_fail(BS_ERR_FORMAT, "gguf: key '%s' = %llu is too large", key,
                           (unsigned long long)kv->v.u);
        *v = (int64_t)kv->v.u;
        return BS_OK;
    case BS_GGUF_I8: case BS_GGUF_I16: case BS_GGUF_I32: case BS_GGUF_I64:
        *v = kv->v.i;
        return BS_OK;
    default:
        return wrong_type(kv, "an integer");
    }
}

bs_status bs_gguf_get_f64(const bs_gguf *g, const char *key, double *v, int *found) {
    const bs_gguf_kv *kv = bs_gguf_find(g, key);
    if (found) *found = kv != NULL;
    if (!kv) return BS_OK;
    if (kv->type == BS_GGUF_F32 || kv->type == BS_GGUF_F64) {
        *v = kv->v.f;
        return BS_OK;
    }
    int64_t i;
    if (kv->type == BS_GGUF_STRING || kv->type == BS_GGUF_ARRAY || kv->type == BS_GGUF_BOOL)
        return wrong_type(kv, "a number");
    BS_TRY(bs_gguf_get_i64(g, key, &i, NULL));
    *v = (double)i;
    return BS_OK;
}

bs_status bs_gguf_get_str(const bs_gguf *g, const char *key, const char **v, uint64_t *len,
                          int *found) {
    const bs_gguf_kv *kv = bs_gguf_find(g, key);
    if (found) *found = kv != NULL;
    if (!kv) return BS_OK;
    if (kv->type != BS_GGUF_STRING) return wrong_type(kv, "a string");
    *v = kv->str;
    if (len) *len = kv->str_len;
    return BS_OK;
}

bs_status bs_gguf_get_array(const bs_gguf *g, const char *key, uint32_t elem_type,
                            const bs_gguf_kv **out) {
    const bs_gguf_kv *kv = bs_gguf_find(g, key);
    *out = NULL;
    if (!kv) return BS_OK;
    if (kv->type != BS_GGUF_ARRAY) return wrong_type(kv, "an array");
    if (elem_type != UINT32_MAX && kv->elem_type != elem_type)
        return bs_fail(BS_ERR_FORMAT, "gguf: key '%s' is an array of %s, expected %s", key,
                       bs_gguf_type_name(kv->elem_type), bs_gguf_type_name(elem_type));
    *out = kv;
    return BS_OK;
}

bs_status bs_gguf_read_array(const bs_gguf *g, const bs_gguf_kv *kv, uint8_t **out) {
    *out = NULL;
    if (kv->bytes > SIZE_MAX) return bs_fail(BS_ERR_NOMEM, "gguf: array '%s' too large", kv->key);
    uint8_t *buf = bs_malloc((size_t)kv->bytes, 1);
    if (!buf) return BS_ERR_NOMEM;
    bs_status st = bs_reader_read(g->r, kv->offset, buf, (size_t)kv->bytes);
    if (st != BS_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    return BS_OK;
}

bs_status bs_gguf_next_string(const uint8_t **p, const uint8_t *end, const char **s,
                              size_t *len) {
    if (end - *p < 8) return bs_fail(BS_ERR_TRUNCATED, "gguf: string array ends early");
    uint64_t n = le_bits(*p, 8);
    if (n > (uint64_t)(end - *p - 8))
        return bs_fail(BS_ERR_TRUNCATED, "gguf: string array element runs past its array");
    *s = (const char *)*p + 8;
    *len = (size_t)n;
    *p += 8 + n;
    return BS_OK;
}
