/* fuzz_bstk.c - the .bstk reader: header, metadata, tensor table, index,
 * files cut anywhere (prefix files), and blocks attached from outside.
 *
 * Input: one control byte, a little-endian u32 cut, then the file.
 *   control bit 0: recompute every checksum of the file first, so that
 *                  mutations reach the parsers behind the CRCs (clear: the
 *                  checksum checks themselves are fuzzed)
 *   control bit 1: load the resident section only, then attach each
 *                  following block from the file bytes with
 *                  bs_model_attach_block, as the JavaScript loader does
 *   control bits 2-3: shrink the stack to 0 blocks and grow it back
 *   cut:           the reader sees only the first `cut` bytes of the file
 *                  (a partial download); >= the size: the whole file */
#include "fuzz.h"
#include "fuzz_model.h"

#include "bstk.h"
#include "crc32c.h"

#include <stdlib.h>
#include <string.h>

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* CRC-32C of [off, off + n) written at where, when the range is inside. */
static void fix_crc(uint8_t *f, uint64_t size, uint64_t off, uint64_t n, uint8_t *where) {
    if (off <= size && n <= size - off) wr32(where, bs_crc32c(0, f + off, (size_t)n));
}

/* Rewrites the checksums of a .bstk image (FORMAT.md): every payload's in
   the index, then the index, metadata and tensor table in the header, then
   the header's own. Offsets are taken as they are; out-of-range ones are
   left for the reader to reject. */
static void fix_checksums(uint8_t *f, uint64_t size) {
    if (size < BSTK_HEADER_SIZE || memcmp(f, BSTK_MAGIC, 8) != 0) return;
    uint64_t meta_off = rd64(f + 16), meta_size = rd64(f + 24), tens_off = rd64(f + 32);
    uint64_t n_tens = rd32(f + 40), n_entries = rd32(f + 44), index_off = rd64(f + 48);
    for (uint64_t i = 0; i < n_entries; i++) {
        uint64_t e = index_off + i * BSTK_ENTRY_SIZE;
        if (e > size || size - e < BSTK_ENTRY_SIZE) break;
        fix_crc(f, size, rd64(f + e + 8), rd64(f + e + 16), f + e + 24);
    }
    fix_crc(f, size, index_off, n_entries * BSTK_ENTRY_SIZE, f + 72);
    fix_crc(f, size, meta_off, meta_size, f + 64);
    fix_crc(f, size, tens_off, n_tens * BSTK_TENSOR_SIZE, f + 68);
    wr32(f + 92, bs_crc32c(0, f, 92));
}

/* Pushes the blocks after the loaded ones from the file bytes, as a
   loader that fetched them would; stops at the first refusal. */
static void attach_from_file(bs_model *m, const uint8_t *f, uint64_t size) {
    bs_stack_info si;
    if (bs_model_stack_info(m, &si) != BS_OK) return;
    const bs_stack *s = m->stack;
    for (int32_t b = si.n_loaded; b < si.n_blocks; b++) {
        const bstk_entry *e = &s->entries[s->h.n_resident + (uint32_t)b];
        if (e->offset > size || e->size > size - e->offset) break;
        if (bs_model_attach_block(m, b, f + e->offset, (size_t)e->size) != BS_OK) break;
    }
    /* out of order and out of range pushes must be refused */
    bs_model_attach_block(m, si.n_blocks + 1, f, 0);
    bs_model_attach_block(m, -1, f, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 5) return 0;
    uint8_t control = data[0];
    uint64_t cut = rd32(data + 1);
    size -= 5;
    uint8_t *file = malloc(size ? size : 1);
    if (!file) return 0;
    memcpy(file, data + 5, size);
    if (control & 1) fix_checksums(file, size);
    if (cut > size) cut = size;

    bs_reader r;
    bs_reader_from_memory(&r, file, (size_t)cut, "fuzz.bstk");
    bs_model *m = calloc(1, sizeof *m);
    int resident_only = (control & 2) != 0;
    if (m && bs_import_bstk(&r, m, resident_only ? -1 : 0) == BS_OK) {
        if (resident_only) attach_from_file(m, file, size);
        if (control & 12) {
            bs_stack_info si;
            bs_model_stack_info(m, &si);
            bs_model_set_blocks(m, 0);
            bs_model_set_blocks(m, si.n_loaded); /* from memory: refused past the loaded blocks */
            if (resident_only) attach_from_file(m, file, size);
        }
        fuzz_exercise_model(m);
    }
    bs_model_free(m);
    free(file);
    return 0;
}
