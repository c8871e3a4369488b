/* half.h - IEEE binary16 and bfloat16 <-> f32, exact, no FPU modes. */
#ifndef BS_HALF_H
#define BS_HALF_H

#include <stdint.h>
#include <string.h>

static inline float bs_f32_from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t bs_bits_from_f32(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* binary16 -> f32 (exact: every half is a float). The magnitude bits
   moved to f32 position read as 2^-112 times the value, normal or
   subnormal alike (f32 keeps subnormals: no flush to zero here), so one
   exact product by 2^112 rebuilds it; exponent 31 (inf, NaN) keeps its
   mantissa bits under the f32 inf exponent; the sign goes back last. No
   data-dependent branch but the rare inf / NaN. */
static inline float bs_f16_to_f32(uint16_t h) {
    uint32_t mag = (uint32_t)(h & 0x7fffu) << 13;
    float f = bs_f32_from_bits(mag) * 0x1p112f;
    if ((h & 0x7c00u) == 0x7c00u) f = bs_f32_from_bits(mag | 0x7f800000u);
    return bs_f32_from_bits(bs_bits_from_f32(f) | (uint32_t)(h & 0x8000u) << 16);
}

/* f32 -> binary16, round to nearest even; overflow to inf, NaN kept. */
static inline uint16_t bs_f32_to_f16(float f) {
    uint32_t u = bs_bits_from_f32(f);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u : 0));
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 */
    if (a < 0x38800000u) { /* below the smallest normal half: subnormal */
        if (a < 0x33000000u) return (uint16_t)sign; /* < 2^-25 rounds to 0 */
        uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - e; /* 14..24 */
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (q & 1u))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t q = ((a - 0x38000000u) >> 13);
    uint32_t rem = a & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1u))) q++;
    return (uint16_t)(sign | q);
}

static inline float bs_bf16_to_f32(uint16_t h) { return bs_f32_from_bits((uint32_t)h << 16); }

#endif
