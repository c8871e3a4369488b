/* scales.c - bit-plane scales as 8-bit codes (see scales.h). */
#include "scales.h"

#include <stddef.h>

void bs_scales_encode(uint16_t *scales, int32_t rows, int32_t gpr, uint16_t *ref, uint8_t *codes) {
    for (int32_t r = 0; r < rows; r++) {
        uint16_t *s = scales + (size_t)r * gpr, top = BS_SCALE_MIN;
        for (int32_t g = 0; g < gpr; g++) top = s[g] > top ? s[g] : top;
        ref[r] = top;
        for (int32_t g = 0; g < gpr; g++) {
            /* steps down from top that stay at or above s[g] */
            int32_t steps = ((int32_t)top - (int32_t)s[g]) / BS_SCALE_STEP;
            uint8_t code = (uint8_t)(255 - (steps > 255 ? 255 : steps));
            codes[(size_t)r * gpr + g] = code;
            s[g] = bs_scale_decode(top, code);
        }
    }
}

void bs_scales_decode(const uint16_t *ref, const uint8_t *codes, int32_t rows, int32_t gpr, uint16_t *out) {
    for (int32_t r = 0; r < rows; r++)
        for (int32_t g = 0; g < gpr; g++)
            out[(size_t)r * gpr + g] = bs_scale_decode(ref[r], codes[(size_t)r * gpr + g]);
}
