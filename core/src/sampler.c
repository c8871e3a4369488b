/* sampler.c - greedy, temperature, top-k and top-p sampling.
 *
 * The sampler owns its RNG (xorshift64*) and its scratch, so a seed fully
 * determines a run, on every platform: ties are broken by token id and the
 * softmax uses the portable bs_expf. */
#include "internal.h"
#include "mathfn.h"

#include <stdlib.h>

typedef struct {
    float p;
    int32_t id;
} prob_index;

struct bs_sampler {
    bs_sampler_params params;
    int32_t vocab;
    uint64_t rng;
    prob_index *cand; /* (vocab) */
};

bs_sampler_params bs_sampler_default_params(void) {
    bs_sampler_params p = {1.0f, 0, 0.9f, 42};
    return p;
}

bs_status bs_sampler_create(const bs_sampler_params *params, int32_t vocab, bs_sampler **out) {
    if (!params || !out || vocab <= 0)
        return bs_fail(BS_ERR_INVALID_ARG, "sampler: bad arguments");
    *out = NULL;
    if (!(params->temperature >= 0.0f && params->temperature <= 100.0f))
        return bs_fail(BS_ERR_INVALID_ARG, "sampler: temperature %g out of [0, 100]",
                       (double)params->temperature);
    if (!(params->top_p > 0.0f && params->top_p <= 1.0f))
        return bs_fail(BS_ERR_INVALID_ARG, "sampler: top_p %g out of (0, 1]", (double)params->top_p);
    if (params->top_k < 0)
        return bs_fail(BS_ERR_INVALID_ARG, "sampler: top_k %d is negative", params->top_k);
    bs_sampler *s = bs_calloc(1, sizeof *s);
    if (!s) return BS_ERR_NOMEM;
    s->cand = bs_malloc((size_t)vocab, sizeof *s->cand);
    if (!s->cand) {
        free(s);
        return BS_ERR_NOMEM;
    }
    s->params = *params;
    s->vocab = vocab;
    s->rng = params->seed ? params->seed : 0x9E3779B97F4A7C15ull; /* xorshift needs != 0 */
    *out = s;
    return BS_OK;
}

void bs_sampler_free(bs_sampler *s) {
    if (!s) return;
    free(s->cand);
    free(s);
}

static uint32_t next_u32(bs_sampler *s) {
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return (uint32_t)((s->rng * 0x2545F4914F6CDD1Dull) >> 32);
}

/* uniform in [0, 1) */
static float next_f32(bs_sampler *s) { return (float)(next_u32(s) >> 8) / 16777216.0f; }

static int32_t argmax(const float *x, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* descending probability, then ascending id: a total order */
static int cmp_desc(const void *a, const void *b) {
    const prob_index *x = a, *y = b;
    if (x->p != y->p) return x->p > y->p ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

int32_t bs_sampler_sample(bs_sampler *s, const float *logits) {
    const bs_sampler_params *pp = &s->params;
    if (pp->temperature == 0.0f || pp->top_k == 1) return argmax(logits, s->vocab);
    float mx = logits[argmax(logits, s->vocab)], inv_t = 1.0f / pp->temperature, sum = 0.0f;
    for (int32_t i = 0; i < s->vocab; i++) {
        float p = bs_expf((logits[i] - mx) * inv_t);
        s->cand[i].p = p;
        s->cand[i].id = i;
        sum += p;
    }
    int32_t n = s->vocab;
    int sorted = 0;
    if (pp->top_k > 0 && pp->top_k < n) {
        qsort(s->cand, (size_t)n, sizeof *s->cand, cmp_desc);
        sorted = 1;
        n = pp->top_k;
        sum = 0.0f;
        for (int32_t i = 0; i < n; i++) sum += s->cand[i].p;
    }
    if (pp->top_p < 1.0f) {
        if (!sorted) qsort(s->cand, (size_t)n, sizeof *s->cand, cmp_desc);
        float cum = 0.0f, limit = pp->top_p * sum;
        int32_t keep = n;
        for (int32_t i = 0; i < n; i++) {
            cum += s->cand[i].p;
            if (cum >= limit) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
        sum = cum;
    }
    float r = next_f32(s) * sum, cdf = 0.0f;
    for (int32_t i = 0; i < n; i++) {
        cdf += s->cand[i].p;
        if (r < cdf) return s->cand[i].id;
    }
    return s->cand[n - 1].id; /* rounding: r landed at the very top */
}
