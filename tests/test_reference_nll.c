/* test_reference_nll.c - stories260K against the reference values of
 * ../shared/DATA.md: the per-token NLL over the first 12 stories of
 * tinystories_val_head.txt that start with "Once upon" (each encoded with
 * BOS, truncated to 512 tokens, every next token scored) is 1.0453 over
 * 934 tokens; and the three files of the model give the same logits. */
#include "bitstack.h"
#include "test.h"

#include <stdint.h>

static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) n = 0;
    fclose(f);
    if (buf) buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static bs_model *load(const char *file, int with_tokenizer) {
    bs_load_options o = {with_tokenizer ? test_path(BS_SHARED_DIR, "models/stories260K/tok512.bin") : NULL, 0, 0};
    bs_model *m = NULL;
    CHECK_OK(bs_model_load(test_path(BS_SHARED_DIR, file), &o, &m));
    return m;
}

/* Stories are separated by blank lines. */
static void test_story_nll(void) {
    bs_model *m = load("models/stories260K/stories260K.bin", 1);
    size_t len = 0;
    char *text = read_text(test_path(BS_SHARED_DIR, "corpora/tinystories/tinystories_val_head.txt"), &len);
    CHECK(text != NULL);
    if (!m || !text) return;
    bs_session *s = NULL;
    CHECK_OK(bs_session_create(m, &(bs_session_options){.ctx = 512}, &s));
    double total = 0.0;
    int64_t scored = 0;
    int stories = 0;
    int32_t *ids = malloc(sizeof(int32_t) * (len + 2));
    for (char *p = text; *p && stories < 12;) {
        char *end = strstr(p, "\n\n");
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n >= 9 && strncmp(p, "Once upon", 9) == 0) {
            int32_t k = 0;
            CHECK_OK(bs_tokenize(m, p, n, BS_TOKENIZE_BOS, ids, (int32_t)(len + 2), &k));
            if (k > 512) k = 512;
            double nll = 0.0;
            bs_session_reset(s);
            CHECK_OK(bs_session_eval_nll(s, ids, k, &nll));
            total += nll;
            scored += k - 1;
            stories++;
        }
        if (!end) break;
        p = end + 2;
        while (*p == '\n') p++;
    }
    CHECK_EQ_INT(stories, 12);
    CHECK_EQ_INT(scored, 934);
    double mean = total / (double)scored;
    fprintf(stderr, "reference protocol: %d stories, %lld tokens, mean NLL %.5f (reference 1.0453), ppl %.4f\n",
            stories, (long long)scored, mean, exp(mean));
    CHECK_NEAR(mean, 1.0453, 5e-4);
    free(ids);
    free(text);
    bs_session_free(s);
    bs_model_free(m);
}

/* The same weights through three formats give the same logits. */
static void test_formats_agree(void) {
    const char *files[3] = {"models/stories260K/stories260K.bin", "models/stories260K/stories260K_v1export.bin",
                            "models/stories260K/stories260K.gguf"};
    const int32_t toks[8] = {1, 403, 407, 261, 378, 275, 289, 300};
    float *ref = NULL;
    int32_t vocab = 512;
    for (int f = 0; f < 3; f++) {
        bs_model *m = load(files[f], 0);
        if (!m) continue;
        bs_session *s = NULL;
        CHECK_OK(bs_session_create(m, NULL, &s));
        float *all = malloc(sizeof(float) * 8 * (size_t)vocab);
        for (int t = 0; t < 8; t++) {
            const float *lg = NULL;
            CHECK_OK(bs_session_eval(s, &toks[t], 1, &lg));
            memcpy(all + (size_t)t * vocab, lg, sizeof(float) * (size_t)vocab);
        }
        if (!ref) {
            ref = all;
        } else {
            double worst = 0.0;
            for (size_t i = 0; i < 8 * (size_t)vocab; i++) {
                double d = fabs((double)all[i] - ref[i]) / fmax(1.0, fabs((double)ref[i]));
                if (d > worst) worst = d;
            }
            fprintf(stderr, "%s: worst relative logit difference %.3g\n", files[f], worst);
            CHECK(worst <= 1e-5);
            free(all);
        }
        bs_session_free(s);
        bs_model_free(m);
    }
    free(ref);
}

int main(void) {
    RUN(test_story_nll);
    RUN(test_formats_agree);
    return test_summary();
}
