/* dequant.h - ggml tensor types: their ids and block sizes, and the
 * dequantization of the few bitstack reads into f32.
 *
 * The ids are the ones GGUF stores (tensor info "type"); they are ggml's
 * enum ggml_type and never change. Quantized types pack a row into blocks
 * of block_size weights of type_size bytes; a row (the fastest dimension,
 * ne[0]) is always a whole number of blocks.
 *
 * Block layouts read here (all little-endian, no padding):
 *
 *   type  block  bytes  layout                                 value of q[j]
 *   Q8_0   32     34    f16 d, int8 q[32]                      q*d
 *   Q4_0   32     18    f16 d, u8 qs[16]                       (q-8)*d
 *   Q4_1   32     20    f16 d, f16 m, u8 qs[16]                q*d + m
 *
 * In Q4_0/Q4_1 byte qs[i] holds element i in its low nibble and element
 * i+16 in its high nibble (not adjacent pairs).
 */
#ifndef BS_DEQUANT_H
#define BS_DEQUANT_H

#include "internal.h"

typedef enum bs_ggml_type {
    BS_GGML_F32 = 0,
    BS_GGML_F16 = 1,
    BS_GGML_Q4_0 = 2,
    BS_GGML_Q4_1 = 3,
    BS_GGML_Q8_0 = 8,
    BS_GGML_BF16 = 30
} bs_ggml_type;

/* What the container needs to size any tensor, dequantizable or not. */
typedef struct bs_ggml_type_info {
    const char *name;     /* "Q4_K"; NULL for ids ggml never defined      */
    uint32_t block_size;  /* weights per block (1 for plain types)        */
    uint32_t type_size;   /* bytes per block                              */
    int dequant;          /* 1 if bs_dequant_row reads it                 */
} bs_ggml_type_info;

/* Info for type id t, or NULL when t is not a ggml type we know. */
const bs_ggml_type_info *bs_ggml_type_get(uint32_t t);

/* "F32, F16, BF16, Q8_0, Q4_0, Q4_1": for error messages. */
extern const char bs_dequant_supported[];

/* The packed blocks, for documentation and size checks; the code reads
   them byte-wise (the file gives no alignment guarantee and is
   little-endian whatever the host). */
#define BS_QK 32

typedef struct bs_block_q8_0 {  /* 8.5 bits per weight                   */
    uint16_t d;                 /* f16 scale                             */
    int8_t q[BS_QK];
} bs_block_q8_0;
_Static_assert(sizeof(bs_block_q8_0) == 2 + BS_QK, "Q8_0 block is 34 bytes");

typedef struct bs_block_q4_0 {  /* 4.5 bits per weight                   */
    uint16_t d;                 /* f16 scale                             */
    uint8_t qs[BS_QK / 2];      /* nibbles, see above                    */
} bs_block_q4_0;
_Static_assert(sizeof(bs_block_q4_0) == 2 + BS_QK / 2, "Q4_0 block is 18 bytes");

typedef struct bs_block_q4_1 {  /* 5 bits per weight                     */
    uint16_t d;                 /* f16 scale                             */
    uint16_t m;                 /* f16 minimum (offset)                  */
    uint8_t qs[BS_QK / 2];
} bs_block_q4_1;
_Static_assert(sizeof(bs_block_q4_1) == 4 + BS_QK / 2, "Q4_1 block is 20 bytes");

/* Bytes of one row of n weights of type t; 0 if t is unknown or n is not
   a multiple of its block size. */
uint64_t bs_ggml_row_bytes(uint32_t t, uint64_t n);

/* Dequantizes n weights (a multiple of the block size) of type t from src
   (bs_ggml_row_bytes(t, n) bytes, any alignment) into dst. Bit-exact with
   ggml's reference dequantization. */
bs_status bs_dequant_row(uint32_t t, const void *src, float *dst, int64_t n);

#endif
