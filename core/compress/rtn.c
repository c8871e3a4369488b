/* rtn.c - round-to-nearest quantize-dequantize, the baselines the stacks
 * are measured against. Groups of `group` consecutive weights along a row
 * (the last group of a row may be shorter), binary16 parameters.
 *
 * Symmetric, b bits (llama.cpp Q4_0 generalised): let x be the weight of
 * largest magnitude in the group, with its sign (the first one on ties).
 *     d = binary16(x / -2^(b-1))     (round to nearest even)
 *     q = clamp(round(w / d), -2^(b-1), 2^(b-1) - 1),  w' = q d.
 * The sign of d maps x itself to q = -2^(b-1), so x is (up to the rounding
 * of d) reproduced and all 2^b levels are used; the levels are the
 * multiples of |d| = absmax / 2^(b-1). |w - w'| <= |d| / 2 for every weight
 * on x's side of zero and for |w| <= (2^(b-1) - 1/2) |d|; a weight of the
 * opposite sign beyond that clamps to the last level (2^(b-1) - 1) |d|, so
 * |w - w'| <= |d| plus the binary16 rounding of d times 2^(b-1).
 * Chosen by measurement against the narrower d = absmax / (2^(b-1) - 1),
 * q in +-(2^(b-1) - 1) (error always <= d/2, one level unused), on the 35
 * stories260K matrices (relative Frobenius error, tests/test_decompose.c
 * prints them): group 32, b = 2: 0.355 vs 0.651; b = 3: 0.171 vs 0.222;
 * b = 4: 0.084 vs 0.095; b = 8: 0.0052 both (this one lower in the 4th
 * digit); the same order at groups 50 and 128.
 *
 * Asymmetric, b bits (llama.cpp Q4_1 generalised): mn = min, mx = max of
 * the group;
 *     m16 = binary16(mn) rounded down,  d16 = binary16((mx - m16) / (2^b - 1))
 *     rounded up, so that [m16, m16 + (2^b - 1) d16] covers the group;
 *     q = clamp(round((w - m16) / d16), 0, 2^b - 1),  w' = m16 + q d16.
 * Every weight is inside the covered range, so |w - w'| <= d16 / 2 (plus
 * the one f32 rounding of the sum).
 *
 * round() is half away from zero, evaluated in double on exact inputs.
 * Bits: sym 2..8, asym 1..8 (the f32 products q d are then exact); group
 * >= 1. Other arguments leave W unchanged. Weights beyond the binary16
 * range (|w| > 65504) or not finite give unspecified values (no undefined
 * behaviour). */
#include "decompose.h"

#include "half.h"

#include <math.h>

/* The binary16 nearest x from above (>= x) or below (<= x): round to
   nearest even, then one step outwards if that landed on the wrong side.
   Steps move through the bit patterns: for a positive half +1 goes up, for
   a negative one +1 goes down; +-0 step to the smallest subnormals. */
static uint16_t f16_up(float x) {
    uint16_t h = bs_f32_to_f16(x);
    if (bs_f16_to_f32(h) >= x || (h & 0x7fffu) >= 0x7c00u) return h;
    if (h == 0x8000u || h == 0x0000u) return 0x0001u;
    return (h & 0x8000u) ? (uint16_t)(h - 1u) : (uint16_t)(h + 1u);
}

static uint16_t f16_down(float x) {
    uint16_t h = bs_f32_to_f16(x);
    if (bs_f16_to_f32(h) <= x || (h & 0x7fffu) >= 0x7c00u) return h;
    if (h == 0x0000u || h == 0x8000u) return 0x8001u;
    return (h & 0x8000u) ? (uint16_t)(h + 1u) : (uint16_t)(h - 1u);
}

/* Clamps a rounded level to [lo, hi]; NaN goes to lo (no float -> int
   conversion happens, so non-finite input stays defined). */
static double clamp_level(double q, double lo, double hi) {
    if (!(q >= lo)) return lo;
    return q > hi ? hi : q;
}

static void rtn_sym_group(float *w, int32_t len, int32_t bits) {
    float x = 0.0f;
    for (int32_t j = 0; j < len; j++)
        if (fabsf(w[j]) > fabsf(x)) x = w[j];
    double half = (double)(1 << (bits - 1));
    float d = bs_f16_to_f32(bs_f32_to_f16((float)(x / -half)));
    if (d == 0.0f) {
        /* All zero (or below binary16 resolution): every level is 0. */
        for (int32_t j = 0; j < len; j++) w[j] = 0.0f;
        return;
    }
    for (int32_t j = 0; j < len; j++) {
        double q = clamp_level(round((double)w[j] / (double)d), -half, half - 1.0);
        w[j] = (float)q * d;
    }
}

static void rtn_asym_group(float *w, int32_t len, int32_t bits) {
    float mn = w[0], mx = w[0];
    for (int32_t j = 1; j < len; j++) {
        mn = fminf(mn, w[j]);
        mx = fmaxf(mx, w[j]);
    }
    double top = (double)((1 << bits) - 1);
    float m16 = bs_f16_to_f32(f16_down(mn));
    uint16_t dh = f16_up((float)(((double)mx - (double)m16) / top));
    /* (mx - m16) / top was rounded to f32 before f16_up: make sure the
       covered range really reaches mx. */
    while ((double)m16 + top * (double)bs_f16_to_f32(dh) < (double)mx && dh < 0x7c00u) dh++;
    float d = bs_f16_to_f32(dh);
    for (int32_t j = 0; j < len; j++) {
        double q = d > 0.0f ? round(((double)w[j] - (double)m16) / (double)d) : 0.0;
        q = clamp_level(q, 0.0, top);
        w[j] = m16 + (float)q * d;
    }
}

void bs_rtn_quantize(float *W, int32_t m, int32_t n, int32_t bits, int32_t group, int asymmetric) {
    if (!W || m < 1 || n < 1 || group < 1 || bits > 8 || bits < (asymmetric ? 1 : 2)) return;
    for (int32_t i = 0; i < m; i++)
        for (int32_t j0 = 0; j0 < n; j0 += group) {
            float *w = W + (size_t)i * n + j0;
            int32_t len = BS_MIN(group, n - j0);
            if (asymmetric) rtn_asym_group(w, len, bits);
            else rtn_sym_group(w, len, bits);
        }
}

double bs_rtn_bpw(int32_t bits, int32_t group, int asymmetric) {
    return (double)bits + (asymmetric ? 32.0 : 16.0) / (double)group;
}
