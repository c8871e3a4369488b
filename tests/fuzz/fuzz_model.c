/* fuzz_model.c - see fuzz_model.h. */
#include "fuzz_model.h"

#include <string.h>
#include <stdio.h>
#include <stdlib.h>

/* Above this many parameters a forward pass would slow fuzzing down more
   than it finds; the parsers are what is fuzzed. */
#define FUZZ_MAX_EVAL_PARAMS (2 * 1000 * 1000)

static void exercise_tokenizer(const bs_model *m, const bs_model_info *info) {
    static const char text[] = "Once upon a time, <s> \xe2\x96\x81 caf\xc3\xa9 42\n";
    int32_t ids[128], n = 0;
    if (bs_tokenize(m, text, sizeof text - 1, BS_TOKENIZE_BOS | BS_TOKENIZE_SPECIAL, ids, 128, &n) != BS_OK)
        return;
    char buf[256];
    size_t len;
    for (int32_t i = 0; i < n; i++) bs_detokenize(m, i ? ids[i - 1] : -1, ids[i], buf, sizeof buf, &len);
    /* the ends of the vocabulary and one past them */
    int32_t edge[] = {0, 1, info->vocab_size - 1, info->vocab_size, -1};
    for (int i = 0; i < 5; i++) bs_detokenize(m, -1, edge[i], buf, sizeof buf, &len);
    bs_token_is_eog(m, info->eos_id);
    bs_token_find(m, "<|im_end|>");
}

static void exercise_chat(const bs_model *m) {
    bs_chat_message msgs[] = {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "?"}};
    char buf[512];
    size_t len = 0;
    bs_chat_render(m, msgs, 4, 1, buf, sizeof buf, &len);
    bs_chat_render(m, msgs, 4, 1, NULL, 0, &len); /* measuring */
}

static void exercise_eval(const bs_model *m, const bs_model_info *info) {
    if (info->n_params > FUZZ_MAX_EVAL_PARAMS) return;
    bs_session_options so = {.ctx = 4, .max_batch = 2, .n_threads = 1};
    bs_session *s = NULL;
    if (bs_session_create(m, &so, &s) != BS_OK) return;
    int32_t toks[2] = {info->bos_id >= 0 ? info->bos_id : 0, info->vocab_size - 1};
    const float *logits = NULL;
    bs_session_eval(s, toks, 2, &logits);
    bs_sampler *sp = NULL;
    bs_sampler_params p = bs_sampler_default_params();
    if (logits && bs_sampler_create(&p, info->vocab_size, &sp) == BS_OK) bs_sampler_sample(sp, logits);
    bs_sampler_free(sp);
    bs_session_free(s);
}

void fuzz_exercise_model(bs_model *m) {
    if (getenv("FUZZ_DEBUG")) fprintf(stderr, "loaded\n");
    bs_model_info info;
    if (bs_model_get_info(m, &info) != BS_OK) return;
    bs_stack_info si;
    bs_model_stack_info(m, &si);
    exercise_tokenizer(m, &info);
    exercise_chat(m);
    exercise_eval(m, &info);
}
