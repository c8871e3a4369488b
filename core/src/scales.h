/* scales.h - bit-plane scales stored as 8-bit codes (FORMAT.md 5, .bstk 1.2).
 *
 * A binary16 scale per group costs 16 bits: 0.25 bits per weight at groups
 * of 64, 0.5 at 32. Stored instead as one binary16 reference per row (the
 * row's largest scale) and an 8-bit code per group, groups of 32 cost what
 * groups of 64 did, and halving the group lowers the error of every level
 * more than the coarser scale raises it (docs/RESULTS.md).
 *
 * A code counts steps down from the reference in binary16 bit patterns,
 * which order positive values like the values themselves and are about
 * logarithmic (1024 patterns per octave):
 *     scale(ref, code) = max(2^-14, ref - BS_SCALE_STEP * (255 - code))
 * read as binary16 bits. Integer arithmetic only, so every reader decodes
 * the same scales. The encoder picks the smallest code whose scale is at
 * least the exact one: the grid still covers every weight of the group
 * (|w| <= 2c, planes.c) and is at most one step coarser (3.1% at the
 * bottom of an octave, 1.6% at its top). Codes span 255 steps, about 8
 * octaves below the row's largest scale; smaller groups get the floor. */
#ifndef BS_SCALES_H
#define BS_SCALES_H

#include <stdint.h>

#define BS_SCALE_STEP 32
/* The smallest normal binary16, 2^-14: the floor of every decoded scale. */
#define BS_SCALE_MIN 0x0400u
/* The largest finite binary16 (a reference above it is not a scale). */
#define BS_SCALE_MAX 0x7bffu

static inline uint16_t bs_scale_decode(uint16_t ref, uint8_t code) {
    int32_t h = (int32_t)ref - BS_SCALE_STEP * (255 - (int32_t)code);
    return h < (int32_t)BS_SCALE_MIN ? (uint16_t)BS_SCALE_MIN : (uint16_t)h;
}

/* Rows of gpr binary16 scales (positive, finite) into one reference per row
   and a code per group; scales is overwritten with the decoded values, which
   the planes must then be encoded against. */
void bs_scales_encode(uint16_t *scales, int32_t rows, int32_t gpr, uint16_t *ref, uint8_t *codes);

/* The decoded binary16 scales (rows, gpr) of refs and codes. */
void bs_scales_decode(const uint16_t *ref, const uint8_t *codes, int32_t rows, int32_t gpr, uint16_t *out);

#endif
