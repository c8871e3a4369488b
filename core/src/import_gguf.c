/* import_gguf.c - STUB, being written. */
#include "model.h"
bs_status bs_import_gguf(bs_reader *r, bs_model *m) { (void)r; (void)m; return bs_fail(BS_ERR_UNSUPPORTED, "gguf: not yet"); }
