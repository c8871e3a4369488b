/* reader.c - bounded random access over files and memory buffers. */
#include "reader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bs_status bs_reader_open_file(bs_reader *r, const char *path) {
    memset(r, 0, sizeof *r);
    r->name = path;
    FILE *f = fopen(path, "rb");
    if (!f) return bs_fail(BS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (fseeko(f, 0, SEEK_END) != 0) {
        fclose(f);
        return bs_fail(BS_ERR_IO, "cannot seek in %s: %s", path, strerror(errno));
    }
    off_t end = ftello(f);
    if (end < 0) {
        fclose(f);
        return bs_fail(BS_ERR_IO, "cannot size %s (is it a directory?)", path);
    }
    r->size = (uint64_t)end;
    r->file = f;
    return BS_OK;
}

void bs_reader_from_memory(bs_reader *r, const void *data, size_t size,
                           const char *name) {
    memset(r, 0, sizeof *r);
    r->data = data;
    r->size = size;
    r->name = name ? name : "<memory>";
}

void bs_reader_close(bs_reader *r) {
    if (r && r->file) fclose(r->file);
    if (r) r->file = NULL;
}

bs_status bs_reader_read(bs_reader *r, uint64_t off, void *dst, size_t n) {
    if (off > r->size || n > r->size - off)
        return bs_fail(BS_ERR_TRUNCATED,
                       "%s: truncated (need %zu bytes at offset %llu, size %llu)",
                       r->name, n, (unsigned long long)off,
                       (unsigned long long)r->size);
    if (n == 0) return BS_OK;
    if (r->data) {
        memcpy(dst, r->data + off, n);
        return BS_OK;
    }
    if (fseeko(r->file, (off_t)off, SEEK_SET) != 0 || fread(dst, 1, n, r->file) != n)
        return bs_fail(BS_ERR_IO, "%s: read of %zu bytes at %llu failed", r->name,
                       n, (unsigned long long)off);
    return BS_OK;
}

bs_status bs_cursor_read(bs_cursor *c, void *dst, size_t n) {
    BS_TRY(bs_reader_read(c->r, c->pos, dst, n));
    c->pos += n;
    return BS_OK;
}

bs_status bs_cursor_u8(bs_cursor *c, uint8_t *v) { return bs_cursor_read(c, v, 1); }

bs_status bs_cursor_u32(bs_cursor *c, uint32_t *v) {
    uint8_t b[4];
    BS_TRY(bs_cursor_read(c, b, 4));
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return BS_OK;
}

bs_status bs_cursor_i32(bs_cursor *c, int32_t *v) {
    uint32_t u;
    BS_TRY(bs_cursor_u32(c, &u));
    memcpy(v, &u, 4);
    return BS_OK;
}

bs_status bs_cursor_u64(bs_cursor *c, uint64_t *v) {
    uint32_t lo, hi;
    BS_TRY(bs_cursor_u32(c, &lo));
    BS_TRY(bs_cursor_u32(c, &hi));
    *v = (uint64_t)hi << 32 | lo;
    return BS_OK;
}

bs_status bs_cursor_f32(bs_cursor *c, float *v) {
    uint32_t u;
    BS_TRY(bs_cursor_u32(c, &u));
    memcpy(v, &u, 4);
    return BS_OK;
}

bs_status bs_cursor_skip(bs_cursor *c, uint64_t n) {
    if (c->pos > c->r->size || n > c->r->size - c->pos)
        return bs_fail(BS_ERR_TRUNCATED, "%s: truncated (skip %llu at %llu)",
                       c->r->name, (unsigned long long)n, (unsigned long long)c->pos);
    c->pos += n;
    return BS_OK;
}

bs_status bs_read_file(const char *path, char **out, size_t *len) {
    bs_reader r;
    BS_TRY(bs_reader_open_file(&r, path));
    if (r.size > (uint64_t)SIZE_MAX - 1) {
        bs_reader_close(&r);
        return bs_fail(BS_ERR_NOMEM, "%s: too large to read", path);
    }
    char *buf = bs_malloc((size_t)r.size + 1, 1);
    if (!buf) {
        bs_reader_close(&r);
        return BS_ERR_NOMEM;
    }
    bs_status st = bs_reader_read(&r, 0, buf, (size_t)r.size);
    bs_reader_close(&r);
    if (st != BS_OK) {
        free(buf);
        return st;
    }
    buf[r.size] = '\0';
    *out = buf;
    if (len) *len = (size_t)r.size;
    return BS_OK;
}
