/* native_only.c - the importers the wasm build leaves out.
 *
 * Hugging Face directories need cJSON (import_hf.c, safetensors.c,
 * tokenizer_load_hf.c), which the wasm runtime does not carry: it loads
 * .bstk files (and, through WASI in tests, GGUF and llama2.c files). The
 * model loader still names bs_import_hf, so this file answers for it. */
#include "model.h"

bs_status bs_import_hf(const char *dir, bs_model *m) {
    (void)m;
    return bs_fail(BS_ERR_UNSUPPORTED, "%s: Hugging Face directories need the native build", dir);
}
