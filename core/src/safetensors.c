/* safetensors.c - header parsing and f32 conversion of safetensors files;
   the format is described in safetensors.h. */
#include "safetensors.h"

#include "half.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    size_t size;
} dtype_table[BS_ST_DTYPE_COUNT] = {
    [BS_ST_BOOL] = {"BOOL", 1},       [BS_ST_U8] = {"U8", 1},
    [BS_ST_I8] = {"I8", 1},           [BS_ST_F8_E5M2] = {"F8_E5M2", 1},
    [BS_ST_F8_E4M3] = {"F8_E4M3", 1}, [BS_ST_I16] = {"I16", 2},
    [BS_ST_U16] = {"U16", 2},         [BS_ST_F16] = {"F16", 2},
    [BS_ST_BF16] = {"BF16", 2},       [BS_ST_I32] = {"I32", 4},
    [BS_ST_U32] = {"U32", 4},         [BS_ST_F32] = {"F32", 4},
    [BS_ST_F64] = {"F64", 8},         [BS_ST_I64] = {"I64", 8},
    [BS_ST_U64] = {"U64", 8},
};

const char *bs_st_dtype_name(bs_st_dtype dtype) {
    return (unsigned)dtype < BS_ST_DTYPE_COUNT ? dtype_table[dtype].name : "?";
}

size_t bs_st_dtype_size(bs_st_dtype dtype) {
    return (unsigned)dtype < BS_ST_DTYPE_COUNT ? dtype_table[dtype].size : 0;
}

void bs_st_format_shape(const int64_t *shape, int32_t n_dims, char *buf, size_t cap) {
    size_t used = 0;
    if (cap == 0) return;
    buf[0] = '\0';
    for (int32_t i = 0; i <= n_dims && used < cap; i++) {
        int w;
        if (i == n_dims)
            w = snprintf(buf + used, cap - used, "]");
        else
            w = snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "[",
                         (long long)shape[i]);
        if (w < 0) return;
        used += (size_t)w;
    }
}

/* JSON numbers are doubles: integers are exact up to 2^53, which bounds
   every offset and dimension we accept. */
static int json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0.0 && d <= 9007199254740992.0) || floor(d) != d) return 0;
    *out = (uint64_t)d;
    return 1;
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp(((const bs_st_tensor *)a)->name, ((const bs_st_tensor *)b)->name);
}

static int cmp_by_offset(const void *a, const void *b) {
    const bs_st_tensor *x = *(const bs_st_tensor *const *)a;
    const bs_st_tensor *y = *(const bs_st_tensor *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    /* empty tensors first, so they never appear to overlap a neighbour */
    if (x->n_bytes != y->n_bytes) return x->n_bytes < y->n_bytes ? -1 : 1;
    return 0;
}

/* One "<name>": {dtype, shape, data_offsets} entry; data_size bounds the
   offsets (relative to the data section). */
static bs_status parse_entry(const char *fname, const cJSON *e, uint64_t data_start,
                             uint64_t data_size, bs_st_tensor *t) {
    const char *name = e->string;
    if (!cJSON_IsObject(e))
        return bs_fail(BS_ERR_FORMAT, "%s: header entry \"%s\" is not an object", fname, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off))
        return bs_fail(BS_ERR_FORMAT,
                       "%s: tensor \"%s\" lacks a string dtype, a shape array or a "
                       "data_offsets array", fname, name);
    int found = 0;
    for (int i = 0; i < BS_ST_DTYPE_COUNT; i++) {
        if (strcmp(dt->valuestring, dtype_table[i].name) == 0) {
            t->dtype = (bs_st_dtype)i;
            found = 1;
            break;
        }
    }
    if (!found)
        return bs_fail(BS_ERR_UNSUPPORTED, "%s: tensor \"%s\" has unknown dtype \"%.32s\"",
                       fname, name, dt->valuestring);
    int nd = cJSON_GetArraySize(sh);
    if (nd > BS_ST_MAX_DIMS)
        return bs_fail(BS_ERR_UNSUPPORTED, "%s: tensor \"%s\" has %d dimensions (max %d)",
                       fname, name, nd, BS_ST_MAX_DIMS);
    t->n_dims = nd;
    uint64_t n_elem = 1;
    const cJSON *d;
    int i = 0;
    cJSON_ArrayForEach(d, sh) {
        uint64_t v;
        if (!json_uint(d, &v) || v > INT64_MAX)
            return bs_fail(BS_ERR_FORMAT, "%s: tensor \"%s\": shape[%d] is not a "
                           "non-negative integer", fname, name, i);
        if (!bs_mul_ok(n_elem, v, &n_elem))
            return bs_fail(BS_ERR_FORMAT, "%s: tensor \"%s\": element count overflows",
                           fname, name);
        t->shape[i++] = (int64_t)v;
    }
    uint64_t n_bytes, begin, end;
    if (!bs_mul_ok(n_elem, dtype_table[t->dtype].size, &n_bytes))
        return bs_fail(BS_ERR_FORMAT, "%s: tensor \"%s\": byte size overflows", fname, name);
    if (cJSON_GetArraySize(off) != 2 || !json_uint(cJSON_GetArrayItem(off, 0), &begin) ||
        !json_uint(cJSON_GetArrayItem(off, 1), &end))
        return bs_fail(BS_ERR_FORMAT, "%s: tensor \"%s\": data_offsets must be two "
                       "non-negative integers", fname, name);
    if (begin > end || end > data_size)
        return bs_fail(BS_ERR_FORMAT, "%s: tensor \"%s\": data_offsets [%llu, %llu] outside "
                       "the data section (%llu bytes)", fname, name,
                       (unsigned long long)begin, (unsigned long long)end,
                       (unsigned long long)data_size);
    if (end - begin != n_bytes) {
        char shape[96];
        bs_st_format_shape(t->shape, t->n_dims, shape, sizeof shape);
        return bs_fail(BS_ERR_FORMAT, "%s: tensor \"%s\": data_offsets span %llu bytes but "
                       "%s %s needs %llu", fname, name, (unsigned long long)(end - begin),
                       dtype_table[t->dtype].name, shape, (unsigned long long)n_bytes);
    }
    t->n_elem = n_elem;
    t->n_bytes = n_bytes;
    t->offset = data_start + begin;
    t->name = bs_strndup(name, strlen(name));
    return t->name ? BS_OK : BS_ERR_NOMEM;
}

/* The tensors must tile [data_start, file end) exactly (see safetensors.h). */
static bs_status check_tiling(const char *fname, bs_st_tensor *ts, int32_t n,
                              uint64_t data_start, uint64_t file_size) {
    const bs_st_tensor **by_off = bs_malloc((size_t)n ? (size_t)n : 1, sizeof *by_off);
    if (!by_off) return BS_ERR_NOMEM;
    for (int32_t i = 0; i < n; i++) by_off[i] = &ts[i];
    qsort(by_off, (size_t)n, sizeof *by_off, cmp_by_offset);
    bs_status st = BS_OK;
    uint64_t pos = data_start;
    for (int32_t i = 0; i < n && st == BS_OK; i++) {
        const bs_st_tensor *t = by_off[i];
        if (t->offset < pos)
            st = bs_fail(BS_ERR_FORMAT, "%s: tensor \"%s\" overlaps the tensor before it "
                         "(data_offsets begin %llu < %llu)", fname, t->name,
                         (unsigned long long)(t->offset - data_start),
                         (unsigned long long)(pos - data_start));
        else if (t->offset > pos)
            st = bs_fail(BS_ERR_FORMAT, "%s: %llu unindexed bytes before tensor \"%s\"",
                         fname, (unsigned long long)(t->offset - pos), t->name);
        else
            pos = t->offset + t->n_bytes;
    }
    if (st == BS_OK && pos != file_size)
        st = bs_fail(BS_ERR_FORMAT, "%s: %llu bytes after the last tensor", fname,
                     (unsigned long long)(file_size - pos));
    free(by_off);
    return st;
}

static bs_status parse_header(bs_st_file *f, const char *fname, const cJSON *root,
                              uint64_t file_size) {
    if (!cJSON_IsObject(root))
        return bs_fail(BS_ERR_FORMAT, "%s: safetensors header is not a JSON object", fname);
    int n_items = cJSON_GetArraySize(root);
    if (n_items < 0 || n_items > (1 << 24))
        return bs_fail(BS_ERR_FORMAT, "%s: %d header entries", fname, n_items);
    f->tensors = bs_calloc((size_t)n_items ? (size_t)n_items : 1, sizeof *f->tensors);
    if (!f->tensors) return BS_ERR_NOMEM;
    uint64_t data_size = file_size - f->data_start;
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        if (strcmp(e->string, "__metadata__") == 0) {
            /* free-form string -> string map; we only check its shape */
            const cJSON *kv;
            if (!cJSON_IsObject(e))
                return bs_fail(BS_ERR_FORMAT, "%s: __metadata__ is not an object", fname);
            cJSON_ArrayForEach(kv, e) {
                if (!cJSON_IsString(kv))
                    return bs_fail(BS_ERR_FORMAT, "%s: __metadata__ value \"%s\" is not a "
                                   "string", fname, kv->string);
            }
            continue;
        }
        BS_TRY(parse_entry(fname, e, f->data_start, data_size, &f->tensors[f->n_tensors]));
        f->n_tensors++;
    }
    qsort(f->tensors, (size_t)f->n_tensors, sizeof *f->tensors, cmp_by_name);
    for (int32_t i = 1; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i - 1].name, f->tensors[i].name) == 0)
            return bs_fail(BS_ERR_FORMAT, "%s: tensor \"%s\" appears twice in the header",
                           fname, f->tensors[i].name);
    return check_tiling(fname, f->tensors, f->n_tensors, f->data_start, file_size);
}

bs_status bs_st_parse(bs_st_file *f, bs_reader *r) {
    memset(f, 0, sizeof *f);
    const char *fname = r->name ? r->name : "<safetensors>";
    uint8_t len8[8];
    if (r->size < 8)
        return bs_fail(BS_ERR_TRUNCATED, "%s: %llu bytes, too short for a safetensors file",
                       fname, (unsigned long long)r->size);
    BS_TRY(bs_reader_read(r, 0, len8, 8));
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | len8[i];
    if (n > r->size - 8)
        return bs_fail(BS_ERR_TRUNCATED, "%s: header length %llu goes beyond the end of "
                       "the file (%llu bytes)", fname, (unsigned long long)n,
                       (unsigned long long)r->size);
    if (n < 2 || n > BS_ST_MAX_HEADER)
        return bs_fail(BS_ERR_FORMAT, "%s: header length %llu out of range [2, %u]",
                       fname, (unsigned long long)n, BS_ST_MAX_HEADER);
    char *json = bs_malloc((size_t)n + 1, 1);
    if (!json) return BS_ERR_NOMEM;
    bs_status st = bs_reader_read(r, 8, json, (size_t)n);
    if (st != BS_OK) {
        free(json);
        return st;
    }
    json[n] = '\0';
    const char *end = NULL;
    cJSON *root = json[0] == '{' ? cJSON_ParseWithLengthOpts(json, (size_t)n, &end, 0) : NULL;
    if (root) {
        /* only the padding spaces the writer adds may follow the object */
        for (const char *p = end; p < json + n; p++)
            if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
                cJSON_Delete(root);
                root = NULL;
                end = p;
                break;
            }
    }
    if (!root) {
        /* cJSON_GetErrorPtr reads a global; end is ours */
        const char *at = end;
        long pos = at && at >= json && at <= json + n ? (long)(at - json) : 0;
        free(json);
        return bs_fail(BS_ERR_FORMAT, "%s: header is not a JSON object (error near byte %ld "
                       "of %llu)", fname, pos, (unsigned long long)n);
    }
    f->r = r;
    f->data_start = 8 + n;
    st = parse_header(f, fname, root, r->size);
    cJSON_Delete(root);
    free(json);
    if (st != BS_OK) bs_st_free(f);
    return st;
}

void bs_st_free(bs_st_file *f) {
    if (!f) return;
    if (f->tensors)
        for (int32_t i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    memset(f, 0, sizeof *f);
}

const bs_st_tensor *bs_st_find(const bs_st_file *f, const char *name) {
    if (!f || !f->tensors || !name) return NULL;
    bs_st_tensor key;
    memset(&key, 0, sizeof key);
    key.name = (char *)(uintptr_t)name;  /* bsearch key; never written */
    return bsearch(&key, f->tensors, (size_t)f->n_tensors, sizeof key, cmp_by_name);
}

/* Converts n little-endian elements of src to f32. */
static void convert(bs_st_dtype dt, const uint8_t *src, float *dst, size_t n) {
    switch (dt) {
    case BS_ST_F32:
        for (size_t i = 0; i < n; i++, src += 4)
            dst[i] = bs_f32_from_bits((uint32_t)src[0] | (uint32_t)src[1] << 8 |
                                      (uint32_t)src[2] << 16 | (uint32_t)src[3] << 24);
        break;
    case BS_ST_F16:
        for (size_t i = 0; i < n; i++, src += 2)
            dst[i] = bs_f16_to_f32((uint16_t)(src[0] | src[1] << 8));
        break;
    case BS_ST_BF16:
        for (size_t i = 0; i < n; i++, src += 2)
            dst[i] = bs_bf16_to_f32((uint16_t)(src[0] | src[1] << 8));
        break;
    default:
        break;
    }
}

bs_status bs_st_read_f32(const bs_st_file *f, const bs_st_tensor *t, float *dst, uint64_t n) {
    const char *fname = f->r->name ? f->r->name : "<safetensors>";
    if (t->dtype != BS_ST_F32 && t->dtype != BS_ST_F16 && t->dtype != BS_ST_BF16)
        return bs_fail(BS_ERR_UNSUPPORTED, "%s: tensor \"%s\" has dtype %s (only F32, F16 "
                       "and BF16 load)", fname, t->name, bs_st_dtype_name(t->dtype));
    if (n != t->n_elem)
        return bs_fail(BS_ERR_INVALID_ARG, "%s: tensor \"%s\" has %llu elements, caller "
                       "expects %llu", fname, t->name, (unsigned long long)t->n_elem,
                       (unsigned long long)n);
    /* Read in chunks through a small buffer: one code path for every dtype
       and host byte order, and no second copy of a large tensor. */
    uint8_t buf[1 << 14];
    size_t esize = dtype_table[t->dtype].size, per_chunk = sizeof buf / esize;
    for (uint64_t done = 0; done < n;) {
        size_t k = (size_t)BS_MIN((uint64_t)per_chunk, n - done);
        BS_TRY(bs_reader_read(f->r, t->offset + done * esize, buf, k * esize));
        convert(t->dtype, buf, dst + done, k);
        done += k;
    }
    return BS_OK;
}
