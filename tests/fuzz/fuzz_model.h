/* fuzz_model.h - what the model fuzz targets do with a model that loaded:
 * use it the way the CLI does, so a file that parses but is inconsistent
 * (a table shorter than its shape, a bad token id) shows up here. */
#ifndef BS_FUZZ_MODEL_H
#define BS_FUZZ_MODEL_H

#include "bitstack.h"

/* Info, stack info, tokenize + detokenize a fixed text, render a chat if
   the model has a template, and, when the model is small enough to be
   quick, run two tokens through a session with a 4-token context.
   FUZZ_DEBUG=1 in the environment prints "loaded" for each model that
   loaded (to check that seeds reach past the parsers). */
void fuzz_exercise_model(bs_model *m);

#endif
