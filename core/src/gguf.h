/* gguf.h - the GGUF container: header, typed metadata, tensor infos.
 *
 * Format (GGUF v2 and v3; all integers little-endian; v1 used u32 counts
 * and is rejected; v3 only added big-endian files, which are rejected):
 *
 *   offset  bytes  field
 *   0       4      magic "GGUF"
 *   4       4      u32 version (2 or 3)
 *   8       8      u64 tensor_count
 *   16      8      u64 kv_count
 *   24      ...    kv_count metadata pairs:
 *                    string key, u32 value_type, value
 *           ...    tensor_count tensor infos:
 *                    string name, u32 n_dims (<= 4), u64 ne[n_dims],
 *                    u32 ggml_type, u64 offset (from the data section)
 *           ...    padding to general.alignment (u32 key, default 32)
 *           ...    data section: each tensor at its offset, a multiple of
 *                  the alignment
 *
 *   string: u64 length, bytes (UTF-8, no NUL)
 *   value types: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool
 *                (1 byte, 0 or 1), 8 string, 9 array, 10 u64, 11 i64,
 *                12 f64
 *   array: u32 element_type, u64 count, count elements (arrays of arrays
 *          are allowed by the format; we skip them up to a small depth)
 *
 * ne[] lists dimensions fastest-first: a matrix of ne = [cols, rows] has
 * rows of ne[0] contiguous elements.
 *
 * bs_gguf_open parses and validates everything except the tensor bytes:
 * every length and count is checked against the file size before it is
 * used to allocate or loop, every tensor's extent against the data
 * section, and tensors may not overlap (so their bytes sum to at most the
 * file size). Rows (ne[0]) must be whole blocks of the tensor's type. Scalar metadata is decoded into memory; arrays stay in the
 * file (offset + byte size) until a caller reads them.
 */
#ifndef BS_GGUF_H
#define BS_GGUF_H

#include "reader.h"

enum {
    BS_GGUF_U8 = 0,
    BS_GGUF_I8 = 1,
    BS_GGUF_U16 = 2,
    BS_GGUF_I16 = 3,
    BS_GGUF_U32 = 4,
    BS_GGUF_I32 = 5,
    BS_GGUF_F32 = 6,
    BS_GGUF_BOOL = 7,
    BS_GGUF_STRING = 8,
    BS_GGUF_ARRAY = 9,
    BS_GGUF_U64 = 10,
    BS_GGUF_I64 = 11,
    BS_GGUF_F64 = 12,
    BS_GGUF_N_TYPES = 13
};

#define BS_GGUF_MAX_DIMS 4
#define BS_GGUF_MAX_NAME 64      /* tensor name bytes, as ggml           */
#define BS_GGUF_DEFAULT_ALIGNMENT 32

typedef struct bs_gguf_kv {
    char *key;                   /* NUL-terminated                        */
    uint32_t type;               /* BS_GGUF_*                             */
    /* scalars: */
    union {
        uint64_t u;              /* u8..u64, bool                         */
        int64_t i;               /* i8..i64                               */
        double f;                /* f32, f64                              */
    } v;
    char *str;                   /* STRING: NUL-terminated copy           */
    uint64_t str_len;            /* STRING: bytes, without the NUL        */
    /* ARRAY: */
    uint32_t elem_type;          /* BS_GGUF_*                             */
    uint64_t count;              /* elements                              */
    uint64_t offset;             /* file offset of the first element      */
    uint64_t bytes;              /* bytes of all elements                 */
} bs_gguf_kv;

typedef struct bs_gguf_tensor {
    char name[BS_GGUF_MAX_NAME + 1];
    uint32_t n_dims;
    int64_t ne[BS_GGUF_MAX_DIMS];/* fastest-first; unused dims are 1      */
    uint32_t type;               /* ggml type id (see dequant.h)          */
    uint64_t offset;             /* absolute file offset of the data      */
    uint64_t bytes;              /* size of the data                      */
    int64_t n_elements;
} bs_gguf_tensor;

typedef struct bs_gguf {
    bs_reader *r;
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset;        /* absolute start of the data section    */
    uint64_t n_kv;               /* entries parsed: all, once open is OK  */
    bs_gguf_kv *kv;              /* (n_kv) in file order                  */
    uint64_t n_tensors;          /* likewise                              */
    bs_gguf_tensor *tensors;     /* (n_tensors) in file order             */
    bs_gguf_kv **kv_sorted;      /* (n_kv) by key, for lookup             */
    bs_gguf_tensor **t_sorted;   /* (n_tensors) by name, for lookup       */
} bs_gguf;

/* Parses the header, metadata and tensor infos of r (which must outlive
   g). On failure g is left freeable. */
bs_status bs_gguf_open(bs_reader *r, bs_gguf *g);
void bs_gguf_close(bs_gguf *g);

/* Name of a metadata value type ("u32", "string"...). */
const char *bs_gguf_type_name(uint32_t type);

/* Lookup by exact key or tensor name; NULL when absent. */
const bs_gguf_kv *bs_gguf_find(const bs_gguf *g, const char *key);
const bs_gguf_tensor *bs_gguf_find_tensor(const bs_gguf *g, const char *name);

/* Typed getters. Absent keys give BS_OK with *found = 0 (found may be
   NULL when the caller only wants the value); a present key of an
   incompatible type, or an integer that does not fit, is BS_ERR_FORMAT
   naming the key. Any integer type converts to an integer, f32/f64 to a
   float; bool reads as an integer 0/1. */
bs_status bs_gguf_get_i64(const bs_gguf *g, const char *key, int64_t *v, int *found);
bs_status bs_gguf_get_f64(const bs_gguf *g, const char *key, double *v, int *found);
bs_status bs_gguf_get_str(const bs_gguf *g, const char *key, const char **v,
                          uint64_t *len, int *found);
/* An array of elem_type (any element type if elem_type is UINT32_MAX). */
bs_status bs_gguf_get_array(const bs_gguf *g, const char *key, uint32_t elem_type,
                            const bs_gguf_kv **kv);

/* Reads the elements of an array into a fresh heap buffer of kv->bytes
   bytes (free() it). */
bs_status bs_gguf_read_array(const bs_gguf *g, const bs_gguf_kv *kv, uint8_t **out);

/* Walks the strings of a STRING array read by bs_gguf_read_array: *p
   advances past one string. Bounds-checked against end. */
bs_status bs_gguf_next_string(const uint8_t **p, const uint8_t *end, const char **s,
                              size_t *len);

/* Little-endian element i of a numeric array buffer. */
float bs_gguf_f32_at(const uint8_t *buf, uint64_t i);
int32_t bs_gguf_i32_at(const uint8_t *buf, uint64_t i);

#endif
