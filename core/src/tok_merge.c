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
    free(ws->tmp);
    free(ws->cache);
    free(ws->cbytes);
    free(ws->cids);
    memset(ws, 0, sizeof *ws);
}

/* ---- word cache ---- */

/* Longer words are rare and would only fill the cache. */
#define CACHE_MAX_WORD 64
#define CACHE_MAX_ENTRIES (1u << 16)

static uint64_t word_hash(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 31);
}

static bs_tok_centry *cache_find(bs_tok_ws *ws, uint64_t h, const char *w, size_t n) {
    for (size_t i = (size_t)h & ws->cache_mask;; i = (i + 1) & ws->cache_mask) {
        bs_tok_centry *e = &ws->cache[i];
        if (e->len == 0 || (e->hash == h && e->len == n && memcmp(ws->cbytes + e->off, w, n) == 0))
            return e;
    }
}

/* Appends n elements of size sz to a growing pool. */
static int pool_add(void **pool, size_t *len, size_t *cap, const void *src, size_t n, size_t sz) {
    if (n == 0) return 1;
    if (*len + n > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *len + n) c *= 2;
        void *p = realloc(*pool, c * sz);
        if (!p) return 0;
        *pool = p;
        *cap = c;
    }
    memcpy((char *)*pool + *len * sz, src, n * sz);
    *len += n;
    return 1;
}

/* Remembers a word; silently does nothing when out of room or memory (the
   cache only saves time). */
static void cache_put(bs_tok_ws *ws, uint64_t h, const char *w, size_t n, const int32_t *ids,
                      size_t k) {
    if (ws->cache_n >= CACHE_MAX_ENTRIES || ws->cbytes_len > UINT32_MAX / 2 ||
        ws->cids_len > UINT32_MAX / 2)
        return;
    if (2 * (ws->cache_n + 1) > ws->cache_mask + 1 || !ws->cache) {
        size_t size = ws->cache ? 2 * (ws->cache_mask + 1) : 1024;
        bs_tok_centry *old = ws->cache;
        size_t old_size = old ? ws->cache_mask + 1 : 0;
        bs_tok_centry *c = calloc(size, sizeof *c);
        if (!c) return;
        ws->cache = c;
        ws->cache_mask = size - 1;
        for (size_t i = 0; i < old_size; i++) {
            if (old[i].len == 0) continue;
            size_t j = (size_t)old[i].hash & ws->cache_mask;
            while (c[j].len) j = (j + 1) & ws->cache_mask;
            c[j] = old[i];
        }
        free(old);
    }
    bs_tok_centry *e = cache_find(ws, h, w, n);
    bs_tok_centry v = {h, (uint32_t)ws->cbytes_len, (uint32_t)ws->cids_len, (uint16_t)n, (uint16_t)k};
    if (!pool_add((void **)&ws->cbytes, &ws->cbytes_len, &ws->cbytes_cap, w, n, 1)) return;
    if (!pool_add((void **)&ws->cids, &ws->cids_len, &ws->cids_cap, ids, k, sizeof *ids)) return;
    *e = v;
    ws->cache_n++;
}

bs_status bs_tok_encode_cached(const bs_tokenizer *t, bs_tok_ws *ws, const char *w, size_t n,
                               bs_tok_word_fn fn, bs_tok_out *out) {
    if (n > CACHE_MAX_WORD) return fn(t, ws, w, n, out);
    uint64_t h = word_hash(w, n);
    if (ws->cache) {
        const bs_tok_centry *e = cache_find(ws, h, w, n);
        if (e->len) {
            for (uint32_t i = 0; i < e->n_ids; i++) bs_tok_emit(out, ws->cids[e->ids_off + i]);
            return BS_OK;
        }
    }
    if (!ws->tmp) {
        ws->tmp = bs_malloc(CACHE_MAX_WORD, sizeof *ws->tmp);
        if (!ws->tmp) return BS_ERR_NOMEM;
        ws->tmp_cap = CACHE_MAX_WORD;
    }
    bs_tok_out tmp = {ws->tmp, (int64_t)ws->tmp_cap, 0};
    BS_TRY(fn(t, ws, w, n, &tmp));
    if (tmp.n > tmp.cap) return fn(t, ws, w, n, out); /* fn broke its bound */
    for (int64_t i = 0; i < tmp.n; i++) bs_tok_emit(out, tmp.ids[i]);
    cache_put(ws, h, w, n, tmp.ids, (size_t)tmp.n);
    return BS_OK;
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
