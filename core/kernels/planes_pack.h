/* planes_pack.h - the in-memory layout of bit-plane matrices the kernels read.
 *
 * A .bstk stores each sign plane of a PLANES matrix as its own payload
 * (rows, row_bytes), one bit per weight (FORMAT.md 5). Multiplying planes
 * as they are costs about 6 instructions per plane per 32 weights just to
 * gather each weight's bits (docs/RESULTS.md, "Fast decode"). So when a
 * plane attaches, the runtime rewrites the trailing planes in place into
 * packed codes: the same bytes in the same buffers, another order, so the
 * layout costs nothing beyond the planes and attaching or detaching one
 * plane rewrites at most four (bs_planes_attach / bs_planes_detach).
 *
 * Chunks. n attached planes form floor(n/4) quads (planes 4k..4k+3), then a
 * pair (planes 4q, 4q+1) when n mod 4 >= 2, then a single (plane n-1) when
 * n is odd. A chunk of c planes p0..p0+c-1 holds one c-bit code per weight,
 * code = sum over i < c of bit(p0 + i) << (c - 1 - i), and the weight's
 * n-bit integer q (FORMAT.md 5) is the sum of its chunks' codes shifted by
 * n - p0 - c.
 *
 * Rows. Rows r < rows4 = rows & ~3 are packed; the last rows mod 4 rows stay
 * plain (row r at plane + r * rb, MSB first) in every buffer. A packed row
 * r has in chunk (p0, c) a "chunk row" of c * rb bytes (rb = row bytes) at
 *     planes[p0 + r % c] + (r - r % c) * rb,
 * i.e. the buffers of a chunk take its rows in turn, and each chunk row
 * sits where c plain rows of one plane were (rows 4s..4s+3 of a chunk's
 * buffers hold exactly rows 4s..4s+3 of its chunk rows: packing is local).
 *
 * A chunk row, with nb = cols / 32 whole blocks, nu = nb / 2 units,
 * tb = rb - 4 nb tail bytes per plane:
 *   [0, 8c nu)      units of 64 columns, B = 8c bytes each: bits
 *                   [c k, c k + c) of byte j (LSB first) are the code of
 *                   column 64u + B k + j (k < 8 / c). So a quad unit is
 *                   32 bytes whose low nibbles are block 2u and high nibbles
 *                   block 2u + 1; a pair unit 16 bytes whose fields are
 *                   columns 0-15, 16-31, 32-47, 48-63; a single unit 8
 *                   bytes whose bit k of byte j is column 8k + j. Every
 *                   field comes out with one shift and one mask, in 16- or
 *                   32-byte vectors, no shuffle.
 *   [8c nu, 4c nb)  when nb is odd, the last block plain: plane p0 + i's
 *                   4 bytes at 8c nu + 4i (MSB first).
 *   [4c nb, c rb)   the tail columns (cols mod 32) plain: plane p0 + i's
 *                   tb bytes at 4c nb + i tb.
 *
 * Pure C, no ISA code; bs_planes_code is the reference reader.
 */
#ifndef BS_PLANES_PACK_H
#define BS_PLANES_PACK_H

#include <stddef.h>
#include <stdint.h>

struct bs_linear;

/* Columns per unit and per block of the packed layout. */
#define BS_PK_UNIT 64
#define BS_PK_BLOCK 32
/* Most chunks a matrix can have (12 planes: 3 quads; 11: 2 quads, pair, single). */
#define BS_PK_MAX_CHUNKS 4

typedef struct bs_pk_chunk {
    int p0; /* first plane */
    int c;  /* planes: 4, 2 or 1 */
} bs_pk_chunk;

/* The chunks of n planes, in plane order; returns how many. */
int bs_pk_chunks(int n, bs_pk_chunk *out);

/* Rows that are packed: rows & ~3. */
static inline int32_t bs_pk_rows4(int32_t rows) { return rows & ~3; }

/* Chunk row of chunk ch for a packed row r (r < rows4). */
static inline const uint8_t *bs_pk_chunk_row(const uint8_t *const *planes, bs_pk_chunk ch, int32_t r, int32_t rb) {
    return planes[ch.p0 + r % ch.c] + (int64_t)(r - r % ch.c) * rb;
}

/* Bytes of scratch bs_planes_attach / bs_planes_detach need for cols. */
size_t bs_planes_pack_tmp(int32_t cols);

/* Plane `level` (== l->n_blocks, plain, writable like every other plane)
   joins the packed layout: the trailing planes of the last incomplete quad
   are rewritten for level + 1 planes and l->packed is set. The caller then
   sets n_blocks = level + 1. tmp: bs_planes_pack_tmp(cols) bytes. */
void bs_planes_attach(struct bs_linear *l, int level, uint8_t *tmp);
/* The reverse for the last plane (n_blocks >= 1): afterwards planes
   0 .. n_blocks - 2 are packed for n_blocks - 1 planes and the last one is
   plain again; the caller then decrements n_blocks. */
void bs_planes_detach(struct bs_linear *l, uint8_t *tmp);

/* Back to plain planes (all n_blocks of them; l->packed cleared). */
void bs_planes_unpack(struct bs_linear *l, uint8_t *tmp);

/* q (n_blocks bits) of weight (r, j), packed or plain: the reference. */
int32_t bs_planes_code(const struct bs_linear *l, int32_t r, int32_t j);
/* q of columns [0, cols) of row r into q. */
void bs_planes_row_codes(const struct bs_linear *l, int32_t r, uint16_t *q);

#endif
