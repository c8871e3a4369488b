/* bstk.h - the .bstk layout (FORMAT.md) shared by the reader (runtime)
 * and the writer (compressor). */
#ifndef BS_BSTK_H
#define BS_BSTK_H

#include "meta.h"
#include "model.h"
#include "rotate.h"
#include "reader.h"

#define BSTK_MAGIC "BSTK\r\n\x1a\n"
#define BSTK_VERSION_MAJOR 1
#define BSTK_VERSION_MINOR 3
#define BSTK_HEADER_SIZE 96
#define BSTK_TENSOR_SIZE 32
#define BSTK_ENTRY_SIZE 32
#define BSTK_ALIGN 64

typedef enum bstk_role {
    BSTK_ROLE_TOKEN_EMBD = 0,
    BSTK_ROLE_OUTPUT = 1,
    BSTK_ROLE_OUTPUT_NORM = 2,
    BSTK_ROLE_ATTN_NORM = 3,
    BSTK_ROLE_FFN_NORM = 4,
    BSTK_ROLE_Q = 5, /* q k v o gate up down: 5 + bs_layer_linear index */
    BSTK_ROLE_DOWN = 11
} bstk_role;

typedef struct bstk_header {
    uint16_t version_major, version_minor;
    uint32_t header_size;
    uint64_t meta_offset, meta_size;
    uint64_t tensors_offset;
    uint32_t n_tensors, n_entries;
    uint64_t index_offset, data_offset;
    uint32_t meta_crc, tensors_crc, index_crc, n_resident;
    uint64_t file_size;
} bstk_header;

typedef struct bstk_tensor {
    uint16_t role, layer;
    uint8_t kind;          /* bs_lin_kind                                 */
    uint32_t rows, cols;
    uint32_t rank;         /* AVD: rank; PLANES: scale code (bstk_scale_code) */
    uint32_t group, n_levels;
    uint32_t outliers;     /* PLANES: input channels kept apart           */
    uint8_t rotation;      /* PLANES: 0, or log2 of the Hadamard block     */
} bstk_tensor;

/* PLANES scales (FORMAT.md 3, 5): 0 = a binary16 per group; 8 = a binary16
   reference per row and an 8-bit code per group (scales.h). */
#define BSTK_SCALES_F16 0u
#define BSTK_SCALES_CODE8 8u
static inline uint32_t bstk_scale_code(const bstk_tensor *t) { return t->kind == BS_LIN_PLANES ? t->rank : 0; }
/* Bytes of a PLANES level-0 payload's scales, as stored. */
static inline uint64_t bstk_scales_size(const bstk_tensor *t, uint64_t groups) {
    return bstk_scale_code(t) == BSTK_SCALES_CODE8 ? 2 * (uint64_t)t->rows + t->rows * groups : 2 * t->rows * groups;
}

typedef struct bstk_entry {
    uint32_t tensor, level;
    uint64_t offset, size;
    uint32_t crc;
} bstk_entry;

/* Bytes of a PLANES level-0 payload before its scales: the channels kept
   apart, then the rotation's sign flips, padded to 4 bytes so the binary16
   scales stay aligned (FORMAT.md 5). */
static inline uint64_t bstk_planes_prefix_size(const bstk_tensor *t) {
    return (4 + 2 * (uint64_t)t->rows) * t->outliers + (t->rotation ? bs_rotate_signs_size((int32_t)t->cols) : 0);
}

/* Exact payload size of (tensor, level) per FORMAT.md 5; 0 if impossible. */
uint64_t bstk_payload_size(const bstk_tensor *t, uint32_t level);
static inline uint64_t bstk_align(uint64_t x) { return (x + BSTK_ALIGN - 1) & ~(uint64_t)(BSTK_ALIGN - 1); }

/* Serialisation of the fixed-size records (little-endian). */
void bstk_header_encode(const bstk_header *h, uint8_t out[BSTK_HEADER_SIZE]);
void bstk_tensor_encode(const bstk_tensor *t, uint8_t out[BSTK_TENSOR_SIZE]);
void bstk_entry_encode(const bstk_entry *e, uint8_t out[BSTK_ENTRY_SIZE]);

/* The stack of a model loaded from a .bstk: what the file holds and which
   payloads are in memory. */
typedef struct bs_stack {
    bs_reader reader;      /* open file to grow from; size 0 when none    */
    int own_reader;
    bstk_header h;
    bstk_tensor *tensors;  /* (n_tensors)                                 */
    bstk_entry *entries;   /* (n_entries)                                 */
    void **payload;        /* (n_entries) in memory, or NULL              */
    uint32_t n_avail;      /* entries the source holds (a prefix file)    */
    uint32_t n_loaded;     /* entries attached: n_resident + blocks       */
    int64_t resident_bytes;/* payload bytes of the resident section       */
    int64_t loaded_bytes;  /* payload bytes attached                      */
    int64_t stacked_params;/* weights of the stacked (compressed) tensors */
    int64_t stacked_resident_bytes; /* resident bytes of stacked tensors  */
    uint8_t *head;         /* metadata bytes (kept: strings point here)   */
    uint8_t *pack_tmp;     /* scratch of bs_planes_attach / _detach       */
    size_t pack_tmp_size;  /* its bytes: for the widest PLANES tensor     */
    int defer_pack;        /* bulk load: planes attach plain, packed after */
    bs_meta meta;
} bs_stack;

/* Reads the head and resident section of a .bstk and as many stack blocks
   as budget allows (0: all the source holds; < 0: none). */
bs_status bs_import_bstk(bs_reader *r, bs_model *m, int64_t budget);
void bs_stack_free(bs_stack *s);

#endif
