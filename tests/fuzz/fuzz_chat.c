/* fuzz_chat.c - the chat-template renderer (bs_chat_render): an arbitrary
 * template source and conversation.
 *
 * Input: the template, then messages as role and content parts, all
 * separated by FUZZ_SEP (at most 8 messages); the first byte of the
 * template part picks add_generation_prompt. Checked: the measured size
 * equals the rendered size, and the output is NUL-terminated. */
#include "fuzz.h"

#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARTS 17

static char *dup_part(const uint8_t *p, size_t n) {
    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, p, n);
    s[n] = '\0'; /* parts may hold NULs: the renderer sees C strings */
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const uint8_t *part[MAX_PARTS];
    size_t len[MAX_PARTS];
    int n = fuzz_split(data + 1, size - 1, part, len, MAX_PARTS);
    bs_model m;
    memset(&m, 0, sizeof m);
    m.chat_template = dup_part(part[0], len[0]);
    int32_t n_msgs = (n - 1) / 2;
    bs_chat_message msgs[MAX_PARTS / 2] = {{0}};
    for (int32_t i = 0; i < n_msgs; i++) {
        msgs[i].role = dup_part(part[1 + 2 * i], len[1 + 2 * i]);
        msgs[i].content = dup_part(part[2 + 2 * i], len[2 + 2 * i]);
    }
    int gen = data[0] & 1;
    size_t need = 0;
    bs_status st = bs_chat_render(&m, msgs, n_msgs, gen, NULL, 0, &need);
    if (st == BS_ERR_RANGE) {
        char *buf = malloc(need + 1);
        size_t got = 0;
        if (!buf || bs_chat_render(&m, msgs, n_msgs, gen, buf, need + 1, &got) != BS_OK || got != need ||
            buf[got] != '\0') {
            fprintf(stderr, "fuzz_chat: measured %zu bytes, rendered %zu\n", need, got);
            abort();
        }
        free(buf);
        char small[8];
        bs_chat_render(&m, msgs, n_msgs, gen, small, sizeof small, &got); /* truncated: BS_ERR_RANGE */
    }
    for (int32_t i = 0; i < n_msgs; i++) {
        free((char *)msgs[i].role);
        free((char *)msgs[i].content);
    }
    free(m.chat_template);
    return 0;
}
