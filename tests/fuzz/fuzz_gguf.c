/* fuzz_gguf.c - the GGUF container (header, typed metadata, arrays, tensor
 * infos) and the GGUF model importer: the input is the .gguf file. */
#include "fuzz.h"
#include "fuzz_model.h"

#include "gguf.h"
#include "model.h"

#include <stdlib.h>

/* Reads back every metadata array the container accepted, and walks the
   string arrays, as the tokenizer importer does. */
static void read_arrays(const bs_gguf *g) {
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const bs_gguf_kv *kv = &g->kv[i];
        if (kv->type != BS_GGUF_ARRAY || kv->bytes > (16u << 20)) continue;
        uint8_t *buf = NULL;
        if (bs_gguf_read_array(g, kv, &buf) != BS_OK) continue;
        if (kv->elem_type == BS_GGUF_STRING) {
            const uint8_t *p = buf, *end = buf + kv->bytes;
            const char *s;
            size_t len;
            for (uint64_t k = 0; k < kv->count && bs_gguf_next_string(&p, end, &s, &len) == BS_OK; k++) {}
        }
        free(buf);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bs_reader r;
    bs_reader_from_memory(&r, data, size, "fuzz.gguf");
    bs_gguf g = {0};
    if (bs_gguf_open(&r, &g) == BS_OK) {
        read_arrays(&g);
        int64_t v;
        double f;
        const char *s;
        uint64_t len;
        bs_gguf_get_i64(&g, "llama.block_count", &v, NULL);
        bs_gguf_get_f64(&g, "llama.rope.freq_base", &f, NULL);
        bs_gguf_get_str(&g, "general.architecture", &s, &len, NULL);
    }
    bs_gguf_close(&g);

    bs_model *m = calloc(1, sizeof *m);
    if (m && bs_import_gguf(&r, m) == BS_OK) fuzz_exercise_model(m);
    bs_model_free(m);
    return 0;
}
