/* bstk_write.h - building .bstk metadata and writing the file
 * (FORMAT.md), atomically: a temporary file renamed into place. */
#ifndef BS_BSTK_WRITE_H
#define BS_BSTK_WRITE_H

#include "bstk.h"

/* Metadata builder: appends typed key/values; any allocation failure is
   remembered and reported by bstk_meta_finish. */
typedef struct bstk_meta_builder {
    uint8_t *buf;
    size_t len, cap;
    uint32_t n;
    int failed;
} bstk_meta_builder;

void bstk_meta_u32(bstk_meta_builder *b, const char *key, uint32_t v);
void bstk_meta_i32(bstk_meta_builder *b, const char *key, int32_t v);
void bstk_meta_f32(bstk_meta_builder *b, const char *key, float v);
void bstk_meta_u64(bstk_meta_builder *b, const char *key, uint64_t v);
void bstk_meta_f64(bstk_meta_builder *b, const char *key, double v);
void bstk_meta_string(bstk_meta_builder *b, const char *key, const char *s, size_t len);
/* Arrays of fixed-size elements (type 1..6), count elements at data. */
void bstk_meta_array(bstk_meta_builder *b, const char *key, uint32_t elem_type, const void *data,
                     uint64_t count);
/* Array of strings. */
void bstk_meta_strings(bstk_meta_builder *b, const char *key, const char *const *s, const uint32_t *lens,
                       uint64_t count);
/* The metadata section (u32 count + entries) into *out (malloc'd). */
bs_status bstk_meta_finish(bstk_meta_builder *b, uint8_t **out, uint64_t *size);

/* The model's architecture, tokenizer and chat template as metadata. */
void bstk_meta_model(bstk_meta_builder *b, const bs_model *m);

/* One payload to write, in file order. */
typedef struct bstk_payload {
    uint32_t tensor, level;
    const void *data;
    uint64_t size;
} bstk_payload;

/* Writes the file: the first n_resident payloads form the resident
   section, the rest the stack in order. */
bs_status bstk_write_file(const char *path, const uint8_t *meta, uint64_t meta_size,
                          const bstk_tensor *tensors, uint32_t n_tensors, const bstk_payload *payloads,
                          uint32_t n_payloads, uint32_t n_resident);

#endif
