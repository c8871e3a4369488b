/* fuzz_hf.c - the Hugging Face directory importer: config.json, the
 * safetensors weights, tokenizer.json, tokenizer_config.json (chat
 * template, special tokens) and generation_config.json.
 *
 * The input is those five files in that order, separated by FUZZ_SEP; an
 * empty part means the file is absent. They are written into a private
 * temporary directory (made once per process, removed at exit) which is
 * then imported as a model. */
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

static char dir[64];

static void path_of(int i, char *buf, size_t cap) { snprintf(buf, cap, "%s/%s", dir, files[i]); }

static void remove_dir(void) {
    char p[128];
    for (int i = 0; i < N_FILES; i++) {
        path_of(i, p, sizeof p);
        unlink(p);
    }
    rmdir(dir);
}

static int make_dir(void) {
    if (dir[0]) return 1;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%.40s/bsfuzzXXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        dir[0] = 0;
        return 0;
    }
    atexit(remove_dir);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!make_dir()) return 0;
    const uint8_t *part[N_FILES];
    size_t len[N_FILES];
    int n = fuzz_split(data, size, part, len, N_FILES);
    for (int i = 0; i < N_FILES; i++) {
        char p[128];
        path_of(i, p, sizeof p);
        unlink(p);
        if (i >= n || len[i] == 0) continue;
        FILE *f = fopen(p, "wb");
        if (!f) return 0;
        fwrite(part[i], 1, len[i], f);
        fclose(f);
    }
    bs_model *m = calloc(1, sizeof *m);
    if (m && bs_import_hf(dir, m) == BS_OK) fuzz_exercise_model(m);
    bs_model_free(m);
    return 0;
}
