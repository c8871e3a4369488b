/* cmd_inspect.c - `bitstack inspect`: what a .bstk holds: header,
   metadata, sizes per level and the stored perplexity curve. */
#include "bstk.h"
#include "cli.h"

#include <string.h>

/* Prints s as a JSON string. */
static void json_str(const char *s, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') printf("\\n");
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

/* One metadata value; arrays longer than `shown` print as their length. */
static void print_value(const bs_meta_kv *kv, int json, uint64_t shown) {
    if (kv->type == BS_META_STRING) {
        if (json) json_str((const char *)kv->val, (size_t)kv->count);
        else printf("%.*s", (int)BS_MIN(kv->count, 60), (const char *)kv->val), (void)(kv->count > 60 && printf("..."));
        return;
    }
    if (kv->type == BS_META_ARRAY) {
        if (kv->count > shown || kv->elem_type == BS_META_STRING) {
            if (json) printf("{\"array_length\": %llu}", (unsigned long long)kv->count);
            else printf("[%llu elements]", (unsigned long long)kv->count);
            return;
        }
        printf("[");
        for (uint64_t i = 0; i < kv->count; i++) {
            bs_meta_kv one = {kv->key, kv->key_len, kv->elem_type, 0, 1, NULL};
            uint8_t buf[8];
            bs_meta_array_at(kv, i, buf);
            one.val = buf;
            /* array_at wrote host order; re-encode little-endian is the same on LE hosts */
            if (i) printf(", ");
            print_value(&one, json, shown);
        }
        printf("]");
        return;
    }
    uint8_t b[8];
    memcpy(b, kv->val, 8 > bs_meta_type_size(kv->type) ? bs_meta_type_size(kv->type) : 8);
    uint32_t u32;
    uint64_t u64;
    float f;
    double d;
    memcpy(&u32, b, 4);
    switch (kv->type) {
    case BS_META_U32: printf("%u", u32); break;
    case BS_META_I32: printf("%d", (int32_t)u32); break;
    case BS_META_F32: memcpy(&f, b, 4), printf("%.6g", (double)f); break;
    case BS_META_U64: memcpy(&u64, b, 8), printf("%llu", (unsigned long long)u64); break;
    case BS_META_I64: memcpy(&u64, b, 8), printf("%lld", (long long)u64); break;
    case BS_META_F64: memcpy(&d, b, 8), printf("%.9g", d); break;
    }
}

static void print_levels(const bs_stack *s, int json) {
    uint32_t max_level = 0;
    for (uint32_t i = 0; i < s->h.n_entries; i++) max_level = BS_MAX(max_level, s->entries[i].level);
    int64_t cum = s->resident_bytes;
    printf(json ? "\"levels\": [" : "levels (blocks of the stack by level; level 0 is resident):\n");
    for (uint32_t lv = 0; lv <= max_level; lv++) {
        int64_t bytes = 0, n = 0;
        for (uint32_t i = 0; i < s->h.n_entries; i++)
            if (s->entries[i].level == lv) bytes += (int64_t)s->entries[i].size, n++;
        if (lv > 0) cum += bytes;
        double bpw = s->stacked_params ? 8.0 * (double)(cum - (s->resident_bytes - s->stacked_resident_bytes)) /
                                             (double)s->stacked_params
                                       : 0.0;
        if (json)
            printf("%s{\"level\": %u, \"entries\": %lld, \"bytes\": %lld, \"cumulative_bytes\": %lld, \"bpw\": %.4f}",
                   lv ? ", " : "", lv, (long long)n, (long long)bytes, (long long)(lv ? cum : s->resident_bytes), bpw);
        else
            printf("  level %2u: %5lld entries %12lld bytes  cumulative %12lld bytes  %.3f bits/weight\n", lv,
                   (long long)n, (long long)bytes, (long long)(lv ? cum : s->resident_bytes), bpw);
    }
    printf(json ? "]" : "");
}

static const char *const role_names[] = {"token_embd", "output", "output_norm", "attn_norm", "ffn_norm",
                                         "q", "k", "v", "o", "gate", "up", "down"};

/* The stacked tensors: JSON lists each one; text counts how their planes
   are stored (FORMAT.md 3). */
static void print_tensors(const bs_stack *s, int json) {
    uint32_t stacked = 0, rotated = 0, kept = 0, first = 1;
    if (json) printf("\"tensors\": [");
    for (uint32_t i = 0; i < s->h.n_tensors; i++) {
        const bstk_tensor *t = &s->tensors[i];
        if (t->kind != BS_LIN_AVD && t->kind != BS_LIN_PLANES) continue;
        stacked++, rotated += t->rotation != 0, kept += t->outliers != 0;
        if (json)
            printf("%s{\"role\": \"%s\", \"layer\": %u, \"kind\": \"%s\", \"rows\": %u, \"cols\": %u, \"levels\": %u, "
                   "\"rank\": %u, \"group\": %u, \"scale_code\": %u, \"outliers\": %u, \"rotation\": %u}",
                   first ? "" : ", ", t->role < 12 ? role_names[t->role] : "?", t->layer,
                   t->kind == BS_LIN_AVD ? "avd" : "planes", t->rows, t->cols, t->n_levels,
                   t->kind == BS_LIN_AVD ? t->rank : 0, t->group, bstk_scale_code(t), t->outliers, t->rotation);
        first = 0;
    }
    if (json) printf("]");
    else
        printf("stacked tensors: %u; %u with rotated inputs, %u with input channels kept apart\n", stacked, rotated,
               kept);
}

static void print_curve(const bs_meta *mt, int json) {
    const bs_meta_kv *blocks, *bytes, *ppl;
    int f1 = 0, f2 = 0, f3 = 0;
    bs_meta_get_array(mt, "curve.blocks", BS_META_U64, &blocks, &f1);
    bs_meta_get_array(mt, "curve.bytes", BS_META_U64, &bytes, &f2);
    bs_meta_get_array(mt, "curve.ppl", BS_META_F32, &ppl, &f3);
    if (!f1 || !f2 || !f3 || blocks->count != bytes->count || blocks->count != ppl->count) {
        printf(json ? "\"curve\": []" : "curve: none stored\n");
        return;
    }
    printf(json ? "\"curve\": [" : "stored perplexity curve:\n");
    for (uint64_t i = 0; i < blocks->count; i++) {
        uint64_t b, y;
        float p;
        bs_meta_array_at(blocks, i, &b);
        bs_meta_array_at(bytes, i, &y);
        bs_meta_array_at(ppl, i, &p);
        if (json)
            printf("%s{\"blocks\": %llu, \"bytes\": %llu, \"ppl\": %.5f}", i ? ", " : "", (unsigned long long)b,
                   (unsigned long long)y, (double)p);
        else
            printf("  %6llu blocks %12llu bytes  ppl %.4f\n", (unsigned long long)b, (unsigned long long)y, (double)p);
    }
    printf(json ? "]" : "");
}

int cmd_inspect(int argc, char **argv) {
    int json = 0;
    const arg_opt opts[] = {{"json", ARG_FLAG, &json, NULL, "print one JSON object on stdout", 0, 0}};
    const arg_spec spec = {"bitstack inspect FILE.bstk [--json]",
                           "Shows the header, metadata, sizes per level and the stored perplexity curve of a .bstk.",
                           opts, 1, 1, 1, NULL};
    char *pos[1];
    int n_pos, r = cli_args_exit(args_parse(&spec, argc, argv, pos, &n_pos));
    if (r >= 0) return r;
    bs_load_options o = {NULL, 0, 1};
    bs_model *m = NULL;
    bs_status st = bs_model_load(pos[0], &o, &m);
    if (st != BS_OK) return cli_fail(st, "cannot read the file");
    const bs_stack *s = m->stack;
    if (!s) {
        bs_model_free(m);
        fprintf(stderr, "bitstack: %s is not a .bstk file\n", pos[0]);
        return EXIT_FAIL;
    }
    bs_stack_info si;
    bs_model_stack_info(m, &si);
    if (json) {
        printf("{\"version\": \"%u.%u\", \"file_size\": %llu, \"n_tensors\": %u, \"n_entries\": %u, "
               "\"n_resident\": %u, \"resident_bytes\": %lld, \"full_bytes\": %lld, \"n_blocks\": %d, "
               "\"stacked_params\": %lld, \"metadata\": {",
               s->h.version_major, s->h.version_minor, (unsigned long long)s->h.file_size, s->h.n_tensors,
               s->h.n_entries, s->h.n_resident, (long long)si.resident_bytes, (long long)si.full_bytes, si.n_blocks,
               (long long)si.stacked_params);
        for (uint32_t i = 0; i < s->meta.n; i++) {
            printf("%s", i ? ", " : "");
            json_str(s->meta.kv[i].key, s->meta.kv[i].key_len);
            printf(": ");
            print_value(&s->meta.kv[i], 1, 256);
        }
        printf("}, ");
        print_tensors(s, 1);
        printf(", ");
        print_levels(s, 1);
        printf(", ");
        print_curve(&s->meta, 1);
        printf("}\n");
    } else {
        char a[32], b[32];
        printf("%s: .bstk %u.%u, %llu bytes, %u tensors, %u index entries (%u resident)\n", pos[0],
               s->h.version_major, s->h.version_minor, (unsigned long long)s->h.file_size, s->h.n_tensors,
               s->h.n_entries, s->h.n_resident);
        printf("resident %s; full stack %s in %d blocks; %lld compressed weights\n",
               cli_bytes(si.resident_bytes, a, sizeof a), cli_bytes(si.full_bytes, b, sizeof b), si.n_blocks,
               (long long)si.stacked_params);
        printf("metadata:\n");
        for (uint32_t i = 0; i < s->meta.n; i++) {
            printf("  %-28.*s ", (int)s->meta.kv[i].key_len, s->meta.kv[i].key);
            print_value(&s->meta.kv[i], 0, 8);
            printf("\n");
        }
        print_tensors(s, 0);
        print_levels(s, 0);
        print_curve(&s->meta, 0);
    }
    bs_model_free(m);
    return EXIT_OK;
}
