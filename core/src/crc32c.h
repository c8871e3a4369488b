/* crc32c.h - CRC-32C (Castagnoli), the checksum of every .bstk payload. */
#ifndef BS_CRC32C_H
#define BS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: start with crc = 0; bs_crc32c(bs_crc32c(0, a), b) is the
   CRC of a then b. Check value: "123456789" -> 0xE3069283. */
uint32_t bs_crc32c(uint32_t crc, const void *data, size_t n);

#endif
