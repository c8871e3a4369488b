/* tok_merge.c - the BPE merge loop both tokenizer kinds share: a linked
 * list of symbols and a binary heap of candidate pairs (see tok_internal.h
 * for the two priority modes). O(n log n) in the number of symbols, so a
 * multi-megabyte text with no pre-tokenization (SentencePiece) is fine. */
#include "tok_internal.h"

#include <stdlib.h>
#include <string.h>

bs_status bs_tok_ws_reserve(bs_tok_ws *ws, size_t n_sym, size_t n_buf) {
    if (n_sym > ws->sym_cap) {
        size_t cap = ws->sym_cap ? ws->sym_cap : 64;
        while (cap < n_sym) cap *= 2;
        bs_tok_sym *p = bs_malloc(cap, sizeof *p);
        if (!p) return BS_ERR_NOMEM;
        free(ws->sym);
        ws->sym = p;
        ws->sym_cap = cap;
    }
    if (n_buf > ws->buf_cap) {
        size_t cap = ws->buf_cap ? ws->buf_cap : 256;
        while (cap < n_buf) cap *= 2;
        char *p = bs_malloc(cap, 1);
        if (!p) return BS_ERR_NOMEM;
        free(ws->buf);
        ws->buf = p;
        ws->buf_cap = cap;
    }
    return BS_OK;
}

void bs_tok_ws_free(bs_tok_ws *ws) {
    free(ws->sym);
    free(ws->heap);
    free(ws->buf);
    memset(ws, 0, sizeof *ws);
}

/* a goes before b: lower key, then the leftmost pair. */
static int pair_before(const bs_tok_pair *a, const bs_tok_pair *b) {
    return a->key < b->key || (a->key == b->key && a->left < b->left);
}

static bs_status heap_push(bs_tok_ws *ws, const bs_tok_pair *p) {
    if (ws->heap_n == ws->heap_cap) {
        size_t cap = ws->heap_cap ? ws->heap_cap * 2 : 64;
        bs_tok_pair *h = bs_malloc(cap, sizeof *h);
        if (!h) return BS_ERR_NOMEM;
        if (ws->heap_n) memcpy(h, ws->heap, ws->heap_n * sizeof *h);
        free(ws->heap);
        ws->heap = h;
        ws->heap_cap = cap;
    }
    size_t i = ws->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pair_before(p, &ws->heap[parent])) break;
        ws->heap[i] = ws->heap[parent];
        i = parent;
    }
    ws->heap[i] = *p;
    return BS_OK;
}

static bs_tok_pair heap_pop(bs_tok_ws *ws) {
    bs_tok_pair top = ws->heap[0];
    bs_tok_pair last = ws->heap[--ws->heap_n];
    size_t n = ws->heap_n, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && pair_before(&ws->heap[c + 1], &ws->heap[c])) c++;
        if (!pair_before(&ws->heap[c], &last)) break;
        ws->heap[i] = ws->heap[c];
        i = c;
    }
    if (n) ws->heap[i] = last;
    return top;
}

/* Queues the pair (l, r) if it may merge. */
static bs_status try_pair(const bs_tokenizer *t, bs_tok_ws *ws, const char *text,
                          int32_t l, int32_t r, int by_rank) {
    if (l < 0 || r < 0) return BS_OK;
    const bs_tok_sym *a = &ws->sym[l], *b = &ws->sym[r];
    bs_tok_pair p;
    if (by_rank) {
        if (a->id < 0 || b->id < 0) return BS_OK;
        uint64_t key = (uint64_t)(uint32_t)a->id << 32 | (uint32_t)b->id;
        size_t i = (size_t)bs_tok_hash_pair(key) & t->mhash_mask;
        while (t->mhash[i].key != key) {
            if (t->mhash[i].key == UINT64_MAX) return BS_OK;
            i = (i + 1) & t->mhash_mask;
        }
        p.key = (double)t->mhash[i].rank;
        p.id = t->mhash[i].result;
    } else {
        int32_t id = bs_tok_lookup(t, text + a->start, (size_t)a->len + b->len);
        if (id < 0 || !bs_tok_mergeable(t->tok[id].type)) return BS_OK;
        p.key = -(double)t->tok[id].score;
        p.id = id;
    }
    p.left = l;
    p.right = r;
    p.len = a->len + b->len;
    return heap_push(ws, &p);
}

bs_status bs_tok_merge(const bs_tokenizer *t, bs_tok_ws *ws, const char *text, int32_t n,
                       int by_rank) {
    bs_tok_sym *sym = ws->sym;
    ws->heap_n = 0;
    if (by_rank && !t->mhash) return BS_OK;
    for (int32_t i = 0; i + 1 < n; i++) BS_TRY(try_pair(t, ws, text, i, i + 1, by_rank));
    while (ws->heap_n > 0) {
        bs_tok_pair p = heap_pop(ws);
        bs_tok_sym *a = &sym[p.left], *b = &sym[p.right];
        /* Stale entry: one side was merged away, or grew (a symbol only
           grows by absorbing its right neighbour, so equal total length
           means the same two symbols). */
        if (a->len == 0 || b->len == 0 || a->len + b->len != p.len) continue;
        a->len += b->len;
        a->id = p.id;
        a->next = b->next;
        if (b->next >= 0) sym[b->next].prev = p.left;
        b->len = 0;
        BS_TRY(try_pair(t, ws, text, a->prev, p.left, by_rank));
        BS_TRY(try_pair(t, ws, text, p.left, a->next, by_rank));
    }
    return BS_OK;
}
