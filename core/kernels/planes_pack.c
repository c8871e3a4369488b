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

size_t bs_planes_pack_tmp(int32_t cols) { return 16 * (size_t)bs_row_bytes(cols) + (size_t)cols; }

/* ---- eight columns at a time ------------------------------------------------ */

/* One plain sign byte (MSB = first column) to 8 bytes of 0/1, byte k =
   column k. */
static uint64_t spread(uint8_t b) {
    uint64_t x = (uint64_t)b * 0x0101010101010101ull & 0x0102040810204080ull;
    return (x + 0x7f7f7f7f7f7f7f7full) >> 7 & 0x0101010101010101ull;
}

/* The reverse: bit 0 of each of 8 bytes (byte k = column k) to one plain
   sign byte. The product puts byte k's bit at bit 63 - k and nothing else
   in the top byte (the partial products never overlap). */
static uint8_t gather(uint64_t x) { return (uint8_t)((x & 0x0101010101010101ull) * 0x8040201008040201ull >> 56); }

/* Codes (c bits, plane p[0] most significant) of the cols columns of one
   row from c plain sign rows. */
static void plain_to_codes(const uint8_t *const *p, int c, int32_t cols, uint8_t *codes) {
    int32_t rb = bs_row_bytes(cols);
    for (int32_t m = 0; m < rb; m++) {
        uint64_t v = 0;
        for (int i = 0; i < c; i++) v = v << 1 | spread(p[i][m]);
        for (int k = 0; k < 8 && 8 * m + k < cols; k++) codes[8 * m + k] = (uint8_t)(v >> (8 * k));
    }
}

/* The reverse: c plain sign rows (padding bits 0) from codes. */
static void codes_to_plain(const uint8_t *codes, int c, int32_t cols, uint8_t *const *p) {
    int32_t rb = bs_row_bytes(cols);
    for (int32_t m = 0; m < rb; m++) {
        uint64_t v = 0;
        for (int k = 0; k < 8 && 8 * m + k < cols; k++) v |= (uint64_t)codes[8 * m + k] << (8 * k);
        for (int i = 0; i < c; i++) p[i][m] = gather(v >> (c - 1 - i));
    }
}

/* ---- one chunk row ------------------------------------------------------------- */

/* Writes the chunk row (c * rb bytes) of one row's codes. */
static void write_chunk_row(uint8_t *row, int c, int32_t cols, const uint8_t *codes) {
    int32_t rb = bs_row_bytes(cols), nb = cols / BS_PK_BLOCK, nu = nb / 2, tb = rb - 4 * nb;
    int B = 8 * c;
    memset(row, 0, (size_t)c * rb);
    for (int32_t u = 0; u < nu; u++)
        for (int t = 0; t < BS_PK_UNIT; t++)
            row[B * u + t % B] |= (uint8_t)(codes[BS_PK_UNIT * u + t] << (c * (t / B)));
    /* the odd last block and the tail, plain */
    uint8_t *odd[4], *tail[4];
    for (int i = 0; i < c; i++) odd[i] = row + B * nu + 4 * i, tail[i] = row + 4 * c * nb + i * tb;
    if (nb % 2) codes_to_plain(codes + BS_PK_UNIT * nu, c, BS_PK_BLOCK, odd);
    if (tb) codes_to_plain(codes + BS_PK_BLOCK * nb, c, cols - BS_PK_BLOCK * nb, tail);
}

/* The reverse. */
static void read_chunk_row(const uint8_t *row, int c, int32_t cols, uint8_t *codes) {
    int32_t rb = bs_row_bytes(cols), nb = cols / BS_PK_BLOCK, nu = nb / 2, tb = rb - 4 * nb;
    int B = 8 * c, mask = (1 << c) - 1;
    for (int32_t u = 0; u < nu; u++)
        for (int t = 0; t < BS_PK_UNIT; t++) codes[BS_PK_UNIT * u + t] = (uint8_t)(row[B * u + t % B] >> (c * (t / B)) & mask);
    const uint8_t *odd[4], *tail[4];
    for (int i = 0; i < c; i++) odd[i] = row + B * nu + 4 * i, tail[i] = row + 4 * c * nb + i * tb;
    if (nb % 2) plain_to_codes(odd, c, BS_PK_BLOCK, codes + BS_PK_UNIT * nu);
    if (tb) plain_to_codes(tail, c, cols - BS_PK_BLOCK * nb, codes + BS_PK_BLOCK * nb);
}

/* ---- a chunk, four rows at a time ---------------------------------------------- */

/* Rows 4s..4s+3 of a chunk's c buffers hold exactly those rows' data in
   either layout, so each group of four is copied to tmp and rewritten. */
static void pack_chunk(const bs_linear *l, bs_pk_chunk ch, int pack, uint8_t *tmp) {
    int32_t rb = bs_row_bytes(l->cols), cols = l->cols;
    uint8_t *codes = tmp + 16 * (size_t)rb;
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
                plain_to_codes(p, ch.c, cols, codes);
                write_chunk_row(in_place, ch.c, cols, codes);
            } else {
                uint8_t *p[4];
                for (int i = 0; i < ch.c; i++) p[i] = buf[i] + (int64_t)(s + rr) * rb;
                read_chunk_row(in_tmp, ch.c, cols, codes);
                codes_to_plain(codes, ch.c, cols, p);
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
