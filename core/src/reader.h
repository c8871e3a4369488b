/* reader.h - random-access byte source: a file, or a buffer in memory.
 *
 * Every parser reads through bs_reader so the same code serves files
 * (native, WASI), buffers handed over from JavaScript and fuzz inputs.
 * Reads past the end fail with BS_ERR_TRUNCATED, never read garbage. */
#ifndef BS_READER_H
#define BS_READER_H

#include "internal.h"

#include <stdio.h>

typedef struct bs_reader {
    uint64_t size;              /* total bytes available                  */
    const uint8_t *data;        /* whole content when in memory, else NULL */
    FILE *file;                 /* when reading a file                    */
    const char *name;           /* for error messages                     */
} bs_reader;

bs_status bs_reader_open_file(bs_reader *r, const char *path);
void bs_reader_from_memory(bs_reader *r, const void *data, size_t size,
                           const char *name);
void bs_reader_close(bs_reader *r);

/* Reads exactly n bytes at offset off into dst. */
bs_status bs_reader_read(bs_reader *r, uint64_t off, void *dst, size_t n);

/* Sequential cursor over a reader, for headers and metadata. */
typedef struct bs_cursor {
    bs_reader *r;
    uint64_t pos;
} bs_cursor;

bs_status bs_cursor_read(bs_cursor *c, void *dst, size_t n);
bs_status bs_cursor_u8(bs_cursor *c, uint8_t *v);
bs_status bs_cursor_u32(bs_cursor *c, uint32_t *v);   /* little-endian */
bs_status bs_cursor_i32(bs_cursor *c, int32_t *v);
bs_status bs_cursor_u64(bs_cursor *c, uint64_t *v);
bs_status bs_cursor_f32(bs_cursor *c, float *v);
bs_status bs_cursor_skip(bs_cursor *c, uint64_t n);

/* Reads a whole file into a NUL-terminated heap buffer (*len excludes the
   NUL). For text inputs and JSON. */
bs_status bs_read_file(const char *path, char **out, size_t *len);

#endif
