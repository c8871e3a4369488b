/* fuzz.h - shared pieces of the fuzz targets (tests/fuzz/fuzz_*.c).
 *
 * Every target defines LLVMFuzzerTestOneInput. It is linked either with
 * libFuzzer (clang, -fsanitize=fuzzer: CI fuzzes each target for a fixed
 * time) or with replay.c, a main() that feeds it every file of the given
 * corpus directories, so `ctest -L fuzz` replays the committed corpora and
 * regression inputs in ordinary (gcc, ASan) builds.
 *
 * A target must never crash, leak, hang or trip a sanitizer, whatever the
 * bytes; a parser that rejects an input with a status is a pass. */
#ifndef BS_FUZZ_H
#define BS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs made of several files (a chat template and its messages, a
   Hugging Face directory) separate them with this marker. */
#define FUZZ_SEP "\n@@BSFUZZ@@\n"

/* Splits data at FUZZ_SEP into at most max parts (the last part takes the
   rest, markers included). Returns the number of parts (>= 1). */
static inline int fuzz_split(const uint8_t *data, size_t size, const uint8_t **part,
                             size_t *len, int max) {
    const size_t sep_len = sizeof FUZZ_SEP - 1;
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; n < max - 1 && i + sep_len <= size; i++) {
        size_t k = 0;
        while (k < sep_len && data[i + k] == (uint8_t)FUZZ_SEP[k]) k++;
        if (k < sep_len) continue;
        part[n] = data + start;
        len[n++] = i - start;
        start = i + sep_len;
        i = start - 1;
    }
    part[n] = data + start;
    len[n++] = size - start;
    return n;
}

#endif
