/* planes_pack.c - the packed layout of PLANES matrices (planes_pack.h):
   rewriting planes in place when one attaches or detaches, and the scalar
   reader of codes. */
#include "planes_pack.h"

#include "model.h"

#include <string.h>

int bs_pk_chunks(int n, bs_pk_chunk *out) {
    int k = 0, nq = n / 4;
    for (int i = 0; i < nq; i++) out[k++] = (bs_pk_chunk){4 * i, 4};
    if (n % 4 >= 2) out[k++] = (bs_pk_chunk){4 * nq, 2};
    if (n % 2) out[k++] = (bs_pk_chunk){n - 1, 1};
    return k;
}

size_t bs_planes_pack_tmp(int32_t cols) { return 16 * (size_t)bs_row_bytes(cols); }

/* ---- eight columns at a time ------------------------------------------------ */

/* One plain sign byte (MSB = first column) to 8 bytes of 0/1 in a
   64-bit word, byte k (bits 8k..8k+7) = column k: a table, built by the
   preprocessor. */
#define SP(b)                                                                                       \
    ((uint64_t)(((b) >> 7) & 1) | (uint64_t)(((b) >> 6) & 1) << 8 | (uint64_t)(((b) >> 5) & 1) << 16 | \
     (uint64_t)(((b) >> 4) & 1) << 24 | (uint64_t)(((b) >> 3) & 1) << 32 |                             \
     (uint64_t)(((b) >> 2) & 1) << 40 | (uint64_t)(((b) >> 1) & 1) << 48 | (uint64_t)((b) & 1) << 56)
#define SP4(b) SP(b), SP(b + 1), SP(b + 2), SP(b + 3)
#define SP16(b) SP4(b), SP4(b + 4), SP4(b + 8), SP4(b + 12)
#define SP64(b) SP16(b), SP16(b + 16), SP16(b + 32), SP16(b + 48)
static const uint64_t SPREAD[256] = {SP64(0), SP64(64), SP64(128), SP64(192)};
#undef SP64
#undef SP16
#undef SP4
#undef SP

static uint64_t spread(uint8_t b) { return SPREAD[b]; }

/* 64-bit words in memory, byte k = bits 8k..8k+7 (little-endian order
   whatever the host: the layout is defined in bytes). */
static inline uint64_t load64(const uint8_t *p) {
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) v |= (uint64_t)p[k] << (8 * k);
    return v;
}

static inline void store64(uint8_t *p, uint64_t v) {
    for (int k = 0; k < 8; k++) p[k] = (uint8_t)(v >> (8 * k));
}

/* The reverse: bit 0 of each of 8 bytes (byte k = column k) to one plain
   sign byte. The product puts byte k's bit at bit 63 - k and nothing else
   in the top byte (the partial products never overlap). */
static uint8_t gather(uint64_t x) { return (uint8_t)((x & 0x0101010101010101ull) * 0x8040201008040201ull >> 56); }

/* ---- one chunk row ------------------------------------------------------------- */

/* Eight columns at a time in 64-bit words: column group m (columns
   8m .. 8m+7) of a unit lands in the unit's bytes 8 (m mod c) .. +7 at bit
   c (m / c) (planes_pack.h: field k holds columns B k .. B k + B - 1,
   B = 8c). */

#define PK_INLINE static inline __attribute__((always_inline))

/* Writes the chunk row (c * rb bytes) of one row from its c plain rows
   (c constant in each copy: no division left in the loops). */
PK_INLINE void pack_row_c(const uint8_t *const *p, int c, int32_t cols, uint8_t *row) {
    int32_t rb = bs_row_bytes(cols), nb = cols / BS_PK_BLOCK, nu = nb / 2, tb = rb - 4 * nb;
    int B = 8 * c;
    for (int32_t u = 0; u < nu; u++) {
        uint64_t out[4] = {0, 0, 0, 0};
        for (int m = 0; m < 8; m++) {
            uint64_t v = 0;
            for (int i = 0; i < c; i++) v = v << 1 | spread(p[i][8 * u + m]);
            out[m % c] |= v << (c * (m / c));
        }
        for (int w = 0; w < c; w++) store64(row + B * u + 8 * w, out[w]); /* byte k: column k of its group */
    }
    /* the odd last block and the tail stay plain */
    for (int i = 0; i < c; i++) {
        if (nb % 2) memcpy(row + B * nu + 4 * i, p[i] + 8 * nu, 4);
        if (tb) memcpy(row + 4 * c * nb + i * tb, p[i] + 4 * nb, (size_t)tb);
    }
}

/* The reverse. */
PK_INLINE void unpack_row_c(const uint8_t *row, int c, int32_t cols, uint8_t *const *p) {
    int32_t rb = bs_row_bytes(cols), nb = cols / BS_PK_BLOCK, nu = nb / 2, tb = rb - 4 * nb;
    int B = 8 * c;
    uint64_t mask = 0x0101010101010101ull * (uint64_t)((1 << c) - 1);
    for (int32_t u = 0; u < nu; u++) {
        uint64_t in[4];
        for (int w = 0; w < c; w++) in[w] = load64(row + B * u + 8 * w);
        for (int m = 0; m < 8; m++) {
            uint64_t v = in[m % c] >> (c * (m / c)) & mask;
            for (int i = 0; i < c; i++) p[i][8 * u + m] = gather(v >> (c - 1 - i));
        }
    }
    for (int i = 0; i < c; i++) {
        if (nb % 2) memcpy(p[i] + 8 * nu, row + B * nu + 4 * i, 4);
        if (tb) memcpy(p[i] + 4 * nb, row + 4 * c * nb + i * tb, (size_t)tb);
    }
}

static void pack_row(const uint8_t *const *p, int c, int32_t cols, uint8_t *row) {
    if (c == 4) pack_row_c(p, 4, cols, row);
    else if (c == 2) pack_row_c(p, 2, cols, row);
    else pack_row_c(p, 1, cols, row);
}

static void unpack_row(const uint8_t *row, int c, int32_t cols, uint8_t *const *p) {
    if (c == 4) unpack_row_c(row, 4, cols, p);
    else if (c == 2) unpack_row_c(row, 2, cols, p);
    else unpack_row_c(row, 1, cols, p);
}

/* ---- a chunk, four rows at a time ---------------------------------------------- */

/* Rows 4s..4s+3 of a chunk's c buffers hold exactly those rows' data in
   either layout, so each group of four is copied to tmp and rewritten. */
static void pack_chunk(const bs_linear *l, bs_pk_chunk ch, int pack, uint8_t *tmp) {
    int32_t rb = bs_row_bytes(l->cols), cols = l->cols;
    uint8_t *buf[4];
    for (int i = 0; i < ch.c; i++) buf[i] = (uint8_t *)l->planes[ch.p0 + i]; /* writable: planes_pack.h */
    for (int32_t s = 0; s < bs_pk_rows4(l->rows); s += 4) {
        for (int i = 0; i < ch.c; i++) memcpy(tmp + (size_t)i * 4 * rb, buf[i] + (int64_t)s * rb, 4 * (size_t)rb);
        for (int rr = 0; rr < 4; rr++) {
            /* the row's chunk row, in tmp and in place */
            size_t off = (size_t)(rr - rr % ch.c) * rb;
            uint8_t *in_tmp = tmp + (size_t)(rr % ch.c) * 4 * rb + off;
            uint8_t *in_place = buf[rr % ch.c] + (int64_t)s * rb + off;
            if (pack) {
                const uint8_t *p[4];
                for (int i = 0; i < ch.c; i++) p[i] = tmp + (size_t)i * 4 * rb + (size_t)rr * rb;
                pack_row(p, ch.c, cols, in_place);
            } else {
                uint8_t *p[4];
                for (int i = 0; i < ch.c; i++) p[i] = buf[i] + (int64_t)(s + rr) * rb;
                unpack_row(in_tmp, ch.c, cols, p);
            }
        }
    }
}

/* Packs (or unpacks) the chunks of n planes that start at plane `from`
   or later (from is a multiple of 4, so chunks never straddle it). */
static void pack_from(const bs_linear *l, int n, int from, int pack, uint8_t *tmp) {
    bs_pk_chunk ch[BS_PK_MAX_CHUNKS];
    int nc = bs_pk_chunks(n, ch);
    for (int k = 0; k < nc; k++)
        if (ch[k].p0 >= from) pack_chunk(l, ch[k], pack, tmp);
}

void bs_planes_attach(bs_linear *l, int level, uint8_t *tmp) {
    int from = l->packed ? level & ~3 : 0; /* plain planes so far: pack them all */
    if (l->packed) pack_from(l, level, from, 0, tmp);
    pack_from(l, level + 1, from, 1, tmp);
    l->packed = 1;
}

void bs_planes_detach(bs_linear *l, uint8_t *tmp) {
    int n = l->n_blocks, from = (n - 1) & ~3;
    pack_from(l, n, from, 0, tmp);
    pack_from(l, n - 1, from, 1, tmp);
}

void bs_planes_unpack(bs_linear *l, uint8_t *tmp) {
    if (l->packed) pack_from(l, l->n_blocks, 0, 0, tmp);
    l->packed = 0;
}

/* ---- reading ------------------------------------------------------------------- */

static int plain_bit(const uint8_t *row, int32_t j) { return (row[j >> 3] >> (7 - (j & 7))) & 1; }

int32_t bs_planes_code(const bs_linear *l, int32_t r, int32_t j) {
    int n = l->n_blocks;
    int32_t rb = bs_row_bytes(l->cols), q = 0;
    if (!l->packed || r >= bs_pk_rows4(l->rows)) {
        for (int i = 0; i < n; i++) q = q << 1 | plain_bit(l->planes[i] + (int64_t)r * rb, j);
        return q;
    }
    int32_t nb = l->cols / BS_PK_BLOCK, nu = nb / 2, tb = rb - 4 * nb;
    bs_pk_chunk ch[BS_PK_MAX_CHUNKS];
    int nc = bs_pk_chunks(n, ch);
    for (int k = 0; k < nc; k++) {
        int c = ch[k].c, code = 0;
        const uint8_t *row = bs_pk_chunk_row(l->planes, ch[k], r, rb);
        if (j < BS_PK_UNIT * nu) {
            int t = j % BS_PK_UNIT, B = 8 * c;
            code = row[B * (j / BS_PK_UNIT) + t % B] >> (c * (t / B)) & ((1 << c) - 1);
        } else if (j < BS_PK_BLOCK * nb) { /* the odd last block */
            for (int i = 0; i < c; i++) code = code << 1 | plain_bit(row + 8 * c * nu + 4 * i, j - BS_PK_UNIT * nu);
        } else {
            for (int i = 0; i < c; i++) code = code << 1 | plain_bit(row + 4 * c * nb + i * tb, j - BS_PK_BLOCK * nb);
        }
        q |= code << (n - ch[k].p0 - c);
    }
    return q;
}

void bs_planes_row_codes(const bs_linear *l, int32_t r, uint16_t *q) {
    for (int32_t j = 0; j < l->cols; j++) q[j] = (uint16_t)bs_planes_code(l, r, j);
}
