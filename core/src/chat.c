/* chat.c - rendering conversations in the chat formats of common template
 * families. A full Jinja interpreter does not belong in the C core; the
 * families below cover the models this project targets, and the template
 * source decides which one applies. */
#include "model.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef enum { FAM_CHATML, FAM_LLAMA3, FAM_LLAMA2, FAM_ZEPHYR, FAM_UNKNOWN } family;

static family detect(const char *tpl) {
    if (strstr(tpl, "<|im_start|>")) return FAM_CHATML;
    if (strstr(tpl, "<|start_header_id|>")) return FAM_LLAMA3;
    if (strstr(tpl, "[INST]")) return FAM_LLAMA2;
    if (strstr(tpl, "<|user|>")) return FAM_ZEPHYR;
    return FAM_UNKNOWN;
}

/* Output buffer that counts what it could not hold. */
typedef struct {
    char *buf;
    size_t cap, len;
} out_buf;

static void put(out_buf *o, const char *s, size_t n) {
    if (o->len < o->cap) {
        size_t room = o->cap - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static void puts_(out_buf *o, const char *s) { put(o, s, strlen(s)); }

/* The default system prompt a ChatML template inserts when the first
   message is not a system message: the literal text between
   "<|im_start|>system\n" and "<|im_end|>" when it holds no Jinja. */
static size_t default_system(const char *tpl, const char **start) {
    const char *tag = "<|im_start|>system\n";
    const char *p = strstr(tpl, tag);
    if (!p) return 0;
    p += strlen(tag);
    const char *end = strstr(p, "<|im_end|>");
    if (!end) return 0;
    for (const char *q = p; q < end; q++)
        if (*q == '{' || *q == '}' || *q == '\'' || *q == '"') return 0;
    *start = p;
    return (size_t)(end - p);
}

static void render_chatml(out_buf *o, const char *tpl, const bs_chat_message *msgs, int32_t n, int gen) {
    const char *sys = NULL;
    size_t sys_len = default_system(tpl, &sys);
    if (sys_len && (n == 0 || strcmp(msgs[0].role, "system") != 0)) {
        puts_(o, "<|im_start|>system\n");
        put(o, sys, sys_len);
        puts_(o, "<|im_end|>\n");
    }
    for (int32_t i = 0; i < n; i++) {
        puts_(o, "<|im_start|>");
        puts_(o, msgs[i].role);
        puts_(o, "\n");
        puts_(o, msgs[i].content);
        puts_(o, "<|im_end|>\n");
    }
    if (gen) puts_(o, "<|im_start|>assistant\n");
}

static void render_llama3(out_buf *o, const bs_chat_message *msgs, int32_t n, int gen) {
    puts_(o, "<|begin_of_text|>");
    for (int32_t i = 0; i < n; i++) {
        puts_(o, "<|start_header_id|>");
        puts_(o, msgs[i].role);
        puts_(o, "<|end_header_id|>\n\n");
        puts_(o, msgs[i].content);
        puts_(o, "<|eot_id|>");
    }
    if (gen) puts_(o, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

/* Llama 2: the system prompt sits inside the first [INST] block. BOS is
   left to the tokenizer (BS_TOKENIZE_BOS) for the first turn. */
static void render_llama2(out_buf *o, const bs_chat_message *msgs, int32_t n) {
    const char *sys = NULL;
    int32_t i = 0;
    if (n > 0 && strcmp(msgs[0].role, "system") == 0) sys = msgs[i++].content;
    for (int first = 1; i < n; i++) {
        if (strcmp(msgs[i].role, "user") == 0) {
            if (!first) puts_(o, "<s>");
            puts_(o, "[INST] ");
            if (sys && first) {
                puts_(o, "<<SYS>>\n");
                puts_(o, sys);
                puts_(o, "\n<</SYS>>\n\n");
            }
            puts_(o, msgs[i].content);
            puts_(o, " [/INST]");
            first = 0;
        } else if (strcmp(msgs[i].role, "assistant") == 0) {
            puts_(o, " ");
            puts_(o, msgs[i].content);
            puts_(o, " </s>");
        }
    }
}

static void render_zephyr(out_buf *o, const bs_chat_message *msgs, int32_t n, int gen) {
    for (int32_t i = 0; i < n; i++) {
        puts_(o, "<|");
        puts_(o, msgs[i].role);
        puts_(o, "|>\n");
        puts_(o, msgs[i].content);
        puts_(o, "</s>\n");
    }
    if (gen) puts_(o, "<|assistant|>\n");
}

bs_status bs_chat_render(const bs_model *m, const bs_chat_message *msgs, int32_t n, int gen,
                         char *buf, size_t cap, size_t *len) {
    if (!m || (n > 0 && !msgs) || n < 0 || (!buf && cap) || !len)
        return bs_fail(BS_ERR_INVALID_ARG, "chat: bad arguments");
    for (int32_t i = 0; i < n; i++)
        if (!msgs[i].role || !msgs[i].content)
            return bs_fail(BS_ERR_INVALID_ARG, "chat: message %d has no role or content", i);
    if (!m->chat_template)
        return bs_fail(BS_ERR_UNSUPPORTED, "the model has no chat template");
    out_buf o = {buf, cap, 0};
    switch (detect(m->chat_template)) {
    case FAM_CHATML: render_chatml(&o, m->chat_template, msgs, n, gen); break;
    case FAM_LLAMA3: render_llama3(&o, msgs, n, gen); break;
    case FAM_LLAMA2: render_llama2(&o, msgs, n); break;
    case FAM_ZEPHYR: render_zephyr(&o, msgs, n, gen); break;
    default:
        return bs_fail(BS_ERR_UNSUPPORTED,
                       "chat template not recognised (ChatML, Llama 2/3 and Zephyr families are)");
    }
    *len = o.len;
    if (o.len + 1 > cap) return bs_fail(BS_ERR_RANGE, "chat: %zu bytes needed", o.len + 1);
    buf[o.len] = '\0';
    return BS_OK;
}
