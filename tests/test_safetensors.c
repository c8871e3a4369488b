/* test_safetensors.c - the safetensors container reader (safetensors.c):
 * every structural rule of the format (tiling, ranges, overflow, dtypes,
 * names, JSON) on in-memory files, and exact F32/F16/BF16 conversion.
 * The importer on top of it is tested in test_hf.c. */
#include "bitstack.h"
#include "half.h"
#include "safetensors.h"
#include "test.h"

#include <stdint.h>

static int msg_has(const char *needle) { return strstr(bs_last_error(), needle) != NULL; }

/* Parses a file of: length, header, data_len zero bytes. *keep gets the
   buffer and r the reader, both of which f refers to until freed. */
static bs_status st_parse_mem(const char *header, size_t data_len, bs_reader *r,
                              bs_st_file *f, uint8_t **keep) {
    size_t hl = strlen(header);
    uint8_t *buf = calloc(1, 8 + hl + data_len + 1);
    for (int b = 0; b < 8; b++) buf[b] = (uint8_t)((uint64_t)hl >> (8 * b));
    memcpy(buf + 8, header, hl);
    bs_reader_from_memory(r, buf, 8 + hl + data_len, "mem.safetensors");
    *keep = buf;
    return bs_st_parse(f, r);
}

static void expect_st(const char *header, size_t data_len, bs_status want, const char *needle) {
    bs_reader r;
    bs_st_file f;
    uint8_t *buf = NULL;
    bs_status st = st_parse_mem(header, data_len, &r, &f, &buf);
    CHECK_MSG(st == want, "%s: got %s want %s (%s)", header, bs_status_name(st),
              bs_status_name(want), bs_last_error());
    if (needle) CHECK_MSG(msg_has(needle), "\"%s\" lacks \"%s\"", bs_last_error(), needle);
    bs_st_free(&f);
    free(buf);
}

static void test_st_container(void) {
    /* good: two tensors tiling 12 bytes, metadata, padding */
    expect_st("{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"F16\",\"shape\":[2],"
              "\"data_offsets\":[8,12]},\"a\":{\"dtype\":\"F32\",\"shape\":[1,2],"
              "\"data_offsets\":[0,8]}}   ", 12, BS_OK, NULL);
    /* scalars and empty tensors */
    expect_st("{\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
              "\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[4,4]}}", 4, BS_OK, NULL);
    expect_st("{}", 0, BS_OK, NULL);
    /* overlap */
    expect_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
              BS_ERR_FORMAT, "overlaps");
    /* out of range */
    expect_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
              BS_ERR_FORMAT, "outside the data section");
    expect_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8,
              BS_ERR_FORMAT, "outside");
    expect_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[18446744073709551608,"
              "18446744073709551616]}}", 8, BS_ERR_FORMAT, "data_offsets");
    expect_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8,
              BS_ERR_FORMAT, "data_offsets");
    expect_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0.5,8]}}", 8,
              BS_ERR_FORMAT, "data_offsets");
    expect_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,9]}}", 8,
              BS_ERR_FORMAT, "data_offsets");
    /* size does not match the shape */
    expect_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
              BS_ERR_FORMAT, "needs 12");
    /* hole and trailing bytes */
    expect_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
              BS_ERR_FORMAT, "unindexed");
    expect_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
              BS_ERR_FORMAT, "after the last tensor");
    /* element count overflow */
    expect_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
              "\"data_offsets\":[0,8]}}", 8, BS_ERR_FORMAT, "overflows");
    expect_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
              "\"data_offsets\":[0,4]}}", 4, BS_ERR_UNSUPPORTED, "dimensions");
    expect_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
              BS_ERR_FORMAT, "shape[0]");
    /* dtypes */
    expect_st("{\"a\":{\"dtype\":\"Q4_0\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
              BS_ERR_UNSUPPORTED, "Q4_0");
    expect_st("{\"a\":{\"dtype\":3,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
              BS_ERR_FORMAT, "dtype");
    /* names, structure, JSON */
    expect_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
              "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
              BS_ERR_FORMAT, "twice");
    expect_st("{\"a\":[1,2]}", 0, BS_ERR_FORMAT, "not an object");
    expect_st("{\"__metadata__\":{\"x\":1}}", 0, BS_ERR_FORMAT, "__metadata__");
    expect_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]", 4,
              BS_ERR_FORMAT, "JSON");
    expect_st("{} x", 0, BS_ERR_FORMAT, "JSON");
    expect_st("[]      ", 0, BS_ERR_FORMAT, "JSON");
    expect_st("{", 0, BS_ERR_FORMAT, "header length");
    /* shorter than the length prefix */
    bs_reader r;
    bs_st_file f;
    bs_reader_from_memory(&r, "\x02\0\0", 3, "short");
    CHECK_STATUS(bs_st_parse(&f, &r), BS_ERR_TRUNCATED);
    bs_reader_from_memory(&r, "\x10\0\0\0\0\0\0\0{}", 10, "long");
    CHECK_STATUS(bs_st_parse(&f, &r), BS_ERR_TRUNCATED);
    CHECK(msg_has("beyond the end"));
}

static void test_st_convert(void) {
    /* F32 1.5, -2; F16 0.5, -65504, 2^-24 (subnormal); BF16 3.0, -0.0078125 */
    uint8_t data[8 + 6 + 4] = {0};
    uint32_t f32[2] = {bs_bits_from_f32(1.5f), bs_bits_from_f32(-2.0f)};
    uint16_t f16[3] = {0x3800, 0xfbff, 0x0001};
    uint16_t bf16[2] = {0x4040, 0xbc00};
    for (int i = 0; i < 2; i++)
        for (int b = 0; b < 4; b++) data[4 * i + b] = (uint8_t)(f32[i] >> (8 * b));
    for (int i = 0; i < 3; i++) data[8 + 2 * i] = (uint8_t)f16[i], data[9 + 2 * i] = (uint8_t)(f16[i] >> 8);
    for (int i = 0; i < 2; i++) data[14 + 2 * i] = (uint8_t)bf16[i], data[15 + 2 * i] = (uint8_t)(bf16[i] >> 8);
    const char *hdr = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[8,14]},"
                      "\"b\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[14,18]}}";
    size_t hl = strlen(hdr);
    uint8_t *buf = calloc(1, 8 + hl + sizeof data);
    buf[0] = (uint8_t)hl;
    memcpy(buf + 8, hdr, hl);
    memcpy(buf + 8 + hl, data, sizeof data);
    bs_reader r;
    bs_reader_from_memory(&r, buf, 8 + hl + sizeof data, "conv");
    bs_st_file f;
    CHECK_OK(bs_st_parse(&f, &r));
    float out[3];
    const bs_st_tensor *t = bs_st_find(&f, "x");
    CHECK(t && t->dtype == BS_ST_F32 && t->n_dims == 1 && t->shape[0] == 2);
    if (t) {
        CHECK_OK(bs_st_read_f32(&f, t, out, 2));
        CHECK(out[0] == 1.5f && out[1] == -2.0f);
        CHECK_STATUS(bs_st_read_f32(&f, t, out, 3), BS_ERR_INVALID_ARG);
    }
    t = bs_st_find(&f, "h");
    if (t) {
        CHECK_OK(bs_st_read_f32(&f, t, out, 3));
        CHECK(out[0] == 0.5f && out[1] == -65504.0f && out[2] == ldexpf(1.0f, -24));
    }
    t = bs_st_find(&f, "b");
    CHECK(t && t->n_dims == 2 && t->shape[0] == 1 && t->shape[1] == 2 && t->n_elem == 2);
    if (t) {
        CHECK_OK(bs_st_read_f32(&f, t, out, 2));
        CHECK(out[0] == 3.0f && out[1] == -0.0078125f);
    }
    CHECK(bs_st_find(&f, "nope") == NULL);
    bs_st_free(&f);
    bs_st_free(&f);  /* idempotent */
    free(buf);

    /* known non-float dtypes parse, but do not convert */
    const char *ih = "{\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}";
    bs_st_file g;
    uint8_t *keep = NULL;
    CHECK_OK(st_parse_mem(ih, 8, &r, &g, &keep));
    if (g.n_tensors == 1) {
        CHECK_STATUS(bs_st_read_f32(&g, &g.tensors[0], out, 1), BS_ERR_UNSUPPORTED);
        CHECK(msg_has("I64") && msg_has("\"i\""));
    }
    bs_st_free(&g);
    free(keep);
}

/* Deterministic mutation fuzzing: random byte changes to a valid file must
   give BS_OK or an error with a message; never a crash or a read outside
   the buffer (run under ASan). Tensors that still parse must also read. */
static void test_st_mutations(void) {
    const char *hdr = "{\"__metadata__\":{\"format\":\"pt\"},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                      "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[24,32]},"
                      "\"c\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[32,34]}}";
    size_t hl = strlen(hdr), size = 8 + hl + 34;
    uint8_t *good = calloc(1, size), *buf = malloc(size);
    good[0] = (uint8_t)hl;
    memcpy(good + 8, hdr, hl);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    int n_ok = 0;
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(buf, good, size);
        int flips = 1 + iter % 3;
        for (int k = 0; k < flips; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(rng >> 33) % (8 + hl);  /* the length and the header */
            static const char alphabet[] = "{}[],:\"0123456789-.eE FBIU_x\\";
            buf[at] = (rng >> 20) & 1 ? (uint8_t)alphabet[(rng >> 40) % (sizeof alphabet - 1)]
                                      : (uint8_t)(rng >> 48);
        }
        bs_reader r;
        bs_st_file f;
        bs_clear_error();
        bs_reader_from_memory(&r, buf, size, "fuzz");
        bs_status st = bs_st_parse(&f, &r);
        if (st != BS_OK) {
            CHECK_MSG(bs_last_error()[0] != '\0', "iteration %d: %s without a message", iter,
                      bs_status_name(st));
            continue;
        }
        n_ok++;
        for (int32_t i = 0; i < f.n_tensors; i++) {
            const bs_st_tensor *t = &f.tensors[i];
            CHECK(t->offset + t->n_bytes <= size);
            float out[64];
            if (t->n_elem <= 64) {
                bs_status rs = bs_st_read_f32(&f, t, out, t->n_elem);
                CHECK(rs == BS_OK || rs == BS_ERR_UNSUPPORTED);
            }
        }
        bs_st_free(&f);
    }
    CHECK(n_ok > 0);  /* some mutations (e.g. inside names) stay valid */
    fprintf(stderr, "  %d of 20000 mutated files parsed\n", n_ok);
    free(good);
    free(buf);
}

int main(void) {
    RUN(test_st_container);
    RUN(test_st_convert);
    RUN(test_st_mutations);
    return test_summary();
}
