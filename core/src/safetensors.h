/* safetensors.h - reader of the safetensors container (Hugging Face).
 *
 * Format, as written by the `safetensors` library:
 *
 *   | offset | size | content                                             |
 *   |--------|------|-----------------------------------------------------|
 *   | 0      | 8    | u64 little-endian N: header length in bytes         |
 *   | 8      | N    | UTF-8 JSON object, may be padded with spaces        |
 *   | 8 + N  | rest | data section: the tensors' bytes, little-endian,    |
 *   |        |      | row-major, no alignment required                    |
 *
 *   header = { "__metadata__": { str: str, ... }   (optional)
 *              "<name>": { "dtype": "F32" | "F16" | "BF16" | ...,
 *                          "shape": [d0, d1, ...],        ([] = scalar)
 *                          "data_offsets": [begin, end] }, ... }
 *
 * begin/end are byte offsets relative to the data section. As the format
 * specification requires, the tensors must tile the data section exactly:
 * no overlap, no hole, nothing after the last tensor (this is what stops a
 * file from being two things at once). end - begin must equal
 * prod(shape) * sizeof(dtype). Every number is checked for range and
 * overflow before use; names must be unique.
 *
 * Known dtypes parse (so any well-formed file does), but only F32, F16 and
 * BF16 convert to f32; others fail at bs_st_read_f32 naming the tensor.
 * Unknown dtype strings fail at parse, naming the dtype.
 */
#ifndef BS_SAFETENSORS_H
#define BS_SAFETENSORS_H

#include "internal.h"
#include "reader.h"

/* The reference implementation refuses headers above 100 MB; so do we. */
#define BS_ST_MAX_HEADER (100u * 1024u * 1024u)
#define BS_ST_MAX_DIMS 8

typedef enum bs_st_dtype {
    BS_ST_BOOL, BS_ST_U8, BS_ST_I8, BS_ST_F8_E5M2, BS_ST_F8_E4M3,
    BS_ST_I16, BS_ST_U16, BS_ST_F16, BS_ST_BF16,
    BS_ST_I32, BS_ST_U32, BS_ST_F32,
    BS_ST_F64, BS_ST_I64, BS_ST_U64,
    BS_ST_DTYPE_COUNT
} bs_st_dtype;

typedef struct bs_st_tensor {
    char *name;                      /* owned, NUL-terminated              */
    bs_st_dtype dtype;
    int32_t n_dims;                  /* 0 (scalar) .. BS_ST_MAX_DIMS       */
    int64_t shape[BS_ST_MAX_DIMS];   /* (n_dims), outermost first          */
    uint64_t n_elem;                 /* prod(shape)                        */
    uint64_t offset;                 /* absolute byte offset in the file   */
    uint64_t n_bytes;                /* n_elem * sizeof(dtype)             */
} bs_st_tensor;

typedef struct bs_st_file {
    bs_reader *r;                    /* not owned; outlives the bs_st_file */
    bs_st_tensor *tensors;           /* (n_tensors), sorted by name        */
    int32_t n_tensors;
    uint64_t data_start;             /* 8 + N                              */
} bs_st_file;

/* Parses and validates the header of the file r reads. On failure *f is
   left empty (nothing to free). */
bs_status bs_st_parse(bs_st_file *f, bs_reader *r);
/* Frees what bs_st_parse allocated; accepts a zeroed or freed file. */
void bs_st_free(bs_st_file *f);

/* The tensor called name, or NULL. */
const bs_st_tensor *bs_st_find(const bs_st_file *f, const char *name);

/* "F32", "BF16", ... */
const char *bs_st_dtype_name(bs_st_dtype dtype);
/* Bytes per element. */
size_t bs_st_dtype_size(bs_st_dtype dtype);

/* Reads tensor t (from f) converted to f32 into dst, which holds n floats;
   n must equal t->n_elem. BS_ERR_UNSUPPORTED for dtypes other than F32,
   F16 and BF16. */
bs_status bs_st_read_f32(const bs_st_file *f, const bs_st_tensor *t, float *dst,
                         uint64_t n);

/* Writes "[d0, d1, ...]" into buf (always NUL-terminated), for messages. */
void bs_st_format_shape(const int64_t *shape, int32_t n_dims, char *buf, size_t cap);

#endif
