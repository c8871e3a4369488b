/* cmd_chat.c - `bitstack chat`: an interactive conversation over stdin.
 *
 * Each input line is a user message. The whole conversation is rendered
 * with the model's chat template every turn, and only the tokens past what
 * the KV cache already holds are evaluated. "/reset" starts over. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BS_MIN_I(a, b) ((a) < (b) ? (a) : (b))

typedef struct {
    bs_chat_message *msgs;
    int32_t n, cap;
    int32_t *cached;       /* token ids held by the KV cache, in order */
    int32_t n_cached, cap_cached;
    char *reply;           /* the assistant text being generated */
    size_t reply_len, reply_cap;
} conversation;

static int push_message(conversation *c, const char *role, const char *content) {
    if (c->n == c->cap) {
        int32_t cap = c->cap ? 2 * c->cap : 8;
        bs_chat_message *p = realloc(c->msgs, (size_t)cap * sizeof *p);
        if (!p) return 0;
        c->msgs = p;
        c->cap = cap;
    }
    char *copy = strdup(content);
    if (!copy) return 0;
    c->msgs[c->n].role = role;
    c->msgs[c->n].content = copy;
    c->n++;
    return 1;
}

static void on_token(void *ctx, int32_t id, const char *bytes, size_t len) {
    conversation *c = ctx;
    if (c->n_cached < c->cap_cached) c->cached[c->n_cached++] = id;
    if (c->reply_len + len + 1 > c->reply_cap) {
        size_t cap = (c->reply_len + len + 1) * 2;
        char *p = realloc(c->reply, cap);
        if (!p) return;
        c->reply = p;
        c->reply_cap = cap;
    }
    memcpy(c->reply + c->reply_len, bytes, len);
    c->reply_len += len;
    c->reply[c->reply_len] = '\0';
}

/* Renders the conversation and tokenizes it; *ids is malloc'd. */
static bs_status render_tokens(bs_model *m, conversation *c, int add_bos, int32_t **ids, int32_t *n) {
    size_t len = 0;
    bs_status st = bs_chat_render(m, c->msgs, c->n, 1, NULL, 0, &len);
    if (st != BS_ERR_RANGE && st != BS_OK) return st;
    char *text = malloc(len + 1);
    if (!text) return BS_ERR_NOMEM;
    st = bs_chat_render(m, c->msgs, c->n, 1, text, len + 1, &len);
    uint32_t flags = BS_TOKENIZE_SPECIAL | (add_bos ? BS_TOKENIZE_BOS : 0);
    int32_t cap = (int32_t)len + 2;
    *ids = malloc((size_t)cap * sizeof **ids);
    if (st == BS_OK) st = *ids ? bs_tokenize(m, text, len, flags, *ids, cap, n) : BS_ERR_NOMEM;
    free(text);
    return st;
}

/* One user turn: evaluates what the cache lacks, streams the reply. */
static int turn(bs_model *m, bs_session *s, bs_sampler *sm, conversation *c, int add_bos,
                int32_t steps, cli_gen_stats *gs) {
    int32_t *ids = NULL, n = 0;
    bs_status st = render_tokens(m, c, add_bos, &ids, &n);
    if (st != BS_OK) {
        free(ids);
        return cli_fail(st, "chat template");
    }
    if (n >= c->cap_cached) {
        free(ids);
        fprintf(stderr, "bitstack: the conversation fills the context; /reset to start over\n");
        return EXIT_FAIL;
    }
    /* Keep the longest prefix the cache already holds (KV entries depend
       only on earlier tokens); evaluate at least the last token. */
    int32_t same = 0, have = BS_MIN_I(c->n_cached, bs_session_pos(s));
    while (same < have && same < n - 1 && c->cached[same] == ids[same]) same++;
    bs_session_rewind(s, same);
    memcpy(c->cached, ids, (size_t)n * sizeof *ids);
    c->n_cached = n;
    c->reply_len = 0;
    if (c->reply) c->reply[0] = '\0';
    int r = cli_generate(m, s, sm, ids + same, n - same, steps, stdout, gs, on_token, c);
    printf("\n");
    fflush(stdout);
    free(ids);
    if (r == EXIT_OK && !push_message(c, "assistant", c->reply ? c->reply : "")) r = cli_fail(BS_ERR_NOMEM, "chat");
    return r;
}

int cmd_chat(int argc, char **argv) {
    const char *system = NULL;
    cli_gen_opts g = {NULL, NULL, 512, 0, 0, 1, 0.7f, 0.9f, 42, 0};
    const arg_opt opts[] = {
        {"system", ARG_STR, &system, "TEXT", "system prompt (default: the template's own)", 0, 0},
        CLI_GEN_OPTS(g, "most tokens per reply (default 512)", "0 = greedy (default 0.7)"),
    };
    const arg_spec spec = {
        "bitstack chat MODEL [options]",
        "Chats over stdin: each line is a user message; replies stream to stdout.\n"
        "The model needs a chat template (ChatML, Llama 2/3, Zephyr). /reset starts over.",
        opts, (int)(sizeof opts / sizeof opts[0]), 1, 1, NULL};
    char *pos[1];
    int n_pos, r = cli_args_exit(args_parse(&spec, argc, argv, pos, &n_pos));
    if (r >= 0) return r;
    bs_model *m = NULL;
    if ((r = cli_load_model(pos[0], g.tokenizer, g.budget, &m)) != EXIT_OK) return r;
    bs_model_info info;
    bs_model_get_info(m, &info);
    bs_session *s = NULL;
    bs_sampler *sm = NULL;
    conversation c = {0};
    char *line = NULL;
    size_t line_cap = 0;
    bs_status st;
    bs_chat_message probe = {"user", "hi"};
    size_t need = 0;
    if ((st = bs_chat_render(m, &probe, 1, 1, NULL, 0, &need)) != BS_ERR_RANGE) {
        r = cli_fail(st, "chat");
        goto done;
    }
    if ((r = cli_open_generation(m, &g, &s, &sm)) != EXIT_OK) goto done;
    c.cap_cached = g.ctx > 0 ? g.ctx : (info.seq_len < 2048 ? info.seq_len : 2048);
    c.cached = malloc((size_t)c.cap_cached * sizeof *c.cached);
    if (!c.cached || (system && !push_message(&c, "system", system))) {
        r = cli_fail(BS_ERR_NOMEM, "chat");
        goto done;
    }
    /* SentencePiece models expect BOS before the first turn */
    int add_bos = info.tokenizer_kind == BS_TOKENIZER_SPM;
    int tty = isatty(0);
    cli_gen_stats gs = {0};
    for (;;) {
        if (tty) fprintf(stderr, "> ");
        ssize_t got = getline(&line, &line_cap, stdin);
        if (got < 0) break;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = '\0';
        if (got == 0) continue;
        if (strcmp(line, "/reset") == 0) {
            for (int32_t i = 0; i < c.n; i++) free((char *)c.msgs[i].content);
            c.n = 0;
            if (system) push_message(&c, "system", system);
            continue;
        }
        if (!push_message(&c, "user", line)) {
            r = cli_fail(BS_ERR_NOMEM, "chat");
            break;
        }
        if ((r = turn(m, s, sm, &c, add_bos, g.steps, &gs)) != EXIT_OK) break;
    }
    if (r == EXIT_OK) cli_print_speed(&gs, m, s);
done:
    for (int32_t i = 0; i < c.n; i++) free((char *)c.msgs[i].content);
    free(c.msgs);
    free(c.cached);
    free(c.reply);
    free(line);
    bs_sampler_free(sm);
    bs_session_free(s);
    bs_model_free(m);
    return r;
}
