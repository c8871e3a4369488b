/* dequant.c - ggml type table and scalar dequantization to f32.
 *
 * Formats as ggml defines them (ggml-common.h); see dequant.h for the
 * block layouts. The arithmetic mirrors ggml's reference code exactly
 * (one f32 multiply, plus one f32 add for Q4_1; contraction is off for
 * the whole build), so results are bit-identical to ggml and to gguf-py. */
#include "dequant.h"

#include "half.h"

#include <stddef.h>

const char bs_dequant_supported[] = "F32, F16, BF16, Q8_0, Q4_0, Q4_1";

/* Indexed by ggml type id. Sizes of the types we do not dequantize are
   still needed to validate tensor extents and to name them in errors. */
static const bs_ggml_type_info type_table[] = {
    [0] = {"F32", 1, 4, 1},
    [1] = {"F16", 1, 2, 1},
    [2] = {"Q4_0", 32, 18, 1},
    [3] = {"Q4_1", 32, 20, 1},
    /* 4, 5: Q4_2 and Q4_3, removed from ggml before GGUF existed */
    [6] = {"Q5_0", 32, 22, 0},
    [7] = {"Q5_1", 32, 24, 0},
    [8] = {"Q8_0", 32, 34, 1},
    [9] = {"Q8_1", 32, 36, 0},
    [10] = {"Q2_K", 256, 84, 0},
    [11] = {"Q3_K", 256, 110, 0},
    [12] = {"Q4_K", 256, 144, 0},
    [13] = {"Q5_K", 256, 176, 0},
    [14] = {"Q6_K", 256, 210, 0},
    [15] = {"Q8_K", 256, 292, 0},
    [16] = {"IQ2_XXS", 256, 66, 0},
    [17] = {"IQ2_XS", 256, 74, 0},
    [18] = {"IQ3_XXS", 256, 98, 0},
    [19] = {"IQ1_S", 256, 50, 0},
    [20] = {"IQ4_NL", 32, 18, 0},
    [21] = {"IQ3_S", 256, 110, 0},
    [22] = {"IQ2_S", 256, 82, 0},
    [23] = {"IQ4_XS", 256, 136, 0},
    [24] = {"I8", 1, 1, 0},
    [25] = {"I16", 1, 2, 0},
    [26] = {"I32", 1, 4, 0},
    [27] = {"I64", 1, 8, 0},
    [28] = {"F64", 1, 8, 0},
    [29] = {"IQ1_M", 256, 56, 0},
    [30] = {"BF16", 1, 2, 1},
    /* 31-33: Q4_0_4_4 and friends, removed (repacked at load time now) */
    [34] = {"TQ1_0", 256, 54, 0},
    [35] = {"TQ2_0", 256, 66, 0},
    /* 36-38: IQ4_NL_4_4 and friends, removed */
    [39] = {"MXFP4", 32, 17, 0},
    [40] = {"NVFP4", 64, 36, 0},
    [41] = {"Q1_0", 128, 18, 0},
};

const bs_ggml_type_info *bs_ggml_type_get(uint32_t t) {
    if (t >= sizeof type_table / sizeof type_table[0] || !type_table[t].name) return NULL;
    return &type_table[t];
}

uint64_t bs_ggml_row_bytes(uint32_t t, uint64_t n) {
    const bs_ggml_type_info *ti = bs_ggml_type_get(t);
    uint64_t bytes;
    if (!ti || n % ti->block_size != 0) return 0;
    if (!bs_mul_ok(n / ti->block_size, ti->type_size, &bytes)) return 0;
    return bytes;
}

static inline uint16_t ld16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static inline uint32_t ld32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void dequant_q8_0(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += sizeof(bs_block_q8_0), y += BS_QK) {
        float d = bs_f16_to_f32(ld16(b + offsetof(bs_block_q8_0, d)));
        const uint8_t *q = b + offsetof(bs_block_q8_0, q);
        for (int j = 0; j < BS_QK; j++) y[j] = (float)(int8_t)q[j] * d;
    }
}

static void dequant_q4_0(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += sizeof(bs_block_q4_0), y += BS_QK) {
        float d = bs_f16_to_f32(ld16(b + offsetof(bs_block_q4_0, d)));
        const uint8_t *qs = b + offsetof(bs_block_q4_0, qs);
        for (int j = 0; j < BS_QK / 2; j++) {
            y[j] = (float)((qs[j] & 0x0f) - 8) * d;
            y[j + BS_QK / 2] = (float)((qs[j] >> 4) - 8) * d;
        }
    }
}

static void dequant_q4_1(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += sizeof(bs_block_q4_1), y += BS_QK) {
        float d = bs_f16_to_f32(ld16(b + offsetof(bs_block_q4_1, d)));
        float m = bs_f16_to_f32(ld16(b + offsetof(bs_block_q4_1, m)));
        const uint8_t *qs = b + offsetof(bs_block_q4_1, qs);
        for (int j = 0; j < BS_QK / 2; j++) {
            y[j] = (float)(qs[j] & 0x0f) * d + m;
            y[j + BS_QK / 2] = (float)(qs[j] >> 4) * d + m;
        }
    }
}

bs_status bs_dequant_row(uint32_t t, const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    const bs_ggml_type_info *ti = bs_ggml_type_get(t);
    if (!ti || !ti->dequant)
        return bs_fail(BS_ERR_UNSUPPORTED, "dequant: tensor type %s (%u) is not supported (only %s)",
                       ti ? ti->name : "unknown", (unsigned)t, bs_dequant_supported);
    if (n < 0 || n % ti->block_size != 0)
        return bs_fail(BS_ERR_FORMAT, "dequant: %lld %s weights is not a whole number of %u-blocks",
                       (long long)n, ti->name, (unsigned)ti->block_size);
    switch ((bs_ggml_type)t) {
    case BS_GGML_F32:
        for (int64_t i = 0; i < n; i++) dst[i] = bs_f32_from_bits(ld32(p + 4 * i));
        break;
    case BS_GGML_F16:
        for (int64_t i = 0; i < n; i++) dst[i] = bs_f16_to_f32(ld16(p + 2 * i));
        break;
    case BS_GGML_BF16:
        for (int64_t i = 0; i < n; i++) dst[i] = bs_bf16_to_f32(ld16(p + 2 * i));
        break;
    case BS_GGML_Q8_0: dequant_q8_0(p, dst, n / BS_QK); break;
    case BS_GGML_Q4_0: dequant_q4_0(p, dst, n / BS_QK); break;
    case BS_GGML_Q4_1: dequant_q4_1(p, dst, n / BS_QK); break;
    }
    return BS_OK;
}
