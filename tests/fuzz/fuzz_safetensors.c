/* fuzz_safetensors.c - the safetensors container: header JSON, dtypes,
 * shapes, offsets and their tiling, and the f32 conversion of every tensor.
 * The input is the .safetensors file. */
#include "fuzz.h"

#include "safetensors.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bs_reader r;
    bs_reader_from_memory(&r, data, size, "fuzz.safetensors");
    bs_st_file f = {0};
    if (bs_st_parse(&f, &r) == BS_OK) {
        for (int32_t i = 0; i < f.n_tensors; i++) {
            const bs_st_tensor *t = &f.tensors[i];
            if (bs_st_find(&f, t->name) != t) abort(); /* names are unique and sorted */
            char shape[128];
            bs_st_format_shape(t->shape, t->n_dims, shape, sizeof shape);
            if (t->n_elem > (1u << 20)) continue;
            float *dst = malloc(t->n_elem ? t->n_elem * sizeof *dst : 1);
            if (dst) bs_st_read_f32(&f, t, dst, t->n_elem);
            free(dst);
        }
    }
    bs_st_free(&f);
    return 0;
}
