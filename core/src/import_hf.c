/* import_hf.c - STUB, being written. */
#include "model.h"
bs_status bs_import_hf(const char *dir, bs_model *m) { (void)dir; (void)m; return bs_fail(BS_ERR_UNSUPPORTED, "hf: not yet"); }
