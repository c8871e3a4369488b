/* fuzz_llama2c.c - the llama2.c checkpoint importer (legacy and version 1
 * headers): the input is the .bin file. */
#include "fuzz.h"
#include "fuzz_model.h"

#include "model.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bs_reader r;
    bs_reader_from_memory(&r, data, size, "fuzz.bin");
    bs_model *m = calloc(1, sizeof *m);
    if (m && bs_import_llama2c(&r, m) == BS_OK) fuzz_exercise_model(m);
    bs_model_free(m);
    return 0;
}
