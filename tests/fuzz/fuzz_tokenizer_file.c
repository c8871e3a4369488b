/* fuzz_tokenizer_file.c - the tokenizer file loaders: a llama2.c
 * tokenizer.bin or a Hugging Face tokenizer.json, chosen by the first byte;
 * a tokenizer that loads then encodes and decodes a fixed text.
 *
 * Input: one selector byte, then the file.
 *   selector & 1 == 0: tokenizer.bin, with a vocabulary size of
 *                      (selector >> 1) * 8 (0: as many as the file holds)
 *   selector & 1 == 1: tokenizer.json */
#include "fuzz.h"

#include "tokenizer.h"

#include <string.h>

static void use(const bs_tokenizer *t) {
    static const char text[] = "Hello <s> world\xe2\x96\x81 \xf0\x9f\x98\x80 123\n\xff";
    int32_t ids[256], n = 0;
    if (bs_tokenizer_encode(t, text, sizeof text - 1, 3, ids, 256, &n) != BS_OK) return;
    char buf[256];
    size_t len;
    for (int32_t i = 0; i < n; i++) bs_tokenizer_decode(t, i ? ids[i - 1] : -1, ids[i], buf, sizeof buf, &len);
    int32_t nv = bs_tokenizer_n_vocab(t);
    for (int32_t id = 0; id < nv && id < 1024; id++) bs_tokenizer_decode(t, 0, id, buf, sizeof buf, &len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t sel = data[0];
    bs_tokenizer *t = NULL;
    bs_status st;
    if (sel & 1) {
        st = bs_tokenizer_load_hf_json((const char *)data + 1, size - 1, &t);
    } else {
        bs_reader r;
        bs_reader_from_memory(&r, data + 1, size - 1, "fuzz-tokenizer.bin");
        st = bs_tokenizer_load_llama2c(&r, (sel >> 1) * 8, &t);
    }
    if (st == BS_OK) use(t);
    bs_tokenizer_free(t);
    return 0;
}
