/* meta.c - parsing and reading .bstk metadata. */
#include "meta.h"

#include <stdlib.h>
#include <string.h>

uint32_t bs_meta_type_size(uint32_t type) {
    switch (type) {
    case BS_META_U32: case BS_META_I32: case BS_META_F32: return 4;
    case BS_META_U64: case BS_META_I64: case BS_META_F64: return 8;
    default: return 0;
    }
}

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* Bounded cursor over the metadata bytes. */
typedef struct {
    const uint8_t *p, *end;
} cur;

static bs_status need(cur *c, uint64_t n, const char *what) {
    if ((uint64_t)(c->end - c->p) < n)
        return bs_fail(BS_ERR_FORMAT, ".bstk metadata: %s runs past the end of the section", what);
    return BS_OK;
}

static bs_status skip_string(cur *c, const char *what) {
    BS_TRY(need(c, 4, what));
    uint32_t len = rd32(c->p);
    c->p += 4;
    BS_TRY(need(c, len, what));
    c->p += len;
    return BS_OK;
}

static bs_status parse_value(cur *c, bs_meta_kv *kv) {
    uint32_t size = bs_meta_type_size(kv->type);
    kv->val = c->p;
    if (size) {
        BS_TRY(need(c, size, kv->key));
        c->p += size;
        kv->count = 1;
        return BS_OK;
    }
    if (kv->type == BS_META_STRING) {
        BS_TRY(need(c, 4, kv->key));
        kv->count = rd32(c->p);
        kv->val = c->p + 4;
        return skip_string(c, kv->key);
    }
    if (kv->type != BS_META_ARRAY)
        return bs_fail(BS_ERR_FORMAT, ".bstk metadata: key %.*s has unknown type %u",
                       (int)kv->key_len, kv->key, kv->type);
    BS_TRY(need(c, 12, kv->key));
    kv->elem_type = rd32(c->p);
    kv->count = rd64(c->p + 4);
    c->p += 12;
    kv->val = c->p;
    uint32_t esize = bs_meta_type_size(kv->elem_type);
    if (esize) {
        uint64_t total;
        if (!bs_mul_ok(kv->count, esize, &total)) return need(c, UINT64_MAX, kv->key);
        BS_TRY(need(c, total, kv->key));
        c->p += total;
        return BS_OK;
    }
    if (kv->elem_type != BS_META_STRING)
        return bs_fail(BS_ERR_FORMAT, ".bstk metadata: array %.*s has element type %u",
                       (int)kv->key_len, kv->key, kv->elem_type);
    /* each string needs at least 4 bytes: bound the count before walking */
    if (kv->count > (uint64_t)(c->end - c->p) / 4) return need(c, UINT64_MAX, kv->key);
    for (uint64_t i = 0; i < kv->count; i++) BS_TRY(skip_string(c, kv->key));
    return BS_OK;
}

bs_status bs_meta_parse(const uint8_t *buf, uint64_t size, bs_meta *out) {
    memset(out, 0, sizeof *out);
    cur c = {buf, buf + size};
    BS_TRY(need(&c, 4, "the key count"));
    uint32_t n = rd32(c.p);
    c.p += 4;
    if (n > size / 9) /* every entry takes at least 9 bytes */
        return bs_fail(BS_ERR_FORMAT, ".bstk metadata: %u keys cannot fit in %llu bytes", n,
                       (unsigned long long)size);
    out->kv = bs_calloc(n ? n : 1, sizeof *out->kv);
    if (!out->kv) return BS_ERR_NOMEM;
    for (uint32_t i = 0; i < n; i++) {
        bs_meta_kv *kv = &out->kv[i];
        bs_status st = need(&c, 4, "a key");
        if (st == BS_OK) {
            kv->key_len = rd32(c.p);
            kv->key = (const char *)c.p + 4;
            st = skip_string(&c, "a key");
        }
        if (st == BS_OK) st = need(&c, 4, "a type");
        if (st == BS_OK) {
            kv->type = rd32(c.p);
            c.p += 4;
            st = parse_value(&c, kv);
        }
        if (st != BS_OK) {
            bs_meta_free(out);
            return st;
        }
        out->n = i + 1;
    }
    return BS_OK;
}

void bs_meta_free(bs_meta *m) {
    if (!m) return;
    free(m->kv);
    m->kv = NULL;
    m->n = 0;
}

const bs_meta_kv *bs_meta_find(const bs_meta *m, const char *key) {
    size_t len = strlen(key);
    for (uint32_t i = 0; i < m->n; i++)
        if (m->kv[i].key_len == len && memcmp(m->kv[i].key, key, len) == 0) return &m->kv[i];
    return NULL;
}

static bs_status lookup(const bs_meta *m, const char *key, uint32_t type, uint32_t elem,
                        const bs_meta_kv **kv, int *found) {
    *kv = bs_meta_find(m, key);
    if (found) *found = *kv != NULL;
    if (!*kv) return found ? BS_OK : bs_fail(BS_ERR_FORMAT, ".bstk metadata: required key %s is missing", key);
    if ((*kv)->type != type || (type == BS_META_ARRAY && (*kv)->elem_type != elem))
        return bs_fail(BS_ERR_FORMAT, ".bstk metadata: key %s has type %u, expected %u", key,
                       (*kv)->type, type);
    return BS_OK;
}

bs_status bs_meta_get(const bs_meta *m, const char *key, uint32_t type, void *out, int *found) {
    const bs_meta_kv *kv;
    BS_TRY(lookup(m, key, type, 0, &kv, found));
    if (!kv) return BS_OK;
    uint32_t size = bs_meta_type_size(type);
    if (size == 4) {
        uint32_t v = rd32(kv->val);
        memcpy(out, &v, 4);
    } else {
        uint64_t v = rd64(kv->val);
        memcpy(out, &v, 8);
    }
    return BS_OK;
}

bs_status bs_meta_get_string(const bs_meta *m, const char *key, const char **s, uint32_t *len,
                             int *found) {
    const bs_meta_kv *kv;
    BS_TRY(lookup(m, key, BS_META_STRING, 0, &kv, found));
    if (kv) {
        *s = (const char *)kv->val;
        *len = (uint32_t)kv->count;
    }
    return BS_OK;
}

bs_status bs_meta_get_array(const bs_meta *m, const char *key, uint32_t elem_type,
                            const bs_meta_kv **kv, int *found) {
    return lookup(m, key, BS_META_ARRAY, elem_type, kv, found);
}

void bs_meta_next_string(const uint8_t **cursor, const char **s, uint32_t *len) {
    *len = rd32(*cursor);
    *s = (const char *)*cursor + 4;
    *cursor += 4 + *len;
}

void bs_meta_array_at(const bs_meta_kv *kv, uint64_t i, void *out) {
    uint32_t size = bs_meta_type_size(kv->elem_type);
    if (size == 4) {
        uint32_t v = rd32(kv->val + i * 4);
        memcpy(out, &v, 4);
    } else {
        uint64_t v = rd64(kv->val + i * 8);
        memcpy(out, &v, 8);
    }
}
