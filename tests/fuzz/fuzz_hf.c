/* fuzz_hf.c - the Hugging Face directory importer: config.json, the
 * safetensors weights, tokenizer.json, tokenizer_config.json (chat
 * template, special tokens) and generation_config.json.
 *
 * The input is those five files in that order, separated by FUZZ_SEP; an
 * empty part means the file is absent. They are written into a fresh
 * temporary directory, which is imported as a model and then removed. */
#include "fuzz.h"
#include "fuzz_model.h"

#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const files[] = {"config.json", "model.safetensors", "tokenizer.json",
                                    "tokenizer_config.json", "generation_config.json"};
#define N_FILES 5

static void path_of(const char *dir, int i, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", dir, files[i]);
}

/* Removes the files and the directory (libFuzzer ends with _Exit, so
   nothing may be left for an exit handler). */
static void remove_dir(const char *dir) {
    char p[128];
    for (int i = 0; i < N_FILES; i++) {
        path_of(dir, i, p, sizeof p);
        unlink(p);
    }
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char dir[64];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%.40s/bsfuzzXXXXXX", tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    if (!mkdtemp(dir)) return 0;
    const uint8_t *part[N_FILES];
    size_t len[N_FILES];
    int n = fuzz_split(data, size, part, len, N_FILES);
    int ok = 1;
    for (int i = 0; i < n && ok; i++) {
        if (len[i] == 0) continue; /* absent */
        char p[128];
        path_of(dir, i, p, sizeof p);
        FILE *f = fopen(p, "wb");
        ok = f && fwrite(part[i], 1, len[i], f) == len[i];
        if (f) fclose(f);
    }
    bs_model *m = ok ? calloc(1, sizeof *m) : NULL;
    if (m && bs_import_hf(dir, m) == BS_OK) fuzz_exercise_model(m);
    bs_model_free(m);
    remove_dir(dir);
    return 0;
}
