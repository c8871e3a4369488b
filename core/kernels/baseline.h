/* baseline.h - group-quantized matvec baselines for `bitstack bench`.
 *
 * What a user would run instead of BitStack: 8-bit and 4-bit round-to-
 * nearest weights in blocks of 32 with one binary16 scale each (GGUF's
 * Q8_0 and Q4_0 layouts: 8.5 and 4.5 bits per weight), multiplied with
 * int8 activations quantized per block of 32 as fast mode does
 * (kernels_q8.h), as llama.cpp does. Only the benchmark uses them; they are
 * here so they run with the same compiler flags and the same thread split
 * as the BitStack kernels (AVX2 where the CPU has it, SIMD128 in the wasm
 * SIMD128 build, scalar otherwise: the variant of bs_kernels_best()).
 *
 * Every variant gives the reference's result bit for bit: integer block
 * sums are exact in any order, and the float steps are the same scalar
 * operations in the same order everywhere (f_b = d_b * xd_b, e_b =
 * (float)isum_b, y = the canonical dot of e and f over the row's blocks,
 * kernels.h: 8 lanes over whole groups of 8 blocks, the rest in order).
 */
#ifndef BS_BASELINE_H
#define BS_BASELINE_H

#include "kernels_q8.h"

#include <stdint.h>

typedef struct bs_qmat {
    int32_t rows, cols;  /* cols: the matrix's; rows are zero-padded to
                            whole blocks of 32 (x must be too) */
    int32_t bits;        /* 8 or 4 */
    uint8_t *q;          /* per row, per block: 32 (8-bit) or 16 (4-bit) bytes */
    uint16_t *d;         /* (rows, blocks) binary16 scales */
    bs_qmat_fn matvec;   /* bs_kernels_best()'s variant (kernels.h: x
                            quantized over bs_qmat_blocks(m) blocks, zero
                            past cols), chosen once, at init (CPUID traps
                            to the hypervisor on a VM) */
} bs_qmat;

/* Quantizes w (rows, cols) round-to-nearest with absmax scales; returns 0,
   or -1 when memory runs out or bits is not 8 or 4. */
int bs_qmat_init(bs_qmat *m, const float *w, int32_t rows, int32_t cols, int32_t bits);
void bs_qmat_free(bs_qmat *m);
int64_t bs_qmat_bytes(const bs_qmat *m);
/* Blocks of 32 per row (the last zero-padded). */
static inline int32_t bs_qmat_blocks(const bs_qmat *m) { return (m->cols + 31) / 32; }
/* m->matvec, and the variants the kernel tables hold: the scalar
   reference; the AVX2 one (x86 builds, kernels_avx2.c) and the SIMD128
   one (wasm SIMD128 builds, kernels_simd128.c), built with their files. */
void bs_qmat_matvec(const bs_qmat *m, const int8_t *xq, const float *xd, const int32_t *xs, float *y,
                    int r0, int r1);
void bs_qmat_matvec_ref(const bs_qmat *m, const int8_t *xq, const float *xd, const int32_t *xs, float *y,
                        int r0, int r1);
void bs_qmat_matvec_avx2(const bs_qmat *m, const int8_t *xq, const float *xd, const int32_t *xs, float *y,
                         int r0, int r1);
void bs_qmat_matvec_simd128(const bs_qmat *m, const int8_t *xq, const float *xd, const int32_t *xs, float *y,
                            int r0, int r1);

/* The machine's int8 multiply-add peak (GMAC/s, one thread) of the
   instruction the kernels use (AVX2 vpmaddubsw: 32 per instruction), from
   a loop of independent chains; 0 where there is no AVX2 code. */
double bs_int8_peak_gmacs(void);
double bs_int8_peak_gmacs_avx2(void);

#endif
