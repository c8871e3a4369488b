/* meta.h - the typed key/value metadata of .bstk files (FORMAT.md 2).
 *
 * bs_meta_parse validates every length once, so the accessors below can
 * walk values without further bounds checks. Values point into the
 * caller's buffer, which must outlive the bs_meta. */
#ifndef BS_META_H
#define BS_META_H

#include "internal.h"

enum {
    BS_META_U32 = 1,
    BS_META_I32 = 2,
    BS_META_F32 = 3,
    BS_META_U64 = 4,
    BS_META_I64 = 5,
    BS_META_F64 = 6,
    BS_META_STRING = 7,
    BS_META_ARRAY = 8
};

typedef struct bs_meta_kv {
    const char *key;
    uint32_t key_len;
    uint32_t type;
    uint32_t elem_type;   /* ARRAY only                                  */
    uint64_t count;       /* ARRAY: elements; STRING: bytes              */
    const uint8_t *val;   /* scalar bytes, string bytes, or array body   */
} bs_meta_kv;

typedef struct bs_meta {
    bs_meta_kv *kv;
    uint32_t n;
} bs_meta;

bs_status bs_meta_parse(const uint8_t *buf, uint64_t size, bs_meta *out);
void bs_meta_free(bs_meta *m);
const bs_meta_kv *bs_meta_find(const bs_meta *m, const char *key);

/* Typed getters: BS_OK and the value; when the key is absent, BS_OK with
   *found = 0 if found is non-NULL (optional key), else BS_ERR_FORMAT
   (required key). A present key of another type is BS_ERR_FORMAT. */
bs_status bs_meta_get(const bs_meta *m, const char *key, uint32_t type, void *out, int *found);
bs_status bs_meta_get_string(const bs_meta *m, const char *key, const char **s, uint32_t *len,
                             int *found);
bs_status bs_meta_get_array(const bs_meta *m, const char *key, uint32_t elem_type,
                            const bs_meta_kv **kv, int *found);

/* Walks the strings of a STRING array: *cursor starts at kv->val. */
void bs_meta_next_string(const uint8_t **cursor, const char **s, uint32_t *len);
/* Element i of a fixed-size array (4- or 8-byte types) into out. */
void bs_meta_array_at(const bs_meta_kv *kv, uint64_t i, void *out);

/* Size in bytes of a fixed-size type, 0 for STRING/ARRAY. */
uint32_t bs_meta_type_size(uint32_t type);

#endif
